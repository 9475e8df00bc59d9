/**
 * Drain CPU per captured change: what dispatch.drain() costs its backend for single-row changes of
 * bench.plugin (1 event with 2 channels -- inline in_app and email -- and 2 counters), from /proc
 * (utime + stime), so other load on the machine moves it little; and the wall time of processing one
 * captured 10,000-row statement. Issue 20's target: <= 0.2 ms per single-row change.
 *
 *   BENCH_DB_URL=postgresql://postgres:postgres@127.0.0.1:55440/postgres \
 *     npx tsx bench/drain-cpu.ts [--changes 2000] [--rounds 5] [--bulk 10000] [--profile] [--quick] [--json out.json]
 *
 * Each round: pgbench writes `--changes` single-row INSERTs (4 clients; nothing drains meanwhile:
 * the drain setting poke is off and no worker runs), then one warmed-up connection drains them all
 * with dispatch.drain(500) calls; its CPU over the changes taken is the round's figure. Then one
 * `--bulk`-row INSERT and dispatch.drain(1) timed. `--profile` (superuser URL in
 * SUPABASE_ADMIN_DB_URL): track_functions = all for one extra round, the functions by self time.
 */
import pg from 'pg';
import {
  backendCpuMs,
  benchArgs,
  captureInserts,
  connect,
  drainAll,
  fmtSpread,
  log,
  pauseTickDrains,
  postgresVersion,
  type Row,
  round,
  setupPgbenchFixture,
  spread,
  writeReport,
} from './support/sql-bench.ts';

const args = benchArgs({
  changes: { type: 'string', default: '2000' },
  rounds: { type: 'string', default: '5' },
  bulk: { type: 'string', default: '10000' },
  profile: { type: 'boolean', default: false },
});
const changes = args.quick ? 200 : Math.max(10, Number(args.changes));
const rounds = args.quick ? 1 : Math.max(1, Number(args.rounds));
const bulk = args.quick ? 500 : Math.max(10, Number(args.bulk));

const { c: admin } = await connect();
const postgres = await postgresVersion(admin);
await setupPgbenchFixture(admin);
await admin.query(`delete from dispatch.changes where source_table = 'bench.plugin'`);
const restoreTick = await pauseTickDrains(admin);
process.on('uncaughtException', async (e) => {
  await restoreTick().catch(() => {});
  console.error(e);
  process.exit(1);
});
const drainer = await connect();
// warm-up: plans of the drain path compiled once for the session
captureInserts(40);
await drainAll(drainer.c);

const rows: Row[] = [];
const perChange: number[] = [];
// realtime.messages rows the drains wrote (broadcasts: one per topic per drain since session 5),
// counted by inserted_at (indexed) from the drainer's own clock; null where the table is absent
async function realtimeRowsSince(since: string): Promise<number | null> {
  try {
    const { rows: n } = await admin.query(
      'select count(*)::int as n from realtime.messages where inserted_at >= $1::timestamp',
      [since],
    );
    return n[0].n;
  } catch {
    return null;
  }
}
const rtPerChange: number[] = [];
for (let r = 1; r <= rounds; r++) {
  captureInserts(changes);
  const since = (await drainer.c.query(`select localtimestamp::text as t`)).rows[0].t as string;
  const cpu0 = backendCpuMs(drainer.pid);
  const t0 = performance.now();
  const taken = await drainAll(drainer.c);
  const wall = performance.now() - t0;
  const cpu = backendCpuMs(drainer.pid) - cpu0;
  const rt = await realtimeRowsSince(since);
  perChange.push(cpu / taken);
  if (rt !== null) rtPerChange.push(rt / taken);
  rows.push({
    kind: 'single-row',
    round: r,
    changes: taken,
    cpu_ms: cpu,
    wall_ms: round(wall, 0),
    cpu_ms_per_change: round(cpu / taken, 3),
    changes_per_s_wall: round((taken * 1000) / wall, 0),
    realtime_rows: rt,
    realtime_rows_per_change: rt === null ? null : round(rt / taken, 2),
  });
  log(
    `round ${r}: ${taken} single-row changes, drain CPU ${cpu} ms = ${(cpu / taken).toFixed(3)} ms/change (wall ${wall.toFixed(0)} ms), ${rt ?? '?'} realtime rows`,
  );
}

const bulkMs: number[] = [];
for (let r = 1; r <= Math.min(rounds, 3); r++) {
  await admin.query(
    `insert into bench.plugin (user_id, amount)
     select ('00000000-0000-0000-0000-' || lpad((1 + g % 1000)::text, 12, '0'))::uuid, g from generate_series(1, $1::int) g`,
    [bulk],
  );
  const t0 = performance.now();
  await drainer.c.query('select dispatch.drain(1)');
  bulkMs.push(performance.now() - t0);
  rows.push({ kind: 'bulk', round: r, changes: 1, rows: bulk, wall_ms: round(bulkMs[bulkMs.length - 1], 0) });
  log(`one ${bulk}-row change: ${bulkMs[bulkMs.length - 1].toFixed(0)} ms`);
}

let profile: Row[] = [];
const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;
if (args.profile && adminUrl) {
  const su = new pg.Client({ connectionString: adminUrl });
  await su.connect();
  captureInserts(changes);
  await su.query(`set track_functions = 'all'`);
  await su.query('select pg_stat_reset()');
  const taken = await drainAll(su);
  await su.query('select pg_sleep(0.7)'); // stats are flushed at most every 500 ms
  const { rows: fr } = await su.query(
    `select funcname, calls, round(self_time::numeric, 1)::float8 as self_ms, round(total_time::numeric, 1)::float8 as total_ms
     from pg_stat_user_functions order by self_time desc limit 15`,
  );
  profile = fr.map((f) => ({ ...f, self_ms_per_change: round(f.self_ms / taken, 4) }));
  log('profile (track_functions, self time per change):');
  for (const f of profile)
    log(
      `  ${String(f.funcname).padEnd(36)} ${String(f.calls).padStart(6)} calls  ${f.self_ms_per_change} ms`,
    );
  await su.end();
}

const s = spread(perChange);
const b = spread(bulkMs);
log(
  `\n${postgres}: drain CPU per single-row change ${fmtSpread(s, 'ms', 3)} (target <= 0.2 ms); one ${bulk}-row change ${fmtSpread(b, 'ms', 0)}` +
    (rtPerChange.length ? `; realtime rows per change ${fmtSpread(spread(rtPerChange), '', 2)}` : ''),
);
writeReport(args.json, {
  name: 'drain-cpu',
  title: 'Drain CPU per captured single-row change; one captured bulk statement',
  quick: args.quick,
  postgres,
  rows: [...rows, ...profile.map((p) => ({ kind: 'profile', ...p }))],
  summary: {
    changes,
    rounds,
    bulk,
    cpuMsPerChange: s,
    bulkMs: b,
    realtimeRowsPerChange: rtPerChange.length ? spread(rtPerChange) : null,
  },
  targets: [
    {
      measure: 'drain CPU per single-row change',
      target: '≤ 0.2 ms',
      result: fmtSpread(s, 'ms', 3),
      met: s.median <= 0.2,
    },
  ],
});
await drainer.c.end();
await restoreTick();
await admin.end();
