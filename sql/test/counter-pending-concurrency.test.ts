/**
 * Counts-only counters (dispatch.count_changes: the writers keep running totals in
 * dispatch.counter_pending, every dispatch.drain() publishes their sum) under 16 concurrent writers
 * inserting and deleting rows of one table, a third of their transactions rolled back, while two
 * dispatch.drain() loops publish. Afterwards: the last value broadcast per counter equals
 * dispatch.reconcile_counters() and the stored value, no broadcast value was ever negative (deletes
 * of rows other writers just inserted are published with or after those inserts), seq never repeats
 * and grows with every broadcast, and no dispatch.changes row was written. Then one writer held in
 * flight: a drain neither waits for it nor publishes it, the worker's linger (worker_linger_ms) keeps it
 * polling while the write is in flight or unpublished, and the next drain after the commit publishes it.
 *
 * Needs SUPABASE_DB_URL (the postgres role) with the core migration applied; uses
 * SUPABASE_ADMIN_DB_URL, when set, to remove the test's realtime messages afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { drainer, writer } from './fixtures/count-writers.ts';

const dbUrl = process.env.SUPABASE_DB_URL;
const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;
const WRITERS = 16;
const OPS_PER_WRITER = 60;
const suffix = Math.random().toString(36).slice(2, 8);
const table = `public.sdp_items_${suffix}`;
const counters = [`sdp_all_${suffix}`, `sdp_ops_${suffix}`];
let setupError: string | null = null;
let db: pg.Client | undefined;

before(async () => {
  if (!dbUrl) return;
  db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  const { rows } = await db.query(`select to_regprocedure('dispatch.count_changes()') is not null as ok,
                                          to_regclass('realtime.messages') is not null as rt`);
  if (!rows[0].ok) setupError = 'the supadispatch core (with dispatch.count_changes) is not installed';
  else if (!rows[0].rt) setupError = 'realtime.messages does not exist';
  else {
    // the generator's shape for a table whose counters all count every row into one audience scope
    await db.query(`
      create table ${table} (id bigint generated always as identity primary key, v int not null);
      select dispatch.register_counter('${counters[0]}', 'audience', 'admin', array['items'], 8, '${table}',
        'select ''admin'', count(*) from ${table}');
      select dispatch.register_counter('${counters[1]}', 'audience', 'ops', array['items'], 8, '${table}',
        'select ''ops'', count(*) from ${table}');
      create trigger dispatch_capture_insert after insert on ${table} referencing new table as new_rows
        for each statement execute function dispatch.count_changes('${counters[0]}', 'admin', '${counters[1]}', 'ops');
      create trigger dispatch_capture_delete after delete on ${table} referencing old table as old_rows
        for each statement execute function dispatch.count_changes('${counters[0]}', 'admin', '${counters[1]}', 'ops');`);
  }
});

after(async () => {
  if (!db) return;
  if (!setupError) {
    await db.query(
      `drop table if exists ${table} cascade;
                    delete from dispatch.counters_def where name = any($1);`.replace(
        '$1',
        `array['${counters.join("','")}']`,
      ),
    );
    if (adminUrl) {
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(
        `delete from realtime.messages where event = 'counter' and payload ->> 'name' = any($1)`,
        [counters],
      );
      await admin.end();
    }
  }
  await db.end();
});

test('counts-only counters: 16 writers with rollbacks, 2 drains publishing: exact, never negative', {
  timeout: 180_000,
}, async (t) => {
  if (!dbUrl || !db) return t.skip('SUPABASE_DB_URL is not set (the postgres role of the stack under test)');
  if (setupError) return t.skip(setupError);
  const c: pg.Client = db;
  const stop = { done: false };
  const drainers = [drainer(dbUrl, stop, 50, 2), drainer(dbUrl, stop, 50, 2)];
  const rolledBack = await Promise.all(
    Array.from({ length: WRITERS }, (_, n) =>
      writer(dbUrl, table, n + 7, { ops: OPS_PER_WRITER, insertShare: 0.55 }),
    ),
  );
  stop.done = true;
  await Promise.all(drainers);
  t.diagnostic(`transactions rolled back: ${rolledBack.reduce((a, b) => a + b, 0)}`);
  const { rows: changes } = await c.query(
    `select count(*)::int as n from dispatch.changes where source_table = $1`,
    [table],
  );
  assert.equal(changes[0].n, 0, 'no change row: the writers counted');
  const { rows: count } = await c.query(`select count(*)::int as n from ${table}`);
  assert.ok(count[0].n > 0, 'rows are left to count');

  for (const name of counters) {
    const { rows: last } = await c.query(
      `select (payload ->> 'value')::bigint as value from realtime.messages where event = 'counter' and payload ->> 'name' = $1
       order by (payload ->> 'seq')::bigint desc limit 1`,
      [name],
    );
    const { rows: rec } = await c.query(
      `select scope, expected, actual from dispatch.reconcile_counters($1, false)`,
      [name],
    );
    assert.equal(rec.length, 1, `${name}: one scope`);
    assert.equal(Number(rec[0].expected), count[0].n, `${name}: reconcile counts the table`);
    assert.equal(Number(rec[0].actual), count[0].n, `${name}: stored value = recount`);
    assert.equal(Number(last[0]?.value), count[0].n, `${name}: last broadcast value = recount`);
    const { rows: neg } = await c.query(
      `select count(*)::int as n from realtime.messages where event = 'counter' and payload ->> 'name' = $1
       and (payload ->> 'value')::bigint < 0`,
      [name],
    );
    assert.equal(neg[0].n, 0, `${name}: no negative value was ever broadcast`);
    const { rows: seqs } = await c.query(
      `select count(*)::int as n, count(distinct payload ->> 'seq')::int as d from realtime.messages
       where event = 'counter' and payload ->> 'name' = $1`,
      [name],
    );
    assert.equal(seqs[0].n, seqs[0].d, `${name}: seq never repeats`);
    assert.ok(seqs[0].n > 1, `${name}: published more than once while the writers ran`);
  }
});

test('65 writers in flight at once never wait for each other (more than 64: a slot per pid % 64 would be shared)', {
  timeout: 120_000,
}, async (t) => {
  if (!dbUrl || !db) return t.skip('SUPABASE_DB_URL is not set (the postgres role of the stack under test)');
  if (setupError) return t.skip(setupError);
  const c: pg.Client = db;
  const clients = Array.from({ length: 65 }, () => new pg.Client({ connectionString: dbUrl }));
  try {
    await Promise.all(clients.map((w) => w.connect()));
    // every writer keeps its transaction open while the next one writes: a shared slot row would make
    // the later writer wait for the earlier one's commit (lock_timeout turns that wait into an error)
    for (const w of clients) {
      await w.query('begin');
      await w.query(`set local lock_timeout = '3s'`);
      await w.query(`insert into ${table} (v) values (1)`);
    }
    for (const w of clients) await w.query('commit');
    await c.query('select dispatch.drain(50)');
    const { rows: n } = await c.query(`select count(*)::int as n from ${table}`);
    const { rows: v } = await c.query(`select dispatch.counter_value($1, 'admin') as v`, [counters[0]]);
    assert.equal(Number(v[0].v), n[0].n, 'the published value equals the table');
  } finally {
    await Promise.all(clients.map((w) => w.end().catch(() => {})));
  }
});

test('a writer in flight: drains do not wait for it, a lingering worker keeps polling until its total is published', {
  timeout: 60_000,
}, async (t) => {
  if (!dbUrl || !db) return t.skip('SUPABASE_DB_URL is not set (the postgres role of the stack under test)');
  if (setupError) return t.skip(setupError);
  const c: pg.Client = db;
  const writer = new pg.Client({ connectionString: dbUrl });
  const drainer = new pg.Client({ connectionString: dbUrl });
  await Promise.all([writer.connect(), drainer.connect()]);
  try {
    await writer.query(`insert into ${table} (v) values (1)`); // the writer's slot row exists now
    await drainer.query('select dispatch.drain(50)');
    await writer.query('begin');
    await writer.query(`insert into ${table} (v) values (2), (3)`);
    // the writer holds its slot row until it commits: a drain must neither wait for it nor publish it
    await drainer.query(`set lock_timeout = '2s'`);
    const before = Number(
      (await c.query(`select dispatch.counter_value($1, 'admin') as v`, [counters[0]])).rows[0].v,
    );
    await drainer.query('select dispatch.drain(50)');
    assert.equal(
      Number((await c.query(`select dispatch.counter_value($1, 'admin') as v`, [counters[0]])).rows[0].v),
      before,
      'nothing of the uncommitted write is published',
    );
    // past the poked worker's linger: only the writer in flight keeps it polling
    await c.query(`update dispatch.worker_wake set next_poke_at = 'epoch'`);
    assert.equal(
      Number((await drainer.query('select dispatch.worker_linger_ms() as ms')).rows[0].ms),
      100,
      'a slot writer in flight: the worker keeps polling',
    );
    await writer.query('commit');
    const value = async () =>
      Number((await c.query(`select dispatch.counter_value($1, 'admin') as v`, [counters[0]])).rows[0].v);
    const { rows: n } = await c.query(`select count(*)::int as n from ${table}`);
    // (a tick or another drain on this database may publish it first: then there is nothing to wait for)
    const ms = Number((await drainer.query('select dispatch.worker_linger_ms() as ms')).rows[0].ms);
    assert.ok(ms === 100 || (await value()) === n[0].n, 'committed, not published yet: still polling');
    await drainer.query('select dispatch.drain(50)');
    assert.equal(await value(), n[0].n, 'the next drain publishes it: the value equals the table');
  } finally {
    await writer.query('rollback').catch(() => {});
    await Promise.all([writer.end(), drainer.end()]);
  }
});
