/**
 * What every peer of bench/worker-throughput.ts sends: the same webhook the dispatch-worker sends —
 * body `{type, timestamp, data}`, signed with the library's Standard Webhooks code
 * (edge-functions/src/transports/webhook/signature.ts, WebCrypto in Node too), `webhook-id` the job's
 * key — POSTed to the sink with a 10 s timeout. Also the peers' environment and their one line of
 * JSON output.
 *
 * Input (env): PEER_DB_URL, PEER_SINK_URL, PEER_SECRET, PEER_N, PEER_CONCURRENCY.
 * Output: `{"addMs":…,"elapsedMs":…,"sent":…,"recorded":…,"failed":…,"cpuMs":…}` on stdout.
 */
import { webhookHeaders } from '../../edge-functions/src/transports/webhook/signature.ts';

export const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

export const peerEnv = () => ({
  dbUrl: env('PEER_DB_URL'),
  sinkUrl: env('PEER_SINK_URL'),
  secret: env('PEER_SECRET'),
  n: Number(env('PEER_N')),
  concurrency: Number(env('PEER_CONCURRENCY')),
});

export interface WebhookJob {
  key: string;
  url: string;
  type: string;
  timestamp: string;
  data: unknown;
}

/** Job `i` of a run (`prefix` keeps the peers' keys apart). */
export function jobOf(prefix: string, sinkUrl: string, i: number, timestamp: string): WebhookJob {
  return {
    key: `${prefix}-${i}`,
    url: `${sinkUrl}/${prefix}`,
    type: 'bench.ping',
    timestamp,
    data: { n: String(i), label: `ping ${i}` },
  };
}

export interface PostOutcome {
  status: 'sent' | 'retry';
  httpStatus: number | null;
  error: string | null;
}

/** The webhook, signed and POSTed with a timeout: the outcome to record. */
export async function signedPost(secret: string, job: WebhookJob, agent: string): Promise<PostOutcome> {
  const body = JSON.stringify({ type: job.type, timestamp: job.timestamp, data: job.data });
  const headers = await webhookHeaders(secret, job.key, Math.floor(Date.now() / 1000), body);
  try {
    const res = await fetch(job.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
      headers: { 'content-type': 'application/json', 'user-agent': agent, ...headers },
      body,
    });
    await res.text();
    return {
      status: res.ok ? 'sent' : 'retry',
      httpStatus: res.status,
      error: res.ok ? null : `HTTP ${res.status}`,
    };
  } catch (e) {
    return { status: 'retry', httpStatus: null, error: (e as Error).message };
  }
}

/** ms of CPU this process used since `from`. */
export const cpuMsSince = (from: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1000;
};

/** The table each queue peer's job records its outcome in, made empty. */
export const OUTCOMES_DDL = (table: string) => `create schema if not exists bench_peer;
  create table if not exists bench_peer.${table} (key text primary key, status text not null,
    http_status integer, error text, duration_ms integer not null, at timestamptz not null default now());
  truncate bench_peer.${table}`;

/** The job's outcome, as the job records it (an upsert: a retried job overwrites its row). */
export const RECORD_OUTCOME = (table: string) =>
  `insert into bench_peer.${table} (key, status, http_status, error, duration_ms) values ($1, $2, $3, $4, $5)
   on conflict (key) do update set status = excluded.status, http_status = excluded.http_status,
     error = excluded.error, duration_ms = excluded.duration_ms, at = now()`;

export function printResult(result: {
  addMs: number;
  elapsedMs: number;
  sent: number;
  recorded: number;
  failed: number;
  cpuMs: number;
}): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
