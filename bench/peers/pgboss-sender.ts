/**
 * The pg-boss peer of bench/worker-throughput.ts, in a process of its own: N jobs, each the webhook
 * the dispatch-worker sends (webhook-job.ts: same body, signed by the same code, same timeout), its
 * outcome recorded in a table of its own (bench_peer.boss_outcomes) by the job.
 *
 * pg-boss 12 configured for throughput as its docs say: `localConcurrency` workers (PEER_CONCURRENCY,
 * so the same requests in flight as the others: each worker runs its batch's jobs one after another),
 * each fetching `batchSize` jobs (PEER_BATCH, default 4) with `burstWhenBatchFull` (fetch again at
 * once while fetches come back full; with batchSize 1 a worker would wait its polling interval,
 * ≥ 0.5 s, after every job), per-job results (a failed job is retried alone, up to 8 attempts).
 *
 * Input (env): see webhook-job.ts; PEER_BATCH. Output: one line of JSON on stdout; elapsed is from
 * starting the workers (jobs already queued, schema made) to the N-th outcome committed.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { type JobResult, PgBoss } from 'pg-boss';
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
const batchSize = Number(process.env.PEER_BATCH ?? '4');
const QUEUE = 'send_webhook';

const pool = new pg.Pool({ connectionString: dbUrl, max: 2 });
await pool.query(OUTCOMES_DDL('boss_outcomes'));
// the same number of connections as graphile-worker's peer: concurrency + 2
const boss = new PgBoss({ connectionString: dbUrl, max: concurrency + 2, schedule: false, supervise: false });
boss.on('error', (error) => process.stderr.write(`[pg-boss] ${error.message}\n`));
await boss.start();
await boss.deleteQueue(QUEUE).catch(() => {});
await boss.createQueue(QUEUE);

const addStarted = performance.now();
const timestamp = new Date().toISOString();
for (let from = 0; from < n; from += 1000) {
  const jobs = [];
  for (let i = from; i < Math.min(n, from + 1000); i++)
    jobs.push({ data: jobOf('pgboss', sinkUrl, i, timestamp), retryLimit: 7 });
  await boss.insert(QUEUE, jobs);
}
const addMs = performance.now() - addStarted;

let done = 0;
let allDone: () => void = () => {};
const finished = new Promise<void>((resolve) => {
  allDone = resolve;
});

const cpu = process.cpuUsage();
const started = performance.now();
await boss.work<WebhookJob>(
  QUEUE,
  {
    localConcurrency: concurrency,
    batchSize,
    burstWhenBatchFull: true,
    pollingIntervalSeconds: 0.5,
    perJobResults: true,
  },
  async (jobs) => {
    const results: JobResult[] = [];
    for (const job of jobs) {
      const began = performance.now();
      const { status, httpStatus, error } = await signedPost(secret, job.data, 'bench-pgboss');
      // through pg-boss's own pool, as graphile-worker's job records through its helpers' pool
      await boss
        .getDb()
        .executeSql(RECORD_OUTCOME('boss_outcomes'), [
          job.data.key,
          status,
          httpStatus,
          error,
          Math.round(performance.now() - began),
        ]);
      if (status === 'sent') {
        results.push({ id: job.id, status: 'completed' });
        if (++done >= n) allDone();
      } else results.push({ id: job.id, status: 'failed', output: { error } });
    }
    return results;
  },
);
await finished;
const elapsedMs = performance.now() - started;
const cpuMs = cpuMsSince(cpu);
await boss.stop({ graceful: true, timeout: 5000 });
const { rows } = await pool.query(
  `select count(*) filter (where status = 'sent')::int as sent, count(*) filter (where status <> 'sent')::int as other
   from bench_peer.boss_outcomes`,
);
await pool.end();
printResult({ addMs, elapsedMs, sent: done, recorded: rows[0].sent, failed: rows[0].other, cpuMs });
