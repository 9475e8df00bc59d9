/**
 * Counts from the WAL (sql/core/066_counts_from_wal.sql) on a real database, through the paths users
 * take: a counts-only table set up as the generator emits it (the writers' counting triggers, then
 * dispatch.count_from_wal) starts counted by its writers; pg_cron's dispatch.tick() creates the
 * logical replication slot and switches the table while 8 writers insert and delete (a third of their
 * transactions rolled back) and 2 drains publish; after the switch the writers keep going; the worker's
 * drain RPC (dispatch_worker_drain) publishes what is left when its linger ends. The counter then
 * equals the table across the switch, no broadcast value was negative and seq never repeated. Then a
 * lost slot: writes made while it is gone are recounted when tick creates a new one. Then the path
 * users take, no drain called by the test: a write's wake trigger pokes the stack's worker (pg_net,
 * the dispatch-worker Edge Function), which publishes it. Last: with no WAL-counted table left, tick
 * drops the slot (it would hold WAL forever).
 *
 * Needs SUPABASE_DB_URL (the postgres role) with the core migration applied, wal_level = logical and
 * pg_cron running dispatch-tick (the local stack, or a Supabase project); uses SUPABASE_ADMIN_DB_URL,
 * when set, to remove the test's realtime messages afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { drainer, writer } from './fixtures/count-writers.ts';

const dbUrl = process.env.SUPABASE_DB_URL;
const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;
const WRITERS = 8;
const suffix = Math.random().toString(36).slice(2, 8);
const table = `public.sdw_items_${suffix}`;
const counter = `sdw_total_${suffix}`;
const SLOT = 'supadispatch_counts';
let setupError: string | null = null;
let db: pg.Client | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Drops the slot when nobody reads it at this moment (a publish holds it for its decoding). */
async function dropSlot(c: pg.Client): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const { rows } = await c.query(`select active from pg_replication_slots where slot_name = $1`, [SLOT]);
    if (rows.length === 0) return;
    if (!rows[0].active) {
      try {
        await c.query('select pg_drop_replication_slot($1)', [SLOT]);
        return;
      } catch {
        // taken between the two statements: try again
      }
    }
    await sleep(100);
  }
  throw new Error(`slot ${SLOT} stayed active for 5 s`);
}

before(async () => {
  if (!dbUrl) return;
  db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  const { rows } =
    await db.query(`select to_regprocedure('dispatch.count_from_wal(text, text[])') is not null as ok,
                                          current_setting('wal_level') as wal_level,
                                          to_regclass('cron.job') is not null as cron`);
  if (!rows[0].ok) setupError = 'the supadispatch core (with dispatch.count_from_wal) is not installed';
  else if (rows[0].wal_level !== 'logical') setupError = `wal_level is ${rows[0].wal_level}, not logical`;
  else if (!rows[0].cron) setupError = 'pg_cron is not installed';
  if (setupError) return;
  // no slot yet: the table starts counted by its writers, as on a project's first `db push`
  await dropSlot(db);
  await db.query(`update dispatch.wal_count_state set last_error_at = null where id = 1`);
  await db.query(`
    create table ${table} (id bigint generated always as identity primary key, v int not null);
    select dispatch.register_counter('${counter}', 'audience', 'admin', array['items'], 8, '${table}',
      'select ''admin'', count(*) from ${table}');
    create function public.sdw_process_${suffix}(p_changes dispatch.changes[]) returns void language sql as '';`);
  await db.query(sourceInstall());
});

/**
 * What the generated migration of a counts-only table runs before `count_from_wal` (sdk
 * sql/source.ts): the processor registered, the writers' counting triggers in place of any.
 */
function sourceInstall(): string {
  return `
    select dispatch.register_source('${table}', 'public.sdw_process_${suffix}');
    drop trigger if exists dispatch_capture_insert on ${table};
    drop trigger if exists dispatch_capture_delete on ${table};
    create trigger dispatch_capture_insert after insert on ${table} referencing new table as new_rows
      for each statement execute function dispatch.count_changes('${counter}', 'admin');
    create trigger dispatch_capture_delete after delete on ${table} referencing old table as old_rows
      for each statement execute function dispatch.count_changes('${counter}', 'admin');`;
}

after(async () => {
  if (!db) return;
  try {
    if (!setupError) await cleanUp(db);
  } finally {
    await db.end();
  }
});

async function cleanUp(db: pg.Client): Promise<void> {
  await db.query(`drop table if exists ${table} cascade`);
  await db.query(`drop function if exists public.sdw_process_${suffix}(dispatch.changes[])`);
  await db.query(`select dispatch.unregister_source($1)`, [table]);
  await db.query(`delete from dispatch.wal_count_sources where source_table = $1`, [table]);
  await db.query(`delete from dispatch.counters_def where name = $1`, [counter]);
  await db.query('select dispatch.wal_counts_setup()');
  if (adminUrl) {
    // realtime.messages belongs to Realtime's admin, as on hosted
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`delete from realtime.messages where event = 'counter' and payload ->> 'name' = $1`, [
      counter,
    ]);
    await admin.end();
  }
}

