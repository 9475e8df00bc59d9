/**
 * 16 concurrent connections hammer one counter (rows moving in and out of its condition by insert,
 * update and delete, one transaction each); afterwards the last value broadcast per scope (highest
 * seq, read from realtime.messages) must equal what dispatch.reconcile_counters() recomputes from the
 * source table, and no broadcast value may be negative. Covers an unsharded per-user counter and a
 * sharded audience counter (published at commit), maintained two ways: inside the writers'
 * transactions (the shape strict events and hand-written triggers use) and captured by
 * dispatch.capture_changes() and applied after commit by two concurrent dispatch.drain() loops (the
 * shape the generator emits).
 *
 * Needs SUPABASE_DB_URL (the postgres role) with the core migration applied; uses
 * SUPABASE_ADMIN_DB_URL, when set, to remove the test's realtime messages afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';

const dbUrl = process.env.SUPABASE_DB_URL;
const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;
const WRITERS = 16;
const OPS_PER_WRITER = 40;
const OWNERS = ['a', 'b', 'c', 'd'].map((c) => `00000000-0000-0000-0000-0000000000${c}${c}`);
const suffix = Math.random().toString(36).slice(2, 8);

/** One source table with its two counters, maintained inline or captured and drained. */
interface Fixture {
  mode: 'inline' | 'captured';
  table: string;
  userCounter: string;
  allCounter: string;
  fn: string;
}
const fixtures: Fixture[] = (['inline', 'captured'] as const).map((mode, i) => ({
  mode,
  table: `public.sdc_items_${suffix}_${i}`,
  userCounter: `sdc_open_${suffix}_${i}`,
  allCounter: `sdc_all_${suffix}_${i}`,
  fn: `public.sdc_counters_${suffix}_${i}`,
}));
let setupError: string | null = null;
let db: pg.Client | undefined;

/** The deltas of both counters from relations `new_rows` / `old_rows` (SQL text substituted in). */
function deltasSql(op: string, newRows: string, oldRows: string): string {
  if (op === 'INSERT')
    return `mine := array(select row(n.owner::text, count(*))::dispatch.counter_delta from ${newRows} n where n.open group by n.owner);
        alls := array(select row('admin', count(*))::dispatch.counter_delta from ${newRows} n where n.open);`;
  if (op === 'DELETE')
    return `mine := array(select row(o.owner::text, -count(*))::dispatch.counter_delta from ${oldRows} o where o.open group by o.owner);
        alls := array(select row('admin', -count(*))::dispatch.counter_delta from ${oldRows} o where o.open);`;
  return `mine := array(select row(s, sum(d))::dispatch.counter_delta from (
          select n.owner::text as s, 1 as d from ${newRows} n where n.open
          union all select o.owner::text, -1 from ${oldRows} o where o.open) x group by s);
        alls := array(select row('admin', sum(d))::dispatch.counter_delta from (
          select 1 as d from ${newRows} n where n.open union all select -1 from ${oldRows} o where o.open) x);`;
}

