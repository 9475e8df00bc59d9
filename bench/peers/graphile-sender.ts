/**
 * The graphile-worker peer of bench/worker-throughput.ts, in a process of its own (as the Deno
 * worker is): N jobs, each the webhook the dispatch-worker sends (webhook-job.ts: same body, signed by
 * the same code, same timeout), its outcome recorded in a table of its own (bench_peer.outcomes) by
 * the job. graphile-worker's defaults otherwise (no local queue, completions not batched).
 *
 * Input (env): see webhook-job.ts. Output: one line of JSON on stdout; elapsed is from starting the
 * runner (jobs already queued, migrations done) to the N-th outcome committed.
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
import {
  cpuMsSince,
  jobOf,
  OUTCOMES_DDL,
  peerEnv,
  printResult,
  RECORD_OUTCOME,
  signedPost,
  type WebhookJob,
} from './webhook-job.ts';

const { dbUrl, sinkUrl, secret, n, concurrency } = peerEnv();

const quiet: Logger = new GraphileLogger(() => (level, message) => {
  if (level === 'error') process.stderr.write(`[graphile-worker] ${message}\n`);
});
const pgPool = new pg.Pool({ connectionString: dbUrl, max: concurrency + 2 });
const poolError = (error: Error) => process.stderr.write(`[graphile-sender] pool: ${error.message}\n`);
pgPool.on('error', poolError);
pgPool.on('connect', (client) => client.on('error', poolError));
await pgPool.query(OUTCOMES_DDL('outcomes'));
await runMigrations({ pgPool, logger: quiet });

let done = 0;
let allDone: () => void = () => {};
const finished = new Promise<void>((resolve) => {
  allDone = resolve;
});

const sendWebhook: Task = async (payload, helpers) => {
  const job = payload as WebhookJob;
  const started = performance.now();
  const { status, httpStatus, error } = await signedPost(secret, job, 'bench-graphile');
  await helpers.query(RECORD_OUTCOME('outcomes'), [
    job.key,
    status,
    httpStatus,
    error,
    Math.round(performance.now() - started),
  ]);
  if (status !== 'sent') throw new Error(error ?? 'not sent'); // graphile-worker retries it
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
      payload: jobOf('graphile', sinkUrl, i, timestamp),
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
await pgPool.end();
printResult({ addMs, elapsedMs, sent: done, recorded: rows[0].sent, failed: rows[0].other, cpuMs });
