/**
 * Sustained rate: the writes per second 8 clients keep up while drains run, with the backlog of
 * captured changes bounded and every receipt, notification and counter produced (bench.plugin: 1
 * event with 2 channels -- inline in_app and email -- and 2 counters, one per user and one sharded
 * audience counter), against bare INSERT tps in the same run. Issue 20's target: >= 0.35x bare.
 *
 *   BENCH_DB_URL=postgresql://postgres:postgres@127.0.0.1:55440/postgres \
 *     npx tsx bench/drain-sustained.ts [--seconds 60] [--rounds 3] [--drains 4] [--clients 8] [--quick] [--json out.json]
 *
 * Each round, interleaved (the order alternates): (1) bare: pgbench single-row INSERTs, full speed;
 * (2) plugin, full speed, with `--drains` loops calling dispatch.drain(500): what the drains process
 * per second under that load estimates the sustainable rate (half their catch-up rate when no drain
 * call finished inside the phase); (3) plugin throttled to that estimate
 * (pgbench -R) with the drains: the backlog is sampled each second and called bounded when the last
 * sample is under 2 s of writes. Then the drains catch up and the round checks what was produced:
 * one occurrence, one in_app receipt with its notification and one email receipt per write, and both
 * counters equal to dispatch.reconcile_counters (no failed change). The sustained rate of a round is
 * the throttled phase's tps when bounded, else what the drains processed per second in it.
 * Drain CPU per change under load: the drain backends' /proc CPU over the changes they took.
 */
import type pg from 'pg';
import {
  backendCpuMs,
  benchArgs,
  connect,
  fmtSpread,
  log,
  type PgbenchResult,
  pgbench,
  postgresVersion,
  type Row,
  round,
  setupPgbenchFixture,
  sleep,
  spread,
  writeReport,
} from './support/sql-bench.ts';

const args = benchArgs({
  seconds: { type: 'string', default: '60' },
  rounds: { type: 'string', default: '3' },
  drains: { type: 'string', default: '4' },
  clients: { type: 'string', default: '8' },
});
const seconds = args.quick ? 3 : Math.max(1, Number(args.seconds));
const rounds = args.quick ? 1 : Math.max(1, Number(args.rounds));
const drains = Math.min(Math.max(1, Number(args.drains)), 16);
const clients = Math.max(1, Number(args.clients));

const { c: admin } = await connect();
const postgres = await postgresVersion(admin);
await setupPgbenchFixture(admin);
await admin.query(`select dispatch.set_setting('drain_parallel', to_jsonb($1::int))`, [Math.max(drains, 4)]);
await admin.query(`delete from dispatch.changes where source_table = 'bench.plugin'`);

/** Drain loops: each calls dispatch.drain(500) until stopped (a short sleep when it found nothing). */
async function startDrains(n: number) {
  const conns = await Promise.all(Array.from({ length: n }, () => connect()));
  const state = { stop: false, taken: 0, errors: [] as string[] };
  const cpu0 = conns.map(({ pid }) => backendCpuMs(pid));
  const loops = conns.map(async ({ c }) => {
    while (!state.stop) {
      try {
        const n = Number((await c.query('select dispatch.drain(500) as n')).rows[0].n);
        state.taken += n;
        if (n === 0) await sleep(20);
      } catch (e) {
        state.errors.push((e as Error).message);
        await sleep(100);
      }
    }
  });
  return {
    state,
    cpuMs: () => conns.reduce((sum, { pid }, i) => sum + backendCpuMs(pid) - cpu0[i], 0),
    async stop() {
      state.stop = true;
      await Promise.all(loops);
      await Promise.all(conns.map(({ c }) => c.end()));
    },
  };
}

async function backlog(c: pg.Client): Promise<number> {
  const { rows } = await c.query(
    `select count(*)::int as n from dispatch.changes where source_table = 'bench.plugin' and error is null`,
  );
  return rows[0].n;
}

async function counts(c: pg.Client) {
  const { rows } = await c.query(`select
      (select count(*) from bench.plugin)::bigint as writes,
      (select count(*) from dispatch.occurrences where event_id = 'bench.order_created')::bigint as occurrences,
      (select count(*) from dispatch.receipts where event_id = 'bench.order_created' and transport = 'in_app')::bigint as in_app,
      (select count(*) from dispatch.receipts where event_id = 'bench.order_created' and transport = 'email')::bigint as email,
      (select count(*) from dispatch.notifications where event_id = 'bench.order_created')::bigint as notifications,
      (select count(*) from dispatch.changes where source_table = 'bench.plugin' and error is not null)::bigint as failed`);
  return Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, Number(v)])) as Record<
    string,
    number
  >;
}

/** One plugin phase with drains running: writers (full speed or throttled), backlog sampled each second. */
async function pluginPhase(rate?: number) {
  const d = await startDrains(drains);
  const b0 = await backlog(admin);
  const samples: number[] = [];
  let done = false;
  const run = pgbench('insert_plugin.sql', clients, seconds, rate).finally(() => {
    done = true;
  });
  while (!done) {
    await sleep(1000);
    if (!done) samples.push(await backlog(admin));
  }
  const res: PgbenchResult = await run;
  const b1 = await backlog(admin);
  const processed = res.transactions - (b1 - b0);
  // catch up (bounded: at most 10 min), then stop the drains
  const catchStart = Date.now();
  while ((await backlog(admin)) > 0 && Date.now() - catchStart < 600_000) await sleep(200);
  const catchUpMs = Date.now() - catchStart;
  // the drains' rate once the writers stopped (all the CPU theirs): an upper bound of the sustainable rate
  const catchUpPerS = b1 > 0 ? (b1 * 1000) / Math.max(catchUpMs, 1) : Number.NaN;
  const cpu = d.cpuMs();
  const taken = d.state.taken;
  await d.stop();
  if (d.state.errors.length) log(`  drain errors: ${d.state.errors.slice(0, 3).join('; ')}`);
  return {
    tps: res.tps,
    writes: res.transactions,
    processedPerS: processed / seconds,
    backlogEnd: b1,
    backlogMax: Math.max(b1, ...samples),
    catchUpMs,
    catchUpPerS,
    drainCpuPerChange: cpu / Math.max(taken, 1),
    drainErrors: d.state.errors.length,
  };
}