/** The worker's last polls: its drain RPC until the database says nothing relies on it (lingerMs 0). */
async function workerFinishes(c: pg.Client): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await c.query('select public.dispatch_worker_drain(500) as r');
    if (Number(rows[0].r.lingerMs) === 0 && Number(rows[0].r.processed) === 0) return;
    await sleep(100);
  }
  throw new Error('the worker kept lingering for 20 s');
}

async function assertExact(c: pg.Client, what: string): Promise<number> {
  const { rows: count } = await c.query(`select count(*)::int as n from ${table}`);
  const { rows: rec } = await c.query(`select expected, actual from dispatch.reconcile_counters($1, false)`, [
    counter,
  ]);
  assert.equal(Number(rec[0].expected), count[0].n, `${what}: reconcile counts the table`);
  assert.equal(Number(rec[0].actual), count[0].n, `${what}: the counter equals the table`);
  const { rows: last } = await c.query(
    `select (payload ->> 'value')::bigint as value from realtime.messages where event = 'counter' and payload ->> 'name' = $1
     order by (payload ->> 'seq')::bigint desc limit 1`,
    [counter],
  );
  assert.equal(Number(last[0]?.value), count[0].n, `${what}: the last broadcast value equals the table`);
  return count[0].n;
}

test('pg_cron switches a counts-only table to the WAL under 8 writers and 2 drains: exact across the switch', {
  timeout: 240_000,
}, async (t) => {
  if (!dbUrl || !db) return t.skip('SUPABASE_DB_URL is not set (the postgres role of the stack under test)');
  if (setupError) return t.skip(setupError);
  const c: pg.Client = db;
  const { rows: first } = await c.query(`select dispatch.count_from_wal($1, $2) as r`, [
    table,
    [counter, 'admin'],
  ]);
  assert.equal(first[0].r, 'counted by the writers', 'no slot yet: the writers count');

  const stop = { done: false };
  const drains = [drainer(dbUrl, stop, 200, 50), drainer(dbUrl, stop, 200, 50)];
  const writers = Array.from({ length: WRITERS }, (_, n) =>
    writer(dbUrl, table, n + 11, { ops: 20_000, stop, insertShare: 0.6, pauseMs: 5 }),
  );
  // pg_cron's tick (every minute) creates the slot and switches the table while the writers run
  let live = false;
  const t0 = Date.now();
  while (!live && Date.now() - t0 < 80_000) {
    await sleep(500);
    const { rows } = await c.query(`select live from dispatch.wal_count_sources where source_table = $1`, [
      table,
    ]);
    live = rows[0]?.live === true;
  }
  t.diagnostic(`switched by pg_cron after ${Date.now() - t0} ms`);
  await sleep(3000); // writes counted from the WAL only
  stop.done = true;
  const rolledBack = await Promise.all(writers);
  await Promise.all(drains);
  t.diagnostic(`transactions rolled back: ${rolledBack.reduce((a, b) => a + b, 0)}`);
  assert.ok(live, 'pg_cron switched the table within 80 s');

  const { rows: trig } = await c.query(
    `select array_agg(tgfoid::regproc::text order by tgname) as fns from pg_trigger
     where tgrelid = $1::regclass and not tgisinternal`,
    [table],
  );
  assert.deepEqual(
    trig[0].fns,
    ['dispatch.wake_on_count', 'dispatch.wake_on_count'],
    'the triggers only wake',
  );
  const { rows: pending } = await c.query(
    `select coalesce(sum(total), 0)::int as total from dispatch.counter_pending where name = $1`,
    [counter],
  );

  await workerFinishes(c);
  const n = await assertExact(c, 'after the switch');
  assert.ok(n > 0, 'rows are left to count');
  t.diagnostic(`rows: ${n}; counted by the writers before the switch: ${pending[0].total}`);
  assert.ok(pending[0].total > 0, 'the writers counted before the switch');
  const { rows: neg } = await c.query(
    `select count(*) filter (where (payload ->> 'value')::bigint < 0)::int as neg, count(*)::int as n,
            count(distinct payload ->> 'seq')::int as d
     from realtime.messages where event = 'counter' and payload ->> 'name' = $1`,
    [counter],
  );
  assert.equal(neg[0].neg, 0, 'no negative value was ever broadcast');
  assert.equal(neg[0].n, neg[0].d, 'seq never repeats');
});

test('a lost slot: tick creates a new one and recounts what was written while it was gone', {
  timeout: 60_000,
}, async (t) => {
  if (!dbUrl || !db) return t.skip('SUPABASE_DB_URL is not set (the postgres role of the stack under test)');
  if (setupError) return t.skip(setupError);
  const c: pg.Client = db;
  await dropSlot(c);
  await c.query(`insert into ${table} (v) select g from generate_series(1, 7) g`);
  await c.query(`delete from ${table} where id in (select id from ${table} order by id limit 3)`);
  // tick, as pg_cron calls it (pg_cron may get there first: then there is nothing left to do)
  const { rows } = await c.query('select dispatch.tick() as r');
  t.diagnostic(`tick: ${JSON.stringify(rows[0].r)}`);
  const { rows: slot } = await c.query(`select dispatch.wal_count_slot_healthy() as ok`);
  assert.ok(slot[0].ok, 'a new slot');
  const { rows: src } = await c.query(
    `select live, needs_reconcile from dispatch.wal_count_sources where source_table = $1`,
    [table],
  );
  assert.deepEqual(src[0], { live: true, needs_reconcile: false }, 'counted from the WAL again, recounted');
  await c.query(`insert into ${table} (v) values (1)`);
  await workerFinishes(c);
  await assertExact(c, 'after the new slot');
});

