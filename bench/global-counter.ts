/**
 * One global counter under 16 writers: single-row INSERTs into a table whose one counter is a
 * sharded audience counter every write touches (scope `all`), against the same table with counters
 * off (no trigger), side by side in interleaved rounds; drains run during the counted phase and the
 * counter must equal dispatch.reconcile_counters afterwards. Issue 20's target: >= 0.7x counters off.
 * The counted table is set up the way the generator emits it since session 6: a table whose counters all
 * count every row into one scope is counted by its writers (dispatch.count_changes: the statement's row
 * count added to the backend's running total in dispatch.counter_pending, no dispatch.changes row), and
 * every drain publishes the sum. Its backlog is what the drains have not published yet.
 * For reference a third table applies the same counter inside the write (a hand-written statement
 * trigger calling dispatch.apply_counter_deltas: what a strict event does).
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
delete from dispatch.counters_def where name like 'bench\\_gc\\_%';
create schema bench_gc;
create table bench_gc.off (id bigint generated always as identity primary key, amount int not null,
  created_at timestamptz not null default now());
create table bench_gc.counted (like bench_gc.off including all);
create table bench_gc.inline (like bench_gc.off including all);
select dispatch.register_counter('bench_gc_total', 'audience', 'all', array['total'], 16, 'bench_gc.counted',
  'select ''all'', count(*) from bench_gc.counted');
select dispatch.register_counter('bench_gc_inline', 'audience', 'all', array['total'], 16, 'bench_gc.inline',
  'select ''all'', count(*) from bench_gc.inline');
-- the generator's shape for a table whose one counter counts every row into one scope (sdk
-- sql/counter.ts countsEveryRow, sql/source.ts): the writers count (insert and delete), the processor
-- stays registered for changes an older trigger captured
create function bench_gc.process(p_changes dispatch.changes[]) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.apply_counter_deltas('bench_gc_total', array(
    select row('all', x.d)::dispatch.counter_delta
    from (
      select sum(case ch.operation when 'INSERT' then 1 when 'DELETE' then -1 else 0 end
                 * coalesce(nullif(ch.row_count, 0), json_array_length(coalesce(ch.new_rows, ch.old_rows)), 0)) as d
      from unnest(p_changes) as ch
    ) x
    where x.d <> 0
  ));
end $$;
select dispatch.register_source('bench_gc.counted', 'bench_gc.process');
create trigger dispatch_capture_insert after insert on bench_gc.counted referencing new table as new_rows
  for each statement execute function dispatch.count_changes('bench_gc_total', 'all');
create trigger dispatch_capture_delete after delete on bench_gc.counted referencing old table as old_rows
  for each statement execute function dispatch.count_changes('bench_gc_total', 'all');
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
for (const t of ['off', 'counted', 'inline']) {
  scripts[t] = join(tmpdir(), `global-counter-${t}-${process.pid}.sql`);
  writeFileSync(scripts[t], `insert into bench_gc.${t} (amount) values (1);\n`);
}

const { c: admin } = await connect();
const postgres = await postgresVersion(admin);
await admin.query(FIXTURE);
await admin.query(`select dispatch.set_setting('drain_parallel', to_jsonb(greatest($1::int, 4)))`, [drains]);

/** Changes waiting (an older capture) plus the writes the drains have not published yet. */
async function backlog(c: pg.Client): Promise<number> {
  const { rows } = await c.query(
    `select (select count(*) from dispatch.changes where source_table = 'bench_gc.counted' and error is null)
          + abs((select coalesce(sum(total), 0) from dispatch.counter_pending where name = 'bench_gc_total')
                - (select coalesce(max(pending_seen), 0) from dispatch.counter_state where name = 'bench_gc_total'))::int as n`,
  );
  return Number(rows[0].n);
}

/** The counted table's phase: writers with drains running; then the drains catch up (bounded). */
async function countedPhase() {
  const conns = await Promise.all(Array.from({ length: drains }, () => connect()));
  let stop = false;
  const loops = conns.map(async ({ c }) => {
    while (!stop) {
      const n = Number((await c.query('select dispatch.drain(500) as n')).rows[0].n);
      if (n === 0) await sleep(20);
    }
  });
  const res = await pgbench(scripts.counted, clients, seconds);
  const end = await backlog(admin);
  const t0 = Date.now();
  while ((await backlog(admin)) > 0 && Date.now() - t0 < 300_000) await sleep(100);
  stop = true;
  await Promise.all(loops);
  await Promise.all(conns.map(({ c }) => c.end()));
  return { tps: res.tps, backlogEnd: end, catchUpMs: Date.now() - t0 };
}

const rows: Row[] = [];
const ratios: number[] = [];
const inlineRatios: number[] = [];
let exact = true;
for (let r = 1; r <= rounds; r++) {
  const order = [
    ['off', 'counted', 'inline'],
    ['counted', 'inline', 'off'],
    ['inline', 'off', 'counted'],
  ][(r - 1) % 3];
  const tps: Record<string, number> = {};
  let counted = { tps: 0, backlogEnd: 0, catchUpMs: 0 };
  for (const t of order) {
    if (t === 'counted') {
      counted = await countedPhase();
      tps.counted = counted.tps;
    } else tps[t] = (await pgbench(scripts[t], clients, seconds)).tps;
  }
  const { rows: rc } =
    await admin.query(`select count(*)::int as n from dispatch.reconcile_counters(null, false)
    where name in ('bench_gc_total', 'bench_gc_inline') and expected <> actual`);
  exact &&= rc[0].n === 0;
  ratios.push(tps.counted / tps.off);
  inlineRatios.push(tps.inline / tps.off);
  const row: Row = {
    round: r,
    off_tps: round(tps.off, 0),
    counted_tps: round(tps.counted, 0),
    inline_tps: round(tps.inline, 0),
    ratio_counted: round(tps.counted / tps.off, 3),
    ratio_inline: round(tps.inline / tps.off, 3),
    backlog_end: counted.backlogEnd,
    catch_up_ms: counted.catchUpMs,
    counters_exact: rc[0].n === 0,
  };
  rows.push(row);
  log(
    `round ${r}: counters off ${row.off_tps} tps, global counter (capture + ${drains} drains) ${row.counted_tps} tps ` +
      `(${row.ratio_counted}x; backlog ${counted.backlogEnd} at the end, caught up in ${counted.catchUpMs} ms), ` +
      `in the write ${row.inline_tps} tps (${row.ratio_inline}x); counters exact: ${row.counters_exact}`,
  );
}
const ratio = spread(ratios);
log(
  `\n${clients} clients, ${seconds} s, ${rounds} rounds  ${postgres}\n` +
    `global counter / counters off: ${fmtSpread(ratio, '×')} (target >= 0.7x); ` +
    `applied in the write instead: ${fmtSpread(spread(inlineRatios), '×')}; counters exact: ${exact}`,
);
writeReport(args.json, {
  name: 'global-counter',
  title: `${clients} clients on one global counter vs counters off`,
  quick: args.quick,
  postgres,
  rows,
  summary: { clients, seconds, rounds, drains, ratio, inlineRatio: spread(inlineRatios), exact },
  targets: [
    {
      measure: `${clients} clients on one global counter`,
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
await admin.query(`delete from dispatch.counters_def where name like 'bench\\_gc\\_%'`);
await admin.end();
