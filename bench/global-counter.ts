/**
 * One global counter under 16 writers: single-row INSERTs into a table whose one counter is a
 * sharded audience counter every write touches (scope `all`), against the same table with counters
 * off (no trigger), side by side in interleaved rounds; drains run during the counted phase and the
 * counter must equal dispatch.reconcile_counters afterwards. Issue 20's target: >= 0.7x counters off.
 * The counted table is set up the way the generator emits it (session 7): a table whose counters all
 * count every row into one scope is counted from the WAL (sql/core/066_counts_from_wal.sql: its trigger
 * only wakes the worker, every drain decodes the committed inserts and deletes through a logical
 * replication slot); its backlog is what the drains have not published yet (rows minus the counter).
 * For reference, in the same rounds: the same counter counted by the writers (dispatch.count_changes:
 * the statement's row count added to the backend's running total in dispatch.counter_pending, what the
 * generator emitted in session 6 and what runs where no slot can exist), and the counter applied
 * inside the write (a hand-written statement trigger calling dispatch.apply_counter_deltas: what a
 * strict event does).
 *
 *   BENCH_DB_URL=postgresql://postgres:postgres@127.0.0.1:55440/postgres \
 *     npx tsx bench/global-counter.ts [--seconds 20] [--rounds 5] [--clients 16] [--drains 2] [--quick] [--json out.json]
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import {
  benchArgs,
  connect,
  fmtSpread,
  log,
  pgbench,
  postgresVersion,
  type Row,
  round,
  sleep,
  spread,
  writeReport,
} from './support/sql-bench.ts';

const args = benchArgs({
  seconds: { type: 'string', default: '20' },
  rounds: { type: 'string', default: '5' },
  clients: { type: 'string', default: '16' },
  drains: { type: 'string', default: '2' },
});
const seconds = args.quick ? 2 : Math.max(1, Number(args.seconds));
const rounds = args.quick ? 1 : Math.max(1, Number(args.rounds));
const clients = Math.max(1, Number(args.clients));
const drains = Math.min(Math.max(1, Number(args.drains)), 16);

const FIXTURE = `
drop schema if exists bench_gc cascade;
delete from dispatch.changes where source_table like 'bench_gc.%';
delete from dispatch.sources where source_table like 'bench_gc.%';
delete from dispatch.wal_count_sources where source_table like 'bench_gc.%';
delete from dispatch.counters_def where name like 'bench\\_gc\\_%';
create schema bench_gc;
create table bench_gc.off (id bigint generated always as identity primary key, amount int not null,
  created_at timestamptz not null default now());
create table bench_gc.counted (like bench_gc.off including all);
create table bench_gc.writers (like bench_gc.off including all);
create table bench_gc.inline (like bench_gc.off including all);
select dispatch.register_counter('bench_gc_total', 'audience', 'all', array['total'], 16, 'bench_gc.counted',
  'select ''all'', count(*) from bench_gc.counted');
select dispatch.register_counter('bench_gc_writers', 'audience', 'all', array['total'], 16, 'bench_gc.writers',
  'select ''all'', count(*) from bench_gc.writers');
select dispatch.register_counter('bench_gc_inline', 'audience', 'all', array['total'], 16, 'bench_gc.inline',
  'select ''all'', count(*) from bench_gc.inline');
-- the generator's shape for a table whose one counter counts every row into one scope (sdk
-- sql/counter.ts countsEveryRow, sql/source.ts): the writers' counting triggers, then count_from_wal,
-- which the slot (created below, in a transaction of its own) switches to counting from the WAL. The
-- processor stays registered for changes an older trigger captured.
create function bench_gc.process(p_changes dispatch.changes[]) returns void
language plpgsql security definer set search_path = '' as $$
begin
end $$;
select dispatch.register_source('bench_gc.counted', 'bench_gc.process');
select dispatch.register_source('bench_gc.writers', 'bench_gc.process');
create trigger dispatch_capture_insert after insert on bench_gc.counted referencing new table as new_rows
  for each statement execute function dispatch.count_changes('bench_gc_total', 'all');
create trigger dispatch_capture_delete after delete on bench_gc.counted referencing old table as old_rows
  for each statement execute function dispatch.count_changes('bench_gc_total', 'all');
select dispatch.count_from_wal('bench_gc.counted', array['bench_gc_total', 'all']);
-- the writers count (no count_from_wal): session 6's shape, kept where no slot can exist
create trigger dispatch_capture_insert after insert on bench_gc.writers referencing new table as new_rows
  for each statement execute function dispatch.count_changes('bench_gc_writers', 'all');
create trigger dispatch_capture_delete after delete on bench_gc.writers referencing old table as old_rows
  for each statement execute function dispatch.count_changes('bench_gc_writers', 'all');
create function bench_gc.inline_after_insert() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.apply_counter_deltas('bench_gc_inline', array(
    select row('all', count(*))::dispatch.counter_delta from new_rows));
  return null;
end $$;
create trigger inline_after_insert after insert on bench_gc.inline referencing new table as new_rows
  for each statement execute function bench_gc.inline_after_insert();
`;

const scripts: Record<string, string> = {};
for (const t of ['off', 'counted', 'writers', 'inline']) {
  scripts[t] = join(tmpdir(), `global-counter-${t}-${process.pid}.sql`);
  writeFileSync(scripts[t], `insert into bench_gc.${t} (amount) values (1);\n`);
}

const { c: admin } = await connect();
const postgres = await postgresVersion(admin);
await admin.query(FIXTURE);
// the slot and the switch: the first thing of a transaction of their own, as dispatch.tick() does them
const { rows: setup } = await admin.query('select done as s from dispatch.wal_counts_setup()');
const { rows: mode } = await admin.query(
  `select coalesce((select live from dispatch.wal_count_sources where source_table = 'bench_gc.counted'), false) as live`,
);
const countedBy = mode[0].live ? 'WAL' : 'writers';
log(
  `counted table: ${countedBy === 'WAL' ? 'counted from the WAL' : `counted by the writers (${setup[0].s ?? 'no slot'})`}`,
);
await admin.query(`select dispatch.set_setting('drain_parallel', to_jsonb(greatest($1::int, 4)))`, [drains]);

/** Writes the drains have not published yet: rows minus the counter (WAL), or unpublished totals. */
async function backlog(c: pg.Client, table: 'counted' | 'writers'): Promise<number> {
  const counter = table === 'counted' ? 'bench_gc_total' : 'bench_gc_writers';
  const { rows } = await c.query(
    `select abs((select count(*) from bench_gc.${table}) - dispatch.counter_value($1, 'all'))::int as n`,
    [counter],
  );
  return Number(rows[0].n);
}