function setupSql(f: Fixture): string {
  const captured = f.mode === 'captured';
  // captured: the rows of every change in the batch (an INSERT has only new rows, a DELETE only old
  // ones, so one +new / -old formula serves a batch of mixed operations, as the generator's does)
  const rows = (side: 'new_rows' | 'old_rows') =>
    `(select r.* from unnest(p_changes) as ch cross join lateral json_populate_recordset(null::${f.table}, ch.${side}) as r)`;
  const body = captured
    ? `
    declare
      mine dispatch.counter_delta[];
      alls dispatch.counter_delta[];
    begin
      ${deltasSql('UPDATE', rows('new_rows'), rows('old_rows'))}
      perform dispatch.apply_counter_deltas('${f.userCounter}', mine);
      perform dispatch.apply_counter_deltas('${f.allCounter}', alls);
    end`
    : `
    declare
      mine dispatch.counter_delta[];
      alls dispatch.counter_delta[];
    begin
      if tg_op = 'INSERT' then
        ${deltasSql('INSERT', 'new_rows', 'old_rows')}
      elsif tg_op = 'DELETE' then
        ${deltasSql('DELETE', 'new_rows', 'old_rows')}
      else
        ${deltasSql('UPDATE', 'new_rows', 'old_rows')}
      end if;
      perform dispatch.apply_counter_deltas('${f.userCounter}', mine);
      perform dispatch.apply_counter_deltas('${f.allCounter}', alls);
      return null;
    end`;
  const trigger = captured ? 'dispatch.capture_changes' : f.fn;
  return `
    create table ${f.table} (id bigint generated always as identity primary key, owner uuid not null, open boolean not null);
    select dispatch.register_counter('${f.userCounter}', 'user', null, array['items'], 1, '${f.table}',
      'select owner::text, count(*) from ${f.table} where open group by owner');
    select dispatch.register_counter('${f.allCounter}', 'audience', 'admin', array['items'], 8, '${f.table}',
      'select ''admin'', count(*) from ${f.table} where open');
    create function ${f.fn}(${captured ? 'p_changes dispatch.changes[]' : ''}) returns ${captured ? 'void' : 'trigger'}
      language plpgsql security definer set search_path = '' as $f$ ${body} $f$;
    ${captured ? `select dispatch.register_source('${f.table}', '${f.fn}');` : ''}
    create trigger c_ins after insert on ${f.table} referencing new table as new_rows
      for each statement execute function ${trigger}();
    create trigger c_upd after update on ${f.table} referencing old table as old_rows new table as new_rows
      for each statement execute function ${trigger}();
    create trigger c_del after delete on ${f.table} referencing old table as old_rows
      for each statement execute function ${trigger}();`;
}

before(async () => {
  if (!dbUrl) return;
  db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  const { rows } = await db.query(`select to_regprocedure('dispatch.drain(integer)') is not null as ok,
                                          to_regclass('realtime.messages') is not null as rt`);
  if (!rows[0].ok)
    setupError = 'the supadispatch core is not installed (apply supabase/migrations/*_supadispatch_core.sql)';
  else if (!rows[0].rt) setupError = 'realtime.messages does not exist';
  else for (const f of fixtures) await db.query(setupSql(f));
});

after(async () => {
  if (!db) return;
  if (!setupError) {
    for (const f of fixtures) {
      await db.query(`drop table if exists ${f.table} cascade; drop function if exists ${f.fn};
                      select dispatch.unregister_source('${f.table}');
                      delete from dispatch.counters_def where name in ('${f.userCounter}', '${f.allCounter}');`);
    }
    if (adminUrl) {
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(
        `delete from realtime.messages where event = 'counter' and payload ->> 'name' = any($1)`,
        [fixtures.flatMap((f) => [f.userCounter, f.allCounter])],
      );
      await admin.end();
    }
  }
  await db.end();
});

