/**
 * Keeps the SQL-core measures runnable: drain-cpu, drain-sustained, fanout and global-counter, each
 * with `--quick --json <path>`, must finish and write a report of the suite's shape (name, title,
 * date, machine {cores, memGiB, load}, rows, summary, targets) and its CSV beside it. Nothing about
 * the figures is asserted (no wall-clock thresholds in tests); the measures are run by hand or by
 * `npm run bench`.
 *
 * Local stack only (SUPABASE_ADMIN_DB_URL set): the scripts build schemas bench, bench_fanout and
 * bench_gc, register bench.* events and counters and may put a worker URL in Vault; everything they
 * add is removed afterwards.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const dbUrl = process.env.SUPABASE_DB_URL;
const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;
const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = join(benchDir, '..');
const out = mkdtempSync(join(tmpdir(), 'sql-bench-'));
let hadWorkerUrl = true;
let drainParallel: unknown = null;

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

before(async () => {
  if (!dbUrl || !adminUrl) return;
  await withAdmin(async (c) => {
    hadWorkerUrl = (
      await c.query(`select exists (select from vault.secrets where name = 'dispatch_worker_url') as e`)
    ).rows[0].e;
    drainParallel = (await c.query(`select value from dispatch.settings where key = 'drain_parallel'`))
      .rows[0]?.value;
  });
});

after(async () => {
  rmSync(out, { recursive: true, force: true });
  if (!dbUrl || !adminUrl) return;
  await withAdmin(async (c) => {
    for (const schema of ['bench', 'bench_fanout', 'bench_gc'])
      await c.query(`drop schema if exists ${schema} cascade`);
    await c.query(`delete from dispatch.changes where source_table like 'bench%'`);
    await c.query(`delete from dispatch.sources where source_table like 'bench%'`);
    await c.query(`delete from dispatch.counters_def where name like 'bench\\_%'`);
    await c.query(`delete from dispatch.receipts where event_id like 'bench.%'`);
    await c.query(`delete from dispatch.notifications where event_id like 'bench.%'`);
    await c.query(`delete from dispatch.occurrences where event_id like 'bench.%'`);
    await c.query(`delete from dispatch.events where id like 'bench.%'`);
    if (drainParallel !== undefined && drainParallel !== null)
      await c.query(`update dispatch.settings set value = $1 where key = 'drain_parallel'`, [
        JSON.stringify(drainParallel),
      ]);
    if (!hadWorkerUrl) await c.query(`delete from vault.secrets where name = 'dispatch_worker_url'`);
  });
});

for (const name of ['drain-cpu', 'drain-sustained', 'fanout', 'global-counter']) {
  test(`bench/${name}.ts --quick writes a report`, { timeout: 300_000 }, (t) => {
    if (!dbUrl || !adminUrl)
      return t.skip('local stack only: SUPABASE_DB_URL and SUPABASE_ADMIN_DB_URL are not both set');
    const json = join(out, `${name}.json`);
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(benchDir, `${name}.ts`), '--quick', '--json', json],
      { cwd: repoRoot, env: { ...process.env, BENCH_DB_URL: dbUrl }, encoding: 'utf8', timeout: 280_000 },
    );
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(report.name, name);
    assert.equal(report.quick, true);
    assert.equal(typeof report.title, 'string');
    assert.ok(!Number.isNaN(Date.parse(report.date)), 'date is an ISO time');
    assert.equal(typeof report.machine.cores, 'number');
    assert.equal(typeof report.machine.memGiB, 'number');
    assert.ok(Array.isArray(report.machine.load));
    assert.ok(Array.isArray(report.rows) && report.rows.length > 0, 'rows');
    assert.equal(typeof report.summary, 'object');
    for (const target of report.targets ?? []) {
      assert.equal(typeof target.measure, 'string');
      assert.equal(typeof target.result, 'string');
      assert.ok(target.met === true || target.met === false || target.met === null);
    }
    assert.ok(existsSync(json.replace(/\.json$/, '.csv')), 'raw CSV beside the JSON');
  });
}