const rows: Row[] = [];
const ratios: number[] = [];
const fullRatios: number[] = [];
const cpuPerChange: number[] = [];
let allProduced = true;
for (let r = 1; r <= rounds; r++) {
  const before = await counts(admin);
  const order = r % 2 === 1 ? ['bare', 'plugin'] : ['plugin', 'bare'];
  let bare = 0;
  let full: Awaited<ReturnType<typeof pluginPhase>> | undefined;
  for (const which of order) {
    if (which === 'bare') bare = (await pgbench('insert_bare.sql', clients, seconds)).tps;
    else full = await pluginPhase();
  }
  if (!full) throw new Error('no plugin phase');
  // what the drains kept up with while the writers ran; when a first long claim hid that (nothing
  // finished in the window), half the catch-up rate
  const kept = full.processedPerS > 0 ? full.processedPerS : full.catchUpPerS / 2;
  const estimate = Math.max(1, Math.floor(Math.min(full.tps, Number.isFinite(kept) ? kept : full.tps)));
  const throttled = await pluginPhase(estimate);
  const bounded = throttled.backlogEnd <= Math.max(2 * throttled.tps, 100);
  const sustained = bounded ? throttled.tps : throttled.processedPerS;
  const after = await counts(admin);
  const { rows: rc } =
    await admin.query(`select count(*)::int as n from dispatch.reconcile_counters(null, false)
    where name in ('bench_open_orders', 'bench_all_open_orders') and expected <> actual`);
  const dw = after.writes - before.writes;
  const produced =
    after.occurrences - before.occurrences === dw &&
    after.in_app - before.in_app === dw &&
    after.email - before.email === dw &&
    after.notifications - before.notifications === dw &&
    after.failed === 0 &&
    rc[0].n === 0;
  allProduced &&= produced;
  ratios.push(sustained / bare);
  fullRatios.push(full.processedPerS / bare);
  cpuPerChange.push(full.drainCpuPerChange, throttled.drainCpuPerChange);
  const row: Row = {
    round: r,
    bare_tps: round(bare, 0),
    full_write_tps: round(full.tps, 0),
    full_processed_per_s: round(full.processedPerS, 0),
    full_backlog_end: full.backlogEnd,
    full_catch_up_ms: full.catchUpMs,
    full_catch_up_per_s: Number.isFinite(full.catchUpPerS) ? round(full.catchUpPerS, 0) : null,
    throttled_rate: estimate,
    throttled_tps: round(throttled.tps, 0),
    throttled_processed_per_s: round(throttled.processedPerS, 0),
    throttled_backlog_max: throttled.backlogMax,
    throttled_backlog_end: throttled.backlogEnd,
    bounded,
    sustained_tps: round(sustained, 0),
    ratio_to_bare: round(sustained / bare, 3),
    drain_cpu_ms_per_change: round(full.drainCpuPerChange, 3),
    counter_mismatches: rc[0].n,
    all_produced: produced,
  };
  rows.push(row);
  log(
    `round ${r}: bare ${row.bare_tps} tps; plugin full speed ${row.full_write_tps} tps written, ` +
      `${row.full_processed_per_s}/s drained (backlog ${full.backlogEnd} at the end, caught up in ${full.catchUpMs} ms); ` +
      `throttled to ${estimate}/s: ${row.throttled_tps} tps, backlog max ${throttled.backlogMax} end ${throttled.backlogEnd} ` +
      `(${bounded ? 'bounded' : 'growing'}); sustained ${row.sustained_tps}/s = ${row.ratio_to_bare}x bare; ` +
      `drain CPU ${row.drain_cpu_ms_per_change} ms/change; all produced: ${produced}`,
  );
}

const ratio = spread(ratios);
const cpu = spread(cpuPerChange);
log(
  `\nclients=${clients} drains=${drains} seconds=${seconds} rounds=${rounds}  ${postgres}\n` +
    `sustained rate / bare INSERT: ${fmtSpread(ratio, '×')}   (target >= 0.35x)\n` +
    `drained per second at full write speed / bare: ${fmtSpread(spread(fullRatios), '×')}\n` +
    `drain CPU per change under load: ${fmtSpread(cpu, 'ms', 3)}\n` +
    `every receipt, notification and counter produced: ${allProduced}`,
);
writeReport(args.json, {
  name: 'drain-sustained',
  title: 'Sustained write rate with drains running (1 event, 2 channels, 2 counters) vs bare INSERT',
  quick: args.quick,
  postgres,
  rows,
  summary: { clients, drains, seconds, rounds, ratio, cpuPerChange: cpu, allProduced },
  targets: [
    {
      measure: `sustained rate, ${clients} clients, ${drains} drains`,
      comparedWith: 'bare INSERT tps, same run',
      target: '≥ 0.35×',
      result: fmtSpread(ratio, '×'),
      met: allProduced ? ratio.median >= 0.35 : false,
    },
  ],
});
await admin.end();
