/**
 * Several dispatch.drain() calls at once (drain_parallel slots): 4 writers capture single-row
 * INSERTs while 4 drain loops process them; afterwards every written row was processed exactly once
 * (the processor logs each row it sees: one log row per written row, none twice), no change is left
 * or failed, and the table's per-user counter equals dispatch.reconcile_counters (deltas deferred to
 * each drain's ordered flush; no deadlock between drains).
 *
 * Needs SUPABASE_DB_URL (the postgres role) with the core migration applied.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { connectDb } from './fixtures/connect.ts';

const dbUrl = process.env.SUPABASE_DB_URL;
const suffix = Math.random().toString(36).slice(2, 8);
const table = `public.sdp_items_${suffix}`;
const log = `public.sdp_log_${suffix}`;
const counter = `sdp_open_${suffix}`;
const fn = `public.sdp_process_${suffix}`;
const WRITERS = 4;
const DRAINS = 4;
const ROWS_PER_WRITER = 150;
const OWNERS = ['a', 'b', 'c', 'd', 'e'].map((c) => `00000000-0000-0000-0000-0000000000${c}${c}`);
let db: pg.Client | undefined;
let setting: unknown;

before(async () => {
  if (!dbUrl) return;
  db = await connectDb(dbUrl);
  setting = (await db.query(`select value from dispatch.settings where key = 'drain_parallel'`)).rows[0]
    ?.value;
  await db.query(`select dispatch.set_setting('drain_parallel', '4')`);
  await db.query(`
    create table ${table} (id bigint generated always as identity primary key, owner uuid not null);
    create table ${log} (row_id bigint not null, change_id bigint not null);
    select dispatch.register_counter('${counter}', 'user', null, '{}', 1, '${table}',
      'select owner::text, count(*) from ${table} group by 1');
    create function ${fn}(p_changes dispatch.changes[]) returns void
    language plpgsql security definer set search_path = '' as $$
    begin
      insert into ${log} (row_id, change_id)
      select (n ->> 'id')::bigint, ch.id from unnest(p_changes) ch cross join lateral json_array_elements(ch.new_rows) n;
      perform dispatch.apply_counter_deltas('${counter}', array(
        select row(n ->> 'owner', count(*))::dispatch.counter_delta
        from unnest(p_changes) ch cross join lateral json_array_elements(ch.new_rows) n group by n ->> 'owner'));
    end $$;
    select dispatch.register_source('${table}', '${fn}');
    create trigger dispatch_capture_insert after insert on ${table} referencing new table as new_rows
      for each statement execute function dispatch.capture_changes();`);
});

after(async () => {
  if (!db) return;
  await db.query(`delete from dispatch.changes where source_table = '${table}'`);
  await db.query(`select dispatch.unregister_source('${table}')`);
  await db.query(`delete from dispatch.counters_def where name = '${counter}'`);
  await db.query(`drop table if exists ${table}, ${log}; drop function if exists ${fn}(dispatch.changes[])`);
  if (setting !== undefined)
    await db.query(`update dispatch.settings set value = $1 where key = 'drain_parallel'`, [
      JSON.stringify(setting),
    ]);
  await db.end();
});

test('concurrent drains process every captured change exactly once, counters exact', {
  timeout: 180_000,
}, async (t) => {
  if (!dbUrl || !db) return t.skip('SUPABASE_DB_URL is not set');
  const writers = await Promise.all(Array.from({ length: WRITERS }, () => connectDb(dbUrl)));
  const drains = await Promise.all(Array.from({ length: DRAINS }, () => connectDb(dbUrl)));
  let writing = true;
  const taken: number[] = drains.map(() => 0);
  const errors: string[] = [];
  const drainLoops = drains.map(async (c, i) => {
    // bounded: stops once writers are done and a call finds nothing, or after many idle calls
    for (let idle = 0; idle < 2000; ) {
      try {
        const n = Number((await c.query('select dispatch.drain(7) as n')).rows[0].n);
        taken[i] += n;
        if (n === 0) {
          if (!writing) break;
          idle++;
          await new Promise((r) => setTimeout(r, 5));
        }
      } catch (e) {
        errors.push((e as Error).message);
        break;
      }
    }
  });
  await Promise.all(
    writers.map(async (c, w) => {
      for (let i = 0; i < ROWS_PER_WRITER; i++)
        await c.query(`insert into ${table} (owner) values ($1)`, [OWNERS[(w + i) % OWNERS.length]]);
    }),
  );
  writing = false;
  await Promise.all(drainLoops);
  // whatever a loop left (it stopped on an empty call while another still held changes)
  while (Number((await db.query('select dispatch.drain(500) as n')).rows[0].n) > 0) {}
  await Promise.all([...writers, ...drains].map((c) => c.end()));

  assert.deepEqual(errors, [], 'no drain failed (no deadlock)');
  const { rows } = await db.query(`select
      (select count(*) from ${table})::int as written,
      (select count(*) from ${log})::int as logged,
      (select count(distinct row_id) from ${log})::int as distinct_rows,
      (select count(*) from dispatch.changes where source_table = '${table}')::int as left_`);
  assert.equal(rows[0].written, WRITERS * ROWS_PER_WRITER);
  assert.equal(rows[0].logged, rows[0].written, 'each row processed once: as many log rows as written rows');
  assert.equal(rows[0].distinct_rows, rows[0].written, 'no row processed twice');
  assert.equal(rows[0].left_, 0, 'no change left or failed');
  assert.ok(taken.filter((n) => n > 0).length >= 1, 'the drains took the changes');
  const { rows: rc } = await db.query(
    `select scope, expected, actual from dispatch.reconcile_counters($1, false) where expected <> actual`,
    [counter],
  );
  assert.deepEqual(rc, [], 'the counter equals reconcile');
});
