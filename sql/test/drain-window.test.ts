/**
 * Two drains on one table's INSERTs run at once: while drain A holds its claim (its transaction still
 * open), drain B takes the next changes instead of finding nothing. Before session 6, both looked at
 * the same window of the oldest p_max_changes changes; A's claim filled it, B's INSERT bound (the
 * window's end) fell inside A's rows, and B returned 0, so parallel drains of one table ran one at a
 * time. Also: every change is processed exactly once, and nothing is left.
 *
 * The stack's worker (poked by the commit) may drain the same changes; a try where it took them is
 * repeated (at most 5 tries). Needs SUPABASE_DB_URL (the postgres role) with the core applied.
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
const CHANGES = 60;
const CLAIM = 20;
let db: pg.Client | undefined;
let setting: unknown;

before(async () => {
  if (!dbUrl) return;
  db = await connectDb(dbUrl);
  setting = (await db.query(`select value from dispatch.settings where key = 'drain_parallel'`)).rows[0]
    ?.value;
  await db.query(`select dispatch.set_setting('drain_parallel', '4')`);
  source = await createLoggedSource(db, 'sdw');
  ({ table, log } = source);
});

after(async () => {
  if (!db) return;
  await source?.drop();
  if (setting !== undefined)
    await db.query(`update dispatch.settings set value = $1 where key = 'drain_parallel'`, [
      JSON.stringify(setting),
    ]);
  await db.end();
});

const waiting = async (c: pg.Client) =>
  Number(
    (await c.query(`select count(*)::int as n from dispatch.changes where source_table = $1`, [table]))
      .rows[0].n,
  );

test('a second drain takes the next INSERTs of a table while the first holds its claim', async (t) => {
  if (!dbUrl || !db) return t.skip('SUPABASE_DB_URL is not set');
  const a = await connectDb(dbUrl);
  const b = await connectDb(dbUrl);
  try {
    let tookB = -1;
    for (let attempt = 1; attempt <= 5 && tookB < 0; attempt++) {
      // CHANGES single-row statements (one change each), committed together
      await db.query('begin');
      for (let i = 0; i < CHANGES; i++) await db.query(`insert into ${table} default values`);
      await db.query('commit');
      await a.query('begin');
      const tookA = Number((await a.query('select dispatch.drain($1) as n', [CLAIM])).rows[0].n);
      // someone else (another suite's worker) drained some of them first: try again
      const left = await waiting(b);
      if (tookA === 0 || left !== CHANGES) {
        await a.query('commit');
        while (Number((await db.query('select dispatch.drain(500) as n')).rows[0].n) > 0) {}
        continue;
      }
      tookB = Number((await b.query('select dispatch.drain($1) as n', [CLAIM])).rows[0].n);
      if (tookB === 0) {
        // B found nothing: the bug when some of the table's changes were free to take; another
        // drain holding all of them (a worker poked by the commit) is not, and the try is repeated
        await b.query('begin');
        const free = Number(
          (
            await b.query(
              `select count(*)::int as n from (select id from dispatch.changes where source_table = $1
                 and error is null for update skip locked) s`,
              [table],
            )
          ).rows[0].n,
        );
        await b.query('rollback');
        if (free === 0) tookB = -1;
      }
      await a.query('commit');
      if (tookB < 0) {
        while (Number((await db.query('select dispatch.drain(500) as n')).rows[0].n) > 0) {}
        continue;
      }
      assert.equal(tookA, CLAIM, 'drain A took its claim');
    }
    assert.ok(tookB >= 0, 'a try where no other drain interfered');
    assert.ok(tookB > 0, `drain B took changes while A held its claim (took ${tookB})`);
    while (Number((await db.query('select dispatch.drain(500) as n')).rows[0].n) > 0) {}
    const { rows } = await db.query(`select
        (select count(*) from ${table})::int as written,
        (select count(*) from ${log})::int as logged,
        (select count(distinct row_id) from ${log})::int as distinct_rows`);
    assert.equal(rows[0].logged, rows[0].written, 'each row processed once');
    assert.equal(rows[0].distinct_rows, rows[0].written, 'no row processed twice');
    assert.equal(await waiting(db), 0, 'no change left or failed');
  } finally {
    await a.query('rollback').catch(() => {});
    await a.end();
    await b.end();
  }
});
