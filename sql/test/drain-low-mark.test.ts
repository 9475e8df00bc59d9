/**
 * The drains' low mark (sql/core/069_drain_low_mark.sql): the id where their scans of
 * dispatch.changes start. It must never pass a change that is still waiting or may still commit:
 *   - a change held by a transaction still open while later ones are drained;
 *   - the changes of a drain that rolls back;
 *   - a drain called in a transaction that has written already (it does not move the mark).
 * Each test also checks that every row is processed exactly once, and that the mark does move.
 * Other drains (the stack's worker, poked by the commits; pg_cron's tick) may run at the same time:
 * the assertions hold whoever drains. Needs SUPABASE_DB_URL (the postgres role) with the core applied.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { connectDb } from './fixtures/connect.ts';
import { createLoggedSource, type LoggedSource } from './fixtures/logged-source.ts';

const dbUrl = process.env.SUPABASE_DB_URL;
let table = '';
let log = '';
let source: LoggedSource | undefined;
let db: pg.Client | undefined;

before(async () => {
  if (!dbUrl) return;
  db = await connectDb(dbUrl);
  source = await createLoggedSource(db, 'sdl');
  ({ table, log } = source);
});

after(async () => {
  if (!db) return;
  await source?.drop();
  await db.end();
});

const mark = async (c: pg.Client) =>
  Number((await c.query('select dispatch.changes_low_id() as m')).rows[0].m);

/** The change id of each of this table's rows still waiting. */
async function waitingIds(c: pg.Client): Promise<number[]> {
  const { rows } = await c.query(`select id from dispatch.changes where source_table = $1 order by id`, [
    table,
  ]);
  return rows.map((r) => Number(r.id));
}

/** Drains (autocommit calls) until nothing is taken; after each call the mark is below every waiting change. */
async function drainChecked(c: pg.Client, max = 5): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const n = Number((await c.query('select dispatch.drain($1) as n', [max])).rows[0].n);
    const ids = await waitingIds(c);
    const m = await mark(c);
    if (ids.length) assert.ok(m <= ids[0], `the mark ${m} stays at or below the waiting change ${ids[0]}`);
    if (n === 0 && ids.length === 0) return;
    if (n === 0) await new Promise((r) => setTimeout(r, 50)); // another drain holds them
  }
  assert.fail('the changes were not drained within 1000 calls');
}

async function assertEachOnce(c: pg.Client): Promise<void> {
  const { rows } = await c.query(`select
      (select count(*) from ${table})::int as written,
      (select count(*) from ${log})::int as logged,
      (select count(distinct row_id) from ${log})::int as distinct_rows`);
  assert.equal(rows[0].logged, rows[0].written, 'each row processed once');
  assert.equal(rows[0].distinct_rows, rows[0].written, 'no row processed twice');
  assert.deepEqual(await waitingIds(c), [], 'no change left or failed');
}

test('the mark moves past drained changes, and never past one an open transaction still holds', async (t) => {
  if (!dbUrl || !db) return t.skip('SUPABASE_DB_URL is not set');
  const open = await connectDb(dbUrl);
  try {
    for (let i = 0; i < 10; i++) await db.query(`insert into ${table} default values`);
    await drainChecked(db);
    const before = await mark(db);

    // a change whose id is handed out now, committed only after later changes were drained
    await open.query('begin');
    await open.query(`insert into ${table} default values`);
    const held = Number(
      (await open.query(`select max(id) as id from dispatch.changes where source_table = $1`, [table]))
        .rows[0].id,
    );
    for (let i = 0; i < 20; i++) await db.query(`insert into ${table} default values`);
    await drainChecked(db);
    assert.ok((await mark(db)) <= held, `the mark stays at or below ${held} while its transaction is open`);
    await open.query('commit');
    await drainChecked(db);
    await assertEachOnce(db);

    // with nothing open, the next drains take the mark past everything drained so far
    for (let i = 0; i < 10; i++) await db.query(`insert into ${table} default values`);
    await drainChecked(db);
    assert.ok((await mark(db)) > Math.max(before, held), `the mark moved past ${held}`);
  } finally {
    await open.query('rollback').catch(() => {});
    await open.end();
  }
});

test('a drain that rolls back, and one in a transaction that wrote first, leave the mark below their changes', async (t) => {
  if (!dbUrl || !db) return t.skip('SUPABASE_DB_URL is not set');
  const c = await connectDb(dbUrl);
  try {
    for (let attempt = 1; attempt <= 5; attempt++) {
      for (let i = 0; i < 12; i++) await db.query(`insert into ${table} default values`);
      await c.query('begin');
      const took = Number((await c.query('select dispatch.drain(4) as n')).rows[0].n);
      await c.query('rollback');
      if (took > 0) break; // another drain took them all first: try again
    }
    const ids = await waitingIds(db);
    const m = await mark(db);
    if (ids.length) assert.ok(m <= ids[0], `after the rollback the mark ${m} is at or below ${ids[0]}`);
    await drainChecked(db);
    await assertEachOnce(db);

    // a transaction that wrote before it drains: its drain does not move the mark
    for (let i = 0; i < 6; i++) await db.query(`insert into ${table} default values`);
    await c.query('begin');
    await c.query(`insert into ${log} (row_id) values (-1)`); // an xid before the drain
    const tookWritten = Number((await c.query('select dispatch.drain(500) as n')).rows[0].n);
    await c.query('rollback');
    t.diagnostic(`the drain in a transaction that wrote first took ${tookWritten}`);
    const left = await waitingIds(db);
    if (left.length)
      assert.ok((await mark(db)) <= left[0], 'the mark is below what the rolled-back drain took');
    await drainChecked(db);
    await assertEachOnce(db);
  } finally {
    await c.query('rollback').catch(() => {});
    await c.end();
  }
});

test('under REPEATABLE READ the mark is not moved (one snapshot for the whole transaction)', async (t) => {
  if (!dbUrl || !db) return t.skip('SUPABASE_DB_URL is not set');
  const c = await connectDb(dbUrl);
  try {
    await c.query('begin isolation level repeatable read');
    await c.query(`insert into ${log} (row_id) values (-2)`); // an xid, as a drain's claim takes
    const m = await mark(c);
    // the smallest step the function could take: past id m, if m is not waiting
    const { rows } = await c.query(
      'select dispatch.advance_changes_low_id($1::bigint, $1::bigint, $1::bigint + 1) as moved',
      [m],
    );
    assert.equal(rows[0].moved, false, 'the mark is not moved');
  } finally {
    await c.query('rollback').catch(() => {});
    await c.end();
  }
});
