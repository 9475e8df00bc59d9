/**
 * Keeps bench/worker-throughput.ts and bench/delivery-latency.ts runnable: a tiny run of each (50
 * webhooks per system; 3 latency samples) must finish and print every figure RESULTS.md quotes.
 * Nothing about the numbers is asserted (no wall-clock thresholds in tests); the benches are run by
 * hand. Each script makes and drops a database of its own on the local stack's server
 * (SUPABASE_ADMIN_DB_URL) and serves the real dispatch-worker under Deno.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;

function runBench(file: string, args: string[]): string {
  const run = spawnSync(
    process.execPath,
    ['--conditions=supadispatch-source', '--import', 'tsx', join(benchDir, file), ...args],
    { env: process.env, encoding: 'utf8', timeout: 120_000 },
  );
  const out = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.status, 0, out);
  return run.stdout;
}

test('bench/worker-throughput.ts runs and prints both systems and the ratio', { timeout: 150_000 }, (t) => {
  if (!adminUrl) return t.skip('local stack only: SUPABASE_ADMIN_DB_URL is not set');
  const out = runBench('worker-throughput.ts', ['--n', '50']);
  assert.match(out, /^ {2}dispatch-worker +50 sent in +\d+ ms: +\d+\/s; signatures valid 50\/50;/m);
  assert.match(out, /^ {2}graphile-worker +50 sent in +\d+ ms: +\d+\/s; signatures valid 50\/50;/m);
  assert.match(out, /^ratio dispatch-worker \/ graphile-worker: \d+\.\d\d$/m);
});

test('bench/delivery-latency.ts runs and prints p50/p99 for the worker path and the floor', {
  timeout: 150_000,
}, (t) => {
  if (!adminUrl) return t.skip('local stack only: SUPABASE_ADMIN_DB_URL is not set');
  const out = runBench('delivery-latency.ts', ['--samples', '3']);
  assert.match(out, /^delivery-latency: 3 samples each, 0 lost, 13 notification rows for 13 writes$/m);
  assert.match(out, /^ {2}app write → worker → notification +p50 +\d+\.\d ms +p99 +\d+\.\d ms/m);
  assert.match(out, /^ {2}floor: realtime\.send in the write +p50 +\d+\.\d ms +p99 +\d+\.\d ms/m);
  assert.match(out, /^ {2}ratio worker \/ floor: +p50 \d+\.\d\d +p99 \d+\.\d\d$/m);
});