/** A counted table's phase: writers with drains running; then the drains catch up (bounded). */
async function countedPhase(table: 'counted' | 'writers') {
  const conns = await Promise.all(Array.from({ length: drains }, () => connect()));
  let stop = false;
  const loops = conns.map(async ({ c }) => {
    while (!stop) {
      const n = Number((await c.query('select dispatch.drain(500) as n')).rows[0].n);
      if (n === 0) await sleep(20);
    }
  });
  const res = await pgbench(scripts[table], clients, seconds);
  const end = await backlog(admin, table);
  const t0 = Date.now();
  while ((await backlog(admin, table)) > 0 && Date.now() - t0 < 300_000) await sleep(100);
  stop = true;
  await Promise.all(loops);
  await Promise.all(conns.map(({ c }) => c.end()));
  return { tps: res.tps, backlogEnd: end, catchUpMs: Date.now() - t0 };
}

const rows: Row[] = [];
const ratios: number[] = [];
const writersRatios: number[] = [];
const inlineRatios: number[] = [];
let exact = true;
type Variant = 'off' | 'counted' | 'writers' | 'inline';
// each variant in each position once every four rounds
const orders: Variant[][] = [
  ['off', 'counted', 'writers', 'inline'],
  ['counted', 'writers', 'inline', 'off'],
  ['writers', 'inline', 'off', 'counted'],
  ['inline', 'off', 'counted', 'writers'],
];
for (let r = 1; r <= rounds; r++) {
  const tps = {} as Record<Variant, number>;
  const phases = {} as Record<'counted' | 'writers', { tps: number; backlogEnd: number; catchUpMs: number }>;
  for (const t of orders[(r - 1) % orders.length]) {
    if (t === 'counted' || t === 'writers') {
      phases[t] = await countedPhase(t);
      tps[t] = phases[t].tps;
    } else tps[t] = (await pgbench(scripts[t], clients, seconds)).tps;
  }
  const { rows: rc } =
    await admin.query(`select count(*)::int as n from dispatch.reconcile_counters(null, false)
    where name in ('bench_gc_total', 'bench_gc_writers', 'bench_gc_inline') and expected <> actual`);
  exact &&= rc[0].n === 0;
  ratios.push(tps.counted / tps.off);
  writersRatios.push(tps.writers / tps.off);
  inlineRatios.push(tps.inline / tps.off);
  const row: Row = {
    round: r,
    counted_by: countedBy,
    off_tps: round(tps.off, 0),
    counted_tps: round(tps.counted, 0),
    writers_tps: round(tps.writers, 0),
    inline_tps: round(tps.inline, 0),
    ratio_counted: round(tps.counted / tps.off, 3),
    ratio_writers: round(tps.writers / tps.off, 3),
    ratio_inline: round(tps.inline / tps.off, 3),
    backlog_end: phases.counted.backlogEnd,
    catch_up_ms: phases.counted.catchUpMs,
    writers_backlog_end: phases.writers.backlogEnd,
    counters_exact: rc[0].n === 0,
  };
  rows.push(row);
  log(
    `round ${r}: counters off ${row.off_tps} tps, global counter (${countedBy} + ${drains} drains) ${row.counted_tps} tps ` +
      `(${row.ratio_counted}x; backlog ${phases.counted.backlogEnd} at the end, caught up in ${phases.counted.catchUpMs} ms), ` +
      `counted by the writers ${row.writers_tps} tps (${row.ratio_writers}x), ` +
      `in the write ${row.inline_tps} tps (${row.ratio_inline}x); counters exact: ${row.counters_exact}`,
  );
}
const ratio = spread(ratios);
log(
  `\n${clients} clients, ${seconds} s, ${rounds} rounds  ${postgres}\n` +
    `global counter (${countedBy}) / counters off: ${fmtSpread(ratio, '×')} (target >= 0.7x); ` +
    `counted by the writers: ${fmtSpread(spread(writersRatios), '×')}; ` +
    `applied in the write instead: ${fmtSpread(spread(inlineRatios), '×')}; counters exact: ${exact}`,
);
writeReport(args.json, {
  name: 'global-counter',
  title: `${clients} clients on one global counter vs counters off`,
  quick: args.quick,
  postgres,
  rows,
  summary: {
    clients,
    seconds,
    rounds,
    drains,
    countedBy,
    ratio,
    writersRatio: spread(writersRatios),
    inlineRatio: spread(inlineRatios),
    exact,
  },
  targets: [
    {
      measure: `${clients} clients on one global counter (counted by ${countedBy === 'WAL' ? 'the WAL' : 'the writers'})`,
      comparedWith: 'counters off',
      target: '≥ 0.7×',
      result: fmtSpread(ratio, '×'),
      met: exact && ratio.median >= 0.7,
    },
  ],
});
await admin.query('drop schema if exists bench_gc cascade');
await admin.query(`delete from dispatch.changes where source_table like 'bench_gc.%'`);
await admin.query(`delete from dispatch.sources where source_table like 'bench_gc.%'`);
await admin.query(`delete from dispatch.wal_count_sources where source_table like 'bench_gc.%'`);
// a slot nobody counts from any more is dropped (it would hold WAL)
await admin.query('select dispatch.wal_counts_setup()');
await admin.query(`delete from dispatch.counters_def where name like 'bench\\_gc\\_%'`);
await admin.end();
