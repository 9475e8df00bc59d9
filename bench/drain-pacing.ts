/**
 * Pacing of the drains under a steady stream of writes: drains that start again as soon as one
 * returns (back to back, the worker before session 9) against drains paced as the worker now paces
 * them (after a drain that found changes but not a full batch, the next one starts `--gap-ms` after
 * it). A drain call has a fixed cost of about 2 ms of CPU; back to back, drains that keep up take a
 * few dozen changes per call and pay it on each. Same writers, same rate, same rounds.
 *
 *   BENCH_DB_URL=postgresql://postgres:postgres@127.0.0.1:54640/postgres \
 *     npx tsx bench/drain-pacing.ts [--rate 3000] [--seconds 20] [--rounds 3] [--drains 2] [--gap-ms 25]
 *       [--clients 8] [--quick] [--json out.json]
 *
 * Each round, both variants in alternating order: the drains start, 8 pgbench clients write
 * bench.plugin (1 event, in_app + email, 2 counters) at `--rate` for `--seconds` (the backlog sampled
 * each second), the drains empty what is left. Reported per variant: the drain backends' CPU (/proc)
 * per change, changes per drain call, and the largest backlog in seconds of writes (how far the
 * drains fell behind: the pacing's price in freshness).
 */
import { drainsUnderWrites, WORKER_DRAIN_GAP_MS } from './support/drain-loops.ts';
import {
  benchArgs,
  connect,
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
  rate: { type: 'string', default: '3000' },
  seconds: { type: 'string', default: '20' },
  rounds: { type: 'string', default: '3' },
  drains: { type: 'string', default: '2' },
  'gap-ms': { type: 'string', default: String(WORKER_DRAIN_GAP_MS) },
  clients: { type: 'string', default: '8' },
});
const rate = Math.max(1, Number(args.rate));
const seconds = args.quick ? 3 : Math.max(1, Number(args.seconds));
const rounds = args.quick ? 1 : Math.max(1, Number(args.rounds));
const drains = Math.min(Math.max(1, Number(args.drains)), 16);
const gapMs = Math.max(1, Number(args['gap-ms']));
const clients = Math.max(1, Number(args.clients));

type Variant = 'paced' | 'back-to-back';
const { c: admin } = await connect();
const postgres = await postgresVersion(admin);
await setupPgbenchFixture(admin);
await admin.query(`select dispatch.set_setting('drain_parallel', to_jsonb($1::int))`, [Math.max(drains, 4)]);
await admin.query(`delete from dispatch.changes where source_table = 'bench.plugin'`);
const restoreTick = await pauseTickDrains(admin);

const rows: Row[] = [];
const cpu: Record<Variant, number[]> = { paced: [], 'back-to-back': [] };
const perCall: Record<Variant, number[]> = { paced: [], 'back-to-back': [] };
const behindS: Record<Variant, number[]> = { paced: [], 'back-to-back': [] };
const ratio: number[] = [];
/** The drains running while the writers write at `rate` for `secs`, then until the backlog is empty. */
async function phase(gap: number, secs: number) {
  const p = await drainsUnderWrites(admin, { drains, gapMs: gap, clients, seconds: secs, rate });
  return {
    tps: p.writes.tps,
    cpuMs: p.cpuMs,
    taken: p.taken,
    calls: p.calls,
    backlogMax: Math.max(...p.samples),
  };
}

try {
  // warm-up, not measured: the first phase after the fixture's setup fell seconds behind in either
  // variant (the tables' first autovacuum and analyze)
  await phase(0, Math.min(seconds, 5));
  for (let r = 1; r <= rounds; r++) {
    const order: Variant[] = r % 2 === 1 ? ['paced', 'back-to-back'] : ['back-to-back', 'paced'];
    const perRound: Partial<Record<Variant, number>> = {};
    for (const v of order) {
      const { tps, cpuMs, taken, calls, backlogMax } = await phase(v === 'paced' ? gapMs : 0, seconds);
      const c = cpuMs / Math.max(taken, 1);
      const behind = backlogMax / Math.max(tps, 1);
      cpu[v].push(c);
      perCall[v].push(taken / Math.max(calls, 1));
      behindS[v].push(behind);
      perRound[v] = c;
      rows.push({
        round: r,
        drains: v,
        gap_ms: v === 'paced' ? gapMs : 0,
        write_tps: round(tps, 0),
        changes: taken,
        calls,
        cpu_ms_per_change: round(c, 3),
        changes_per_call: round(taken / Math.max(calls, 1), 1),
        backlog_max: backlogMax,
        behind_max_s: round(behind, 2),
      });
      log(
        `round ${r} ${v}: ${tps.toFixed(0)} writes/s, ${taken} changes in ${calls} calls ` +
          `(${(taken / Math.max(calls, 1)).toFixed(1)} per call), CPU ${c.toFixed(3)} ms/change, backlog max ${backlogMax} (${behind.toFixed(2)} s of writes)`,
      );
    }
    if (perRound.paced && perRound['back-to-back']) ratio.push(perRound.paced / perRound['back-to-back']);
  }
} finally {
  await restoreTick();
}

const p = spread(cpu.paced);
const b = spread(cpu['back-to-back']);
const q = spread(ratio);
log(
  `\n${postgres}, ${clients} writers at ${rate}/s, ${drains} drains, ${seconds} s per variant:\n` +
    `  drain CPU per change: paced (${gapMs} ms) ${fmtSpread(p, 'ms', 3)}, back to back ${fmtSpread(b, 'ms', 3)}; ratio ${fmtSpread(q, '×')}\n` +
    `  changes per call: paced ${fmtSpread(spread(perCall.paced), '', 1)}, back to back ${fmtSpread(spread(perCall['back-to-back']), '', 1)}\n` +
    `  most behind (s of writes): paced ${fmtSpread(spread(behindS.paced), 's')}, back to back ${fmtSpread(spread(behindS['back-to-back']), 's')}`,
);
writeReport(args.json, {
  name: 'drain-pacing',
  title:
    'Drain CPU per change under steady writes: paced drains (the worker since session 9) against back to back',
  quick: args.quick,
  postgres,
  rows,
  summary: { rate, seconds, rounds, drains, gapMs, clients, cpu: { paced: p, backToBack: b }, ratio: q },
  targets: [
    {
      measure: `drain CPU per change, ${clients} writers at ${rate}/s, ${drains} drains paced ${gapMs} ms`,
      comparedWith: 'the same drains back to back, same rounds',
      target: '',
      result:
        `${fmtSpread(p, 'ms', 3)} vs ${fmtSpread(b, 'ms', 3)} (${fmtSpread(q, '×')}); ` +
        `${fmtSpread(spread(perCall.paced), '', 0)} vs ${fmtSpread(spread(perCall['back-to-back']), '', 0)} changes per call; ` +
        `most behind ${fmtSpread(spread(behindS.paced), 's')} vs ${fmtSpread(spread(behindS['back-to-back']), 's')}`,
      met: null,
    },
  ],
});
await admin.end();
