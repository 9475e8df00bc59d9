/**
 * The sink's ceiling for bench/worker-throughput.ts: the same signed POSTs as the queue peers
 * (webhook-job.ts), PEER_CONCURRENCY at a time, from a process with no queue and no database.
 */
import { performance } from 'node:perf_hooks';
import { cpuMsSince, jobOf, peerEnv, printResult, signedPost } from './webhook-job.ts';

const { sinkUrl, secret, n, concurrency } = peerEnv();
const cpu = process.cpuUsage();
const started = performance.now();
const timestamp = new Date().toISOString();
let next = 0;
let sent = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < n) {
      if (
        (await signedPost(secret, jobOf('direct', sinkUrl, next++, timestamp), 'bench-direct')).status ===
        'sent'
      )
        sent++;
    }
  }),
);
const elapsedMs = performance.now() - started;
printResult({ addMs: 0, elapsedMs, sent, recorded: sent, failed: n - sent, cpuMs: cpuMsSince(cpu) });
