/**
 * Webhook deliveries per second from N pending receipts to the local webhook sink through the REAL
 * dispatch-worker Edge Function (Deno; the worker loop; the library's webhook transport, Standard
 * Webhooks signing; each outcome recorded with its lease token), side by side in the same run with
 * graphile-worker 0.18 sending N equivalent jobs (same body, signed by the same code, to the same
 * sink, each outcome recorded in a table of its own) from a process of its own
 * (bench/peers/graphile-sender.ts).
 *
 *   SUPABASE_ADMIN_DB_URL=postgresql://supabase_admin:postgres@127.0.0.1:55122/postgres \
 *     node --conditions=supadispatch-source --import tsx bench/worker-throughput.ts [--n 5000] [--rounds 1]
 *
 * Concurrency budget, the same for both: 8 requests in flight to the sink (the worker's default
 * `concurrencyPerDestination`, the one destination here; graphile-worker `concurrency: 8`).
 * Each round runs both, the order alternating between rounds; the worker's N receipts are made by
 * one transaction before its clock starts (no pg_net sender: the bench starts the run itself, and
 * pokes it again each second as pg_cron's tick would, which joins a running run).
 * The worker's clock: from its first poke to the N-th `sent` receipt seen by a 20 ms poll; the
 * peer's: from starting its runner (jobs queued) to its N-th outcome committed.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { RecordedRequest } from '../local/src/webhook-sink/index.ts';
import { percentile, sleep, startWorkerBench } from './support/worker-stack.ts';

const { values: args } = parseArgs({
  options: { n: { type: 'string', default: '5000' }, rounds: { type: 'string', default: '1' } },
});
const n = Math.min(Math.max(Number(args.n), 1), 200_000);
const rounds = Math.min(Math.max(Number(args.rounds), 1), 10);
const CONCURRENCY = 8;
const here = dirname(fileURLToPath(import.meta.url));
const log = (message: string) => process.stderr.write(`${message}\n`);

const registry = {
  events: {
    'bench.ping': {
      id: 'bench.ping',
      table: null,
      operations: [],
      channels: [{ name: 'webhook:hooks', transport: 'webhook', audience: 'hooks', delaySeconds: 0 }],
      content: { payload: { n: '{{n}}', label: 'ping {{n}}' } },
      metadata: {},
      strict: false,
      module: null,
    },
  },
  transports: { webhook: {} },
};

const sql = `
create or replace function public.bench_expand_ping(p_occurrences dispatch.occurrences[]) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.create_receipts('bench.ping', 'webhook:hooks', 'webhook', 'hooks', interval '0',
    array(select row(o.id, null, o.new_record ->> 'url', null)::dispatch.recipient from unnest(p_occurrences) o));
end
$$;
select dispatch.register_event('bench.ping', 'public.bench_expand_ping', p_transports => array['webhook']);
`;

const bench = await startWorkerBench({
  registry,
  sql,
  // one run lasts the whole measurement (the default 50 s budget is the hosted runtime's bound)
  serveOptions: 'budgetMs: 600000',
  sinkRequests: 2 * n * rounds + 100,
});
const db = new pg.Pool({ connectionString: bench.adminDbUrl, max: 2 });

async function received(path: string): Promise<RecordedRequest[]> {
  const res = await fetch(`${bench.sink.url}/api/requests?path=${encodeURIComponent(path)}`);
  return (await res.json()) as RecordedRequest[];
}

interface Figures {
  elapsedMs: number;
  sent: number;
  valid: number;
  extra: string;
}

async function runWorker(round: number): Promise<Figures> {
  const path = `/worker-${round}`;
  await db.query(
    `select dispatch.emit('bench.ping', jsonb_build_object('url', $1::text, 'n', g)) from generate_series(1, $2::int) g`,
    [`${bench.sink.url}${path}`, n],
  );
  const { rows: pending } = await db.query(
    `select count(*)::int as c from dispatch.receipts where status = 'pending' and event_id = 'bench.ping'`,
  );
  if (pending[0].c !== n) throw new Error(`expected ${n} pending receipts, found ${pending[0].c}`);
  const started = performance.now();
  let poked = started;
  const first = await bench.callWorker({});
  if (first.status !== 202) throw new Error(`worker: ${first.status} ${await first.text()}`);
  let sent = 0;
  let failed = 0;
  const deadline = started + Math.max(120_000, n * 20);
  while (sent + failed < n) {
    if (performance.now() > deadline)
      throw new Error(`worker: ${sent} sent, ${failed} failed at the deadline`);
    await sleep(20);
    const { rows } = await db.query(
      `select count(*) filter (where status = 'sent')::int as sent, count(*) filter (where status = 'failed')::int as failed
       from dispatch.receipts where event_id = 'bench.ping' and address = $1`,
      [`${bench.sink.url}${path}`],
    );
    ({ sent, failed } = rows[0]);
    if (performance.now() - poked > 1000) {
      poked = performance.now();
      await (await bench.callWorker({})).text();
    }
  }
  const elapsedMs = performance.now() - started;
  // where the time went, from the attempts: the send (request and answer) per receipt
  const { rows: phases } = await db.query(
    `select avg(extract(epoch from a.finished_at - a.started_at) * 1000)::float as attempt_ms,
            count(distinct a.worker)::int as runs
     from dispatch.attempts a join dispatch.receipts r on r.id = a.receipt_id
     where r.address = $1`,
    [`${bench.sink.url}${path}`],
  );
  const requests = await received(path);
  return {
    elapsedMs,
    sent,
    valid: requests.filter((r) => r.signatureValid === true).length,
    extra: `${failed} failed, ${requests.length} requests, mean attempt ${phases[0].attempt_ms?.toFixed(1)} ms, ${phases[0].runs} run(s)`,
  };
}

function runGraphile(round: number): Promise<Figures> {
  const path = `/graphile`;
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=supadispatch-source', '--import', 'tsx', join(here, 'peers', 'graphile-sender.ts')],
      {
        env: {
          ...process.env,
          PEER_DB_URL: bench.adminDbUrl,
          PEER_SINK_URL: `${bench.sink.url}/r${round}`,
          PEER_SECRET: bench.stack.keys.webhookSecret,
          PEER_N: String(n),
          PEER_CONCURRENCY: String(CONCURRENCY),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('exit', async (code) => {
      if (code !== 0) return reject(new Error(`graphile-sender exited with ${code}: ${out}`));
      try {
        const result = JSON.parse(out.trim().split('\n').pop() ?? '{}');
        const requests = await received(`/r${round}${path}`);
        resolve({
          elapsedMs: result.elapsedMs,
          sent: result.recorded,
          valid: requests.filter((r) => r.signatureValid === true).length,
          extra: `${result.failed} not sent, ${requests.length} requests, ${Math.round(result.addMs)} ms to queue`,
        });
      } catch (error) {
        reject(error);
      }
    });
  });
}

const rate = (f: Figures) => (f.sent / f.elapsedMs) * 1000;
const line = (name: string, f: Figures) =>
  `  ${name.padEnd(16)} ${String(f.sent).padStart(6)} sent in ${f.elapsedMs.toFixed(0).padStart(6)} ms: ${rate(f).toFixed(0).padStart(5)}/s; signatures valid ${f.valid}/${f.sent}; ${f.extra}`;

console.log(
  `worker-throughput: ${n} webhooks per system per round, ${rounds} round(s), concurrency ${CONCURRENCY} each`,
);
const ratios: number[] = [];
const workerRates: number[] = [];
const peerRates: number[] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    log(`round ${round}: ${round % 2 === 1 ? 'dispatch-worker first' : 'graphile-worker first'}`);
    let worker: Figures;
    let peer: Figures;
    if (round % 2 === 1) {
      worker = await runWorker(round);
      peer = await runGraphile(round);
    } else {
      peer = await runGraphile(round);
      worker = await runWorker(round);
    }
    console.log(`round ${round}:`);
    console.log(line('dispatch-worker', worker));
    console.log(line('graphile-worker', peer));
    ratios.push(rate(worker) / rate(peer));
    workerRates.push(rate(worker));
    peerRates.push(rate(peer));
  }
  console.log(
    `median deliveries/s: dispatch-worker ${percentile(workerRates, 50).toFixed(0)}, graphile-worker ${percentile(peerRates, 50).toFixed(0)}`,
  );
  console.log(`ratio dispatch-worker / graphile-worker: ${ratios.map((r) => r.toFixed(2)).join(' ')}`);
} finally {
  await db.end();
  await bench.stop();
}
