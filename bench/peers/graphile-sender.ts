/**
 * The graphile-worker peer of bench/worker-throughput.ts, in a process of its own (as the Deno
 * worker is): N jobs, each the same webhook the dispatch-worker sends — body `{type, timestamp,
 * data}`, signed with the library's Standard Webhooks code (edge-functions/src/transports/webhook/
 * signature.ts, WebCrypto in Node too), `webhook-id` the job's key — POSTed to the sink with a
 * timeout, and its outcome recorded in a table of its own (bench_peer.outcomes) by the job.
 *
 * Input (env): PEER_DB_URL, PEER_SINK_URL, PEER_SECRET, PEER_N, PEER_CONCURRENCY.
 * PEER_MODE=direct: the same signed POSTs with no queue and no database (the sink's ceiling).
 * Output: one line of JSON on stdout: `{"addMs":…,"elapsedMs":…,"sent":…,"failed":…,"cpuMs":…}`; elapsed is
 * from starting the runner (jobs already queued, migrations done) to the N-th outcome committed.
 */
import { performance } from 'node:perf_hooks';
import {
  Logger as GraphileLogger,
  type Logger,
  makeWorkerUtils,
  run,
  runMigrations,
  type Task,
} from 'graphile-worker';
import pg from 'pg';
import { webhookHeaders } from '../../edge-functions/src/transports/webhook/signature.ts';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const dbUrl = env('PEER_DB_URL');
const sinkUrl = env('PEER_SINK_URL');
const secret = env('PEER_SECRET');
const n = Number(env('PEER_N'));
const concurrency = Number(env('PEER_CONCURRENCY'));

interface WebhookJob {
  key: string;
  url: string;
  type: string;
  timestamp: string;
  data: unknown;
}

function jobOf(i: number, timestamp: string): WebhookJob {
  return {
    key: `graphile-${i}`,
    url: `${sinkUrl}/graphile`,
    type: 'bench.ping',
    timestamp,
    data: { n: String(i), label: `ping ${i}` },
  };
}

/** ms of CPU this process used since `from`. */
const cpuMsSince = (from: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1000;
};

if (process.env.PEER_MODE === 'direct') {
  // the sink's ceiling: the same signed POSTs, `concurrency` at a time, no queue and no database
  const cpu = process.cpuUsage();
  const started = performance.now();
  const timestamp = new Date().toISOString();
  let next = 0;
  let sent = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        if ((await signedPost(jobOf(next++, timestamp))).status === 'sent') sent++;
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  process.stdout.write(
    `${JSON.stringify({ addMs: 0, elapsedMs, sent, recorded: sent, failed: n - sent, cpuMs: cpuMsSince(cpu) })}\n`,
  );
  process.exit(0);
}

const quiet: Logger = new GraphileLogger(() => (level, message) => {
  if (level === 'error') process.stderr.write(`[graphile-worker] ${message}\n`);
});
const pgPool = new pg.Pool({ connectionString: dbUrl, max: concurrency + 2 });
const poolError = (error: Error) => process.stderr.write(`[graphile-sender] pool: ${error.message}\n`);
pgPool.on('error', poolError);
pgPool.on('connect', (client) => client.on('error', poolError));
await pgPool.query(`create schema if not exists bench_peer;
  create table if not exists bench_peer.outcomes (key text primary key, status text not null,
    http_status integer, error text, duration_ms integer not null, at timestamptz not null default now());
  truncate bench_peer.outcomes`);
await runMigrations({ pgPool, logger: quiet });

let done = 0;
let sent = 0;
let failed = 0;
let allDone: () => void = () => {};
const finished = new Promise<void>((resolve) => {
  allDone = resolve;
});

/** The webhook, signed and POSTed with a timeout: the outcome to record. */
async function signedPost(
  job: WebhookJob,
): Promise<{ status: string; httpStatus: number | null; error: string | null }> {
  const body = JSON.stringify({ type: job.type, timestamp: job.timestamp, data: job.data });
  const headers = await webhookHeaders(secret, job.key, Math.floor(Date.now() / 1000), body);
  try {
    const res = await fetch(job.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
      headers: { 'content-type': 'application/json', 'user-agent': 'bench-graphile', ...headers },
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

const sendWebhook: Task = async (payload, helpers) => {
  const job = payload as WebhookJob;
  const started = performance.now();
  const { status, httpStatus, error } = await signedPost(job);
  await helpers.query(
    `insert into bench_peer.outcomes (key, status, http_status, error, duration_ms) values ($1, $2, $3, $4, $5)
     on conflict (key) do update set status = excluded.status, http_status = excluded.http_status,
       error = excluded.error, duration_ms = excluded.duration_ms, at = now()`,
    [job.key, status, httpStatus, error, Math.round(performance.now() - started)],
  );
  if (status !== 'sent') throw new Error(error ?? 'not sent'); // graphile-worker retries it
  sent++;
  if (++done >= n) allDone();
};

const utils = await makeWorkerUtils({ pgPool, logger: quiet });
const addStarted = performance.now();
const timestamp = new Date().toISOString();
for (let from = 0; from < n; from += 1000) {
  const specs = [];
  for (let i = from; i < Math.min(n, from + 1000); i++) {
    specs.push({
      identifier: 'send_webhook',
      payload: jobOf(i, timestamp),
      maxAttempts: 8,
    });
  }
  await utils.addJobs(specs);
}
const addMs = performance.now() - addStarted;
await utils.release();

const cpu = process.cpuUsage();
const started = performance.now();
const runner = await run({
  pgPool,
  concurrency,
  noHandleSignals: true,
  pollInterval: 1000,
  logger: quiet,
  taskList: { send_webhook: sendWebhook },
});
await finished;
const elapsedMs = performance.now() - started;
const cpuMs = cpuMsSince(cpu);
await runner.stop();
const { rows } = await pgPool.query(
  `select count(*) filter (where status = 'sent')::int as sent, count(*) filter (where status <> 'sent')::int as other
   from bench_peer.outcomes`,
);
failed = rows[0].other;
await pgPool.end();
process.stdout.write(
  `${JSON.stringify({ addMs, elapsedMs, sent, recorded: rows[0].sent, failed, cpuMs })}\n`,
);