test('a migration while the slot is lost: the table goes back to its writers, its counter recounted at once', {
  timeout: 60_000,
}, async (t) => {
  if (!dbUrl || !db) return t.skip('SUPABASE_DB_URL is not set (the postgres role of the stack under test)');
  if (setupError) return t.skip(setupError);
  const c: pg.Client = db;
  await dropSlot(c);
  await c.query(`insert into ${table} (v) select g from generate_series(1, 5) g`); // lost with the slot
  // the table's generated migration again, in one transaction
  await c.query('begin');
  await c.query(sourceInstall());
  const { rows } = await c.query(`select dispatch.count_from_wal($1, $2) as r`, [table, [counter, 'admin']]);
  await c.query('commit');
  // pg_cron may have created a new slot in between: then the table was switched at once
  t.diagnostic(`count_from_wal: ${rows[0].r}`);
  await assertExact(c, 'right after the migration');
  await c.query(`insert into ${table} (v) values (1), (2)`);
  await c.query('select dispatch.tick()'); // as pg_cron: the slot again, the table switched back
  const { rows: src } = await c.query(`select live from dispatch.wal_count_sources where source_table = $1`, [
    table,
  ]);
  assert.equal(src[0].live, true, 'counted from the WAL again after tick');
  await c.query(`delete from ${table} where id in (select id from ${table} order by id limit 1)`);
  await workerFinishes(c);
  await assertExact(c, 'after tick switched it back');
});

test('the path users take: a write pokes the worker, which publishes it (no drain called here)', {
  timeout: 60_000,
}, async (t) => {
  if (!dbUrl || !db) return t.skip('SUPABASE_DB_URL is not set (the postgres role of the stack under test)');
  if (setupError) return t.skip(setupError);
  const c: pg.Client = db;
  const { rows: live } = await c.query(
    `select live from dispatch.wal_count_sources where source_table = $1`,
    [table],
  );
  assert.equal(live[0]?.live, true, 'counted from the WAL');
  const { rows: url } = await c.query(
    `select count(*)::int as n from vault.decrypted_secrets where name = 'dispatch_worker_url' and decrypted_secret <> ''`,
  );
  if (url[0].n === 0) return t.skip('no worker URL in Vault (dispatch_worker_url): nothing to poke');
  // no poked worker lingers: the write's wake trigger pokes (pg_net, at commit)
  await c.query(`update dispatch.worker_wake set next_poke_at = now() - interval '1 second'`);
  await c.query(`select setval('dispatch.worker_wake_until_ms', 1)`);
  await c.query(`insert into ${table} (v) select g from generate_series(1, 4) g`);
  const { rows: n } = await c.query(`select count(*)::int as n from ${table}`);
  const t0 = Date.now();
  let value = -1;
  while (Date.now() - t0 < 30_000) {
    value = Number((await c.query(`select dispatch.counter_value($1, 'admin') as v`, [counter])).rows[0].v);
    if (value === n[0].n) break;
    await sleep(100);
  }
  t.diagnostic(`published by the worker after ${Date.now() - t0} ms`);
  assert.equal(value, n[0].n, 'the worker published the write');
});

test('with no WAL-counted table left, tick drops the slot', { timeout: 60_000 }, async (t) => {
  if (!dbUrl || !db) return t.skip('SUPABASE_DB_URL is not set (the postgres role of the stack under test)');
  if (setupError) return t.skip(setupError);
  const c: pg.Client = db;
  // the table's next migration makes it a rows source (an event reads it now): released
  await c.query(`select dispatch.register_source($1, $2)`, [table, `public.sdw_process_${suffix}`]);
  const { rows: pub } = await c.query(
    `select count(*)::int as n from pg_publication_rel where prrelid = $1::regclass`,
    [table],
  );
  assert.equal(pub[0].n, 0, 'out of the publication');
  const { rows: others } = await c.query(
    `select count(*)::int as n from dispatch.wal_count_sources where (wanted or live) and source_table <> $1`,
    [table],
  );
  if (others[0].n > 0) return t.skip('another WAL-counted table exists on this database');
  // tick, as pg_cron calls it (if pg_cron got there first, this tick finds nothing to do)
  const { rows } = await c.query('select dispatch.tick() as r');
  if (rows[0].r.counts_from_wal !== undefined) assert.equal(rows[0].r.counts_from_wal, 'slot dropped');
  const { rows: slot } = await c.query(
    `select count(*)::int as n from pg_replication_slots where slot_name = $1`,
    [SLOT],
  );
  assert.equal(slot[0].n, 0, 'no slot holds WAL');
});