/** Deterministic pseudo-random numbers per writer, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function writer(table: string, n: number): Promise<number> {
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  const rand = rng(n + 1);
  let retries = 0;
  try {
    for (let i = 0; i < OPS_PER_WRITER; i++) {
      const owner = OWNERS[Math.floor(rand() * OWNERS.length)];
      const other = OWNERS[Math.floor(rand() * OWNERS.length)];
      const r = rand();
      const sql =
        r < 0.35
          ? `insert into ${table} (owner, open) select $1::uuid, g % 3 <> 0 from generate_series(1, 1 + (random() * 3)::int) g`
          : r < 0.6
            ? `update ${table} set open = not open where id in (select id from ${table} where owner = $1::uuid order by random() limit 3)`
            : r < 0.8
              ? `update ${table} set owner = $2::uuid where id in (select id from ${table} where owner = $1::uuid order by random() limit 2)`
              : `delete from ${table} where id in (select id from ${table} where owner = $1::uuid order by random() limit 2)`;
      const params = sql.includes('$2') ? [owner, other] : [owner];
      for (let attempt = 0; ; attempt++) {
        try {
          await client.query('begin');
          await client.query(sql, params);
          await client.query('commit');
          break;
        } catch (error) {
          await client.query('rollback').catch(() => {});
          const code = (error as { code?: string }).code;
          if ((code === '40P01' || code === '40001') && attempt < 20) {
            retries++;
            continue;
          }
          throw error;
        }
      }
    }
  } finally {
    await client.end();
  }
  return retries;
}

/** Drains in a loop until told to stop, then until nothing is left. Returns the changes it took. */
async function drainer(stop: { done: boolean }): Promise<number> {
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  let taken = 0;
  try {
    for (let round = 0; round < 100_000; round++) {
      const { rows } = await client.query<{ n: number }>('select dispatch.drain(50) as n');
      taken += rows[0].n;
      if (rows[0].n === 0) {
        if (stop.done) {
          const { rows: left } = await client.query<{ n: number }>(
            'select count(*)::int as n from dispatch.changes where error is null',
          );
          if (left[0].n === 0) break;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  } finally {
    await client.end();
  }
  return taken;
}

for (const f of fixtures) {
  test(`16 concurrent writers (${f.mode}): last broadcast value per scope equals reconcile`, {
    timeout: 180_000,
  }, async (t) => {
    if (!dbUrl || !db)
      return t.skip('SUPABASE_DB_URL is not set (the postgres role of the stack under test)');
    if (setupError) return t.skip(setupError);
    const c: pg.Client = db;
    const stop = { done: false };
    const drainers = f.mode === 'captured' ? [drainer(stop), drainer(stop)] : [];
    const retries = await Promise.all(Array.from({ length: WRITERS }, (_, n) => writer(f.table, n)));
    stop.done = true;
    const drained = await Promise.all(drainers);
    t.diagnostic(
      `writers done; deadlock/serialization retries: ${retries.reduce((a, b) => a + b, 0)}` +
        (f.mode === 'captured' ? `; changes drained by the two drainers: ${drained.join(' + ')}` : ''),
    );
    if (f.mode === 'captured') {
      const { rows: left } = await c.query<{ n: number }>(
        `select count(*)::int as n from dispatch.changes where source_table = $1`,
        [f.table],
      );
      assert.equal(left[0].n, 0, 'every captured change was processed (none failed, none left)');
      assert.ok(drained.reduce((a, b) => a + b, 0) > 0, 'the drainers processed the captured changes');
    }

    for (const name of [f.userCounter, f.allCounter]) {
      const { rows: last } = await c.query<{ topic: string; value: string; seq: string }>(
        `select distinct on (topic) topic, (payload ->> 'value')::bigint as value, (payload ->> 'seq')::bigint as seq
         from realtime.messages where event = 'counter' and payload ->> 'name' = $1
         order by topic, (payload ->> 'seq')::bigint desc`,
        [name],
      );
      const { rows: expected } = await c.query<{ scope: string; expected: string; actual: string }>(
        `select scope, expected, actual from dispatch.reconcile_counters($1, false)`,
        [name],
      );
      assert.ok(expected.length > 0, `${name}: reconcile returned scopes`);
      const prefix = name === f.userCounter ? 'dispatch:user:' : 'dispatch:audience:';
      const lastByScope = new Map(last.map((r) => [String(r.topic).slice(prefix.length), Number(r.value)]));
      for (const row of expected) {
        const broadcast = lastByScope.get(row.scope) ?? 0;
        assert.equal(
          broadcast,
          Number(row.expected),
          `${name} scope ${row.scope}: last broadcast value = recount`,
        );
        assert.equal(
          Number(row.actual),
          Number(row.expected),
          `${name} scope ${row.scope}: stored value = recount`,
        );
      }
      const { rows: neg } = await c.query<{ n: number }>(
        `select count(*)::int as n from realtime.messages where event = 'counter' and payload ->> 'name' = $1
         and (payload ->> 'value')::bigint < 0`,
        [name],
      );
      assert.equal(neg[0].n, 0, `${name}: no negative value was ever broadcast`);
      const { rows: seqs } = await c.query<{ topic: string; n: number; d: number }>(
        `select topic, count(*)::int as n, count(distinct payload ->> 'seq')::int as d from realtime.messages
         where event = 'counter' and payload ->> 'name' = $1 group by topic`,
        [name],
      );
      for (const s of seqs) assert.equal(s.n, s.d, `${name} ${s.topic}: seq never repeats`);
    }
  });
}
