/**
 * Keeps bench/worker-throughput.ts, worker-rss.ts, worker-sql-cost.ts and delivery-latency.ts runnable: a
 * tiny run of each (50 webhooks per system; a few seconds of sustained load; 3 latency samples) must
 * finish, print every figure RESULTS.md quotes and write its JSON report.
 * Nothing about the numbers is asserted (no wall-clock thresholds in tests); the benches are run by
 * hand. Each script makes and drops a database of its own on the local stack's server
 * (SUPABASE_ADMIN_DB_URL) and serves the real dispatch-worker under Deno.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;

// generous: the machine is shared (load averages of 20+ on 2 cores seen); nothing here is timed
function runBench(file: string, args: string[], timeoutMs = 240_000): string {
  const run = spawnSync(
    process.execPath,
    ['--conditions=supadispatch-source', '--import', 'tsx', join(benchDir, file), ...args],
    { env: process.env, encoding: 'utf8', timeout: timeoutMs },
  );
  const out = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.status, 0, out);
  return run.stdout;
}

/** The report every bench writes with `--json <path>`. */
function readReport(path: string, name: string): { rows: unknown[]; summary: Record<string, unknown> } {
  const report = JSON.parse(readFileSync(path, 'utf8'));
  assert.equal(report.name, name);
  assert.equal(typeof report.title, 'string');
  assert.ok(!Number.isNaN(Date.parse(report.date)), 'an ISO date');
  assert.equal(typeof report.machine.cores, 'number');
  assert.equal(typeof report.machine.memGiB, 'number');
  // bench/support/report.ts's contract: the 1-minute load average at the start and at the end
  assert.equal(report.machine.load.length, 2);
  assert.ok(report.machine.load.every((l: unknown) => typeof l === 'number'));
  assert.ok(Array.isArray(report.rows) && report.rows.length > 0);
  return report;
}

test('bench/worker-throughput.ts --quick runs the worker and both peers, prints the ratios, writes JSON', {
  timeout: 270_000,
}, (t) => {
  if (!adminUrl) return t.skip('local stack only: SUPABASE_ADMIN_DB_URL is not set');
  const dir = mkdtempSync(join(tmpdir(), 'worker-bench-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'worker-throughput.json');
  const out = runBench('worker-throughput.ts', ['--quick', '--n', '50', '--json', json]);
  for (const system of ['dispatch-worker', 'graphile-worker', 'pg-boss', 'sink ceiling'])
    assert.match(
      out,
      new RegExp(`^ {2}${system} +50 sent in +\\d+ ms: +\\d+/s; signatures valid 50/50;`, 'm'),
    );
  assert.match(out, /^ratio dispatch-worker \/ graphile-worker: \d+\.\d\d$/m);
  assert.match(out, /^ratio dispatch-worker \/ pg-boss: \d+\.\d\d$/m);
  const report = readReport(json, 'worker-throughput');
  assert.equal(report.rows.length, 4, 'one row per system of the one round');
  // the ratios of the one round, as the report contract's spreads (median, min, max, n)
  for (const key of ['ratioVsGraphile', 'ratioVsPgBoss']) {
    const ratio = report.summary[key] as { median: number; n: number };
    assert.equal(ratio.n, 1, key);
    assert.ok(Number.isFinite(ratio.median) && ratio.median > 0, `${key}: ${JSON.stringify(ratio)}`);
  }
  // the table's row: the target is named, and a quick run gives no verdict
  const [row] = (report as unknown as { targets: { target: string; met: boolean | null }[] }).targets;
  assert.match(row.target, /1,000\/s/);
  assert.equal(row.met, null);
});

test("bench/worker-rss.ts --quick samples the worker's RSS under load and writes JSON", {
  timeout: 270_000,
}, (t) => {
  if (!adminUrl) return t.skip('local stack only: SUPABASE_ADMIN_DB_URL is not set');
  const dir = mkdtempSync(join(tmpdir(), 'worker-rss-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'worker-rss.json');
  const out = runBench('worker-rss.ts', [
    '--quick',
    '--minutes',
    '0.15',
    '--rate',
    '50',
    '--sample',
    '1',
    '--json',
    json,
  ]);
  assert.match(out, /^ +\d+ s +RSS +\d+\.\d MiB +sent +\d+ +backlog \d+$/m);
  assert.match(out, /^delivered \d+ of \d+ \(\d+\/s\), backlog at the end \d+$/m);
  assert.match(
    out,
    /^RSS MiB: first [\d.]+, after warm-up .* slope over the second half -?[\d.]+ MiB\/min$/m,
  );
  const report = readReport(json, 'worker-rss');
  const rss = (report.summary.rssMiB as { first: number }).first;
  assert.ok(rss > 0, 'the worker process was found and measured');
});

test('bench/worker-sql-cost.ts --quick compares the queue calls per delivery and writes JSON', {
  timeout: 270_000,
}, (t) => {
  if (!adminUrl) return t.skip('local stack only: SUPABASE_ADMIN_DB_URL is not set');
  const dir = mkdtempSync(join(tmpdir(), 'worker-sql-cost-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'worker-sql-cost.json');
  const out = runBench('worker-sql-cost.ts', ['--quick', '--n', '100', '--json', json]);
  assert.match(
    out,
    /^round 1 single +Postgres CPU \d+\.\d{3} ms\/delivery, wall \d+\.\d{3} ms\/delivery, 2\.\d\d round trips/m,
  );
  assert.match(out, /^round 1 batched +Postgres CPU \d+\.\d{3} ms\/delivery/m);
  assert.match(out, /^median cpuMsPerDelivery: single [\d.]+ .*; single \/ batched \d+\.\d\d$/m);
  const report = readReport(json, 'worker-sql-cost');
  assert.equal(report.rows.length, 2, 'one row per mode');
});

test('bench/delivery-latency.ts runs and prints p50/p99 for the worker path and the floor', {
  timeout: 270_000,
}, (t) => {
  if (!adminUrl) return t.skip('local stack only: SUPABASE_ADMIN_DB_URL is not set');
  const out = runBench('delivery-latency.ts', ['--samples', '3']);
  assert.match(out, /^delivery-latency: 3 samples each, 0 lost, 13 notification rows for 13 writes$/m);
  assert.match(out, /^ {2}app write → worker → notification +p50 +\d+\.\d ms +p99 +\d+\.\d ms/m);
  assert.match(out, /^ {2}floor: realtime\.send in the write +p50 +\d+\.\d ms +p99 +\d+\.\d ms/m);
  assert.match(out, /^ {2}ratio worker \/ floor: +p50 \d+\.\d\d +p99 \d+\.\d\d$/m);
});
