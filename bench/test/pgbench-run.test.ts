/**
 * Keeps bench/pgbench/run.sh runnable: a tiny run (2 clients, 1 s, 1 round, 200-row bulk) against
 * the local stack must finish and print every figure RESULTS.md quotes. Nothing about the numbers is
 * asserted (no wall-clock thresholds in tests); the bench itself is run by hand.
 *
 * Local stack only (SUPABASE_ADMIN_DB_URL): run.sh builds schema `bench` and may put a worker URL in
 * Vault, which a real project should not get from a test. Everything it adds is removed afterwards.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const dbUrl = process.env.SUPABASE_DB_URL;
const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;
const runSh = join(dirname(fileURLToPath(import.meta.url)), '..', 'pgbench', 'run.sh');
let hadWorkerUrl = true;

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
  hadWorkerUrl = await withAdmin(
    async (c) =>
      (await c.query(`select exists (select from vault.secrets where name = 'dispatch_worker_url') as e`))
        .rows[0].e,
  );
});

after(async () => {
  if (!dbUrl || !adminUrl) return;
  await withAdmin(async (c) => {
    await c.query(`drop schema if exists bench cascade`);
    await c.query(`delete from dispatch.changes where source_table like 'bench.%'`);
    await c.query(`delete from dispatch.sources where source_table like 'bench.%'`);
    await c.query(`delete from dispatch.counters_def where name like 'bench\\_%'`);
    await c.query(`delete from dispatch.receipts where event_id = 'bench.order_created'`);
    await c.query(`delete from dispatch.notifications where event_id = 'bench.order_created'`);
    await c.query(`delete from dispatch.occurrences where event_id = 'bench.order_created'`);
    await c.query(`delete from dispatch.events where id like 'bench.%'`);
    if (!hadWorkerUrl) await c.query(`delete from vault.secrets where name = 'dispatch_worker_url'`);
  });
});

test('bench/pgbench/run.sh runs and prints every figure', { timeout: 300_000 }, (t) => {
  if (!dbUrl || !adminUrl)
    return t.skip('local stack only: SUPABASE_DB_URL and SUPABASE_ADMIN_DB_URL are not both set');
  const run = spawnSync('bash', [runSh], {
    env: { ...process.env, BENCH_DB_URL: dbUrl, CLIENTS: '2', DURATION: '1', ROUNDS: '1', BULK_ROWS: '200' },
    encoding: 'utf8',
    timeout: 240_000,
  });
  const out = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.status, 0, out);
  assert.match(run.stdout, /^round 1: bare \d+ tps, plugin \d+ tps, inline \d+ tps, webhook \d+ tps$/m);
  assert.match(run.stdout, /^ratio to bare\s+1\.00\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d$/m);
  assert.match(run.stdout, /^ratio to webhook-per-row\s+\d+\.\d\d\s+\d+\.\d\d$/m);
  assert.match(run.stdout, /^200-row INSERT \(ms\)\s+\d+\s+\d+$/m);
  assert.match(run.stdout, /^bulk time ratio to bare\s+1\.00\s+\d+\.\d\d$/m);
  assert.match(
    run.stdout,
    /^ {2}(\d+ single-row changes in \d+ ms: \d+\.\d+ ms per change, \d+ changes\/s|no captured changes left to time .*)$/m,
  );
  assert.match(run.stdout, /^ {2}one 200-row change: \d+ ms$/m);
});
