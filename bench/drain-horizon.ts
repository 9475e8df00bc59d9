/**
 * Drain cost while something holds the database's xmin horizon (a report query, a backup, an
 * autovacuum's ANALYZE of a large table): dead changes then cannot be removed nor skipped cheaply,
 * and a drain that scanned dispatch.changes from its oldest id walked every one of them. The drains
 * start at their low mark (sql/core/069_drain_low_mark.sql) instead; this measure compares, in the
 * same rounds, draining with a REPEATABLE READ snapshot held open ("held") and without ("free").
 * With the mark the two should cost about the same; without it, "held" grew with every change drained.
 *
 *   BENCH_DB_URL=postgresql://postgres:postgres@127.0.0.1:54640/postgres \
 *     npx tsx bench/drain-horizon.ts [--changes 20000] [--batch 50] [--rounds 3] [--quick] [--json out.json]
 *
 * Each round, "held" and "free" in alternating order: `--changes` captured single-row INSERTs
 * (bench.plugin: 1 event, in_app + email, 2 counters), then one connection drains them with
 * dispatch.drain(`--batch`) calls (small batches, as drains that keep up with their writers get),
 * its backend CPU (/proc) per change and wall time per call. "held" opens the snapshot before the
 * INSERTs and closes it after the drain; "free" runs VACUUM on dispatch.changes first.
 */
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
  changes: { type: 'string', default: '20000' },
  batch: { type: 'string', default: '50' },
  rounds: { type: 'string', default: '3' },
});
const changes = args.quick ? 1000 : Math.max(100, Number(args.changes));
const batch = Math.max(1, Number(args.batch));
const rounds = args.quick ? 1 : Math.max(1, Number(args.rounds));

type Variant = 'held' | 'free';
const { c: admin } = await connect();
const postgres = await postgresVersion(admin);
await setupPgbenchFixture(admin);
await admin.query(`delete from dispatch.changes where source_table = 'bench.plugin'`);
const restoreTick = await pauseTickDrains(admin);
const holder = await connect();
const drainer = await connect();

const rows: Row[] = [];
const cpu: Record<Variant, number[]> = { held: [], free: [] };
const callMs: Record<Variant, number[]> = { held: [], free: [] };
const ratio: number[] = [];
try {
  captureInserts(40); // warm-up: the drain path's plans compiled once for the session
  await drainAll(drainer.c, batch);
  for (let r = 1; r <= rounds; r++) {
    const order: Variant[] = r % 2 === 1 ? ['held', 'free'] : ['free', 'held'];
    const perRound: Partial<Record<Variant, number>> = {};
    for (const v of order) {
      if (v === 'held') {
        await holder.c.query('begin isolation level repeatable read');
        await holder.c.query('select count(*) from dispatch.settings'); // takes the snapshot
      } else await admin.query('vacuum dispatch.changes');
      captureInserts(changes);
      const cpu0 = backendCpuMs(drainer.pid);
      const t0 = performance.now();
      let calls = 0;
      let taken = 0;
      for (;;) {
        const n = Number((await drainer.c.query('select dispatch.drain($1) as n', [batch])).rows[0].n);
        calls++;
        if (n === 0) break;
        taken += n;
      }
      const wallMs = performance.now() - t0;
      const cpuMs = backendCpuMs(drainer.pid) - cpu0;
      if (v === 'held') await holder.c.query('rollback');
      const dead = Number(
        (
          await admin.query(
            `select n_dead_tup::int as n from pg_stat_user_tables where relid = 'dispatch.changes'::regclass`,
          )
        ).rows[0].n,
      );
      const c = cpuMs / taken;
      cpu[v].push(c);
      callMs[v].push(wallMs / calls);
      perRound[v] = c;
      rows.push({
        round: r,
        horizon: v,
        changes: taken,
        calls,
        cpu_ms: cpuMs,
        wall_ms: round(wallMs, 0),
        cpu_ms_per_change: round(c, 3),
        wall_ms_per_call: round(wallMs / calls, 2),
        dead_changes_after: dead,
      });
      log(
        `round ${r} ${v}: ${taken} changes in ${calls} calls, CPU ${c.toFixed(3)} ms/change, ${(wallMs / calls).toFixed(1)} ms/call, ${dead} dead changes after`,
      );
    }
    if (perRound.held && perRound.free) ratio.push(perRound.held / perRound.free);
  }
} finally {
  await holder.c.query('rollback').catch(() => {});
  await restoreTick();
}

const h = spread(cpu.held);
const f = spread(cpu.free);
const q = spread(ratio);
log(
  `\n${postgres}, ${changes} changes per round drained ${batch} at a time:\n` +
    `  drain CPU per change: held ${fmtSpread(h, 'ms', 3)}, free ${fmtSpread(f, 'ms', 3)}; held/free ${fmtSpread(q, '×')}\n` +
    `  per call: held ${fmtSpread(spread(callMs.held), 'ms', 1)}, free ${fmtSpread(spread(callMs.free), 'ms', 1)}`,
);
writeReport(args.json, {
  name: 'drain-horizon',
  title: 'Drain CPU per change with the xmin horizon held by an open snapshot, against without',
  quick: args.quick,
  postgres,
  rows,
  summary: { changes, batch, rounds, cpu: { held: h, free: f }, ratio: q },
  targets: [
    {
      measure: `drain per change, ${changes.toLocaleString('en')} changes drained ${batch} at a time, a snapshot held open`,
      comparedWith: 'the same without the snapshot, same rounds',
      target: '',
      result: `CPU ${fmtSpread(h, 'ms', 3)} vs ${fmtSpread(f, 'ms', 3)} (${fmtSpread(q, '×')})`,
      met: null,
    },
  ],
});
await holder.c.end();
await drainer.c.end();
await admin.end();
