/**
 * The dispatch-worker's memory under sustained load (issue 20: "worker RSS under sustained load:
 * flat over 10 minutes"): the REAL worker (Deno, the local stack's functions service, init's
 * entrypoint, the default 50 s run budget, so a new run starts in the same process every ~50 s as
 * on hosted Supabase) delivering webhooks to the local sink while a feeder emits `--rate` receipts
 * per second for `--minutes`, poking the worker every second as pg_cron's tick would. Every
 * `--sample` seconds: the RSS of the worker's process (with its children), deliveries so far, the
 * backlog. Flat means, all three: the last minute's median RSS at most 10% over the second minute's
 * (the first is warm-up: JIT, pools, buffers); no steady slope over the second half (its least-squares
 * slope, carried over a run as long as this one, adds at most 10% too: a slow leak that the two
 * medians alone would let through); and one worker process throughout (a restart resets RSS and would
 * hide a leak).
 *
 *   SUPABASE_ADMIN_DB_URL=postgresql://supabase_admin:postgres@127.0.0.1:55122/postgres \
 *     node --conditions=supadispatch-source --import tsx bench/worker-rss.ts [--minutes 10] [--rate 200]
 *     [--quick] [--json <path>]
 *
 * `--quick`: 20 s at 100/s, a sample every 2 s (a smoke run: too short to say "flat").
 */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { pingRegistry, pingSql } from './support/ping-event.ts';
import { benchPool } from './support/pool.ts';
import {
  benchArgs,
  loadAverages,
  machineFacts,
  median,
  postgresVersion,
  writeReport,
} from './support/report.ts';
import { sleep, startWorkerBench } from './support/worker-stack.ts';

const args = benchArgs({
  minutes: { type: 'string' },
  rate: { type: 'string' },
  sample: { type: 'string' },
});
const minutes = Math.min(Math.max(Number(args.minutes ?? (args.quick ? 20 / 60 : 10)), 0.1), 60);
const rate = Math.min(Math.max(Number(args.rate ?? (args.quick ? 100 : 200)), 1), 5000);
const sampleSeconds = Math.min(Math.max(Number(args.sample ?? (args.quick ? 2 : 10)), 1), 60);
const loadBefore = loadAverages();

/** RSS in KiB of `pid` and its descendants (Linux /proc; NaN elsewhere). */
function treeRssKiB(pid: number): number {
  const parents = new Map<number, number>();
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      } catch {}
    }
  } catch {
    return Number.NaN;
  }
  let total = 0;
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.pop() as number;
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      total += match ? Number(match[1]) : 0;
    } catch {}
    for (const [child, parent] of parents) if (parent === p) queue.push(child);
  }
  return total;
}

const bench = await startWorkerBench({ registry: pingRegistry, sql: pingSql });
const db = benchPool(bench.adminDbUrl, 2);
const workerPid = () => bench.functions.processes().find((p) => p.name === 'dispatch-worker')?.pid ?? 0;
const url = `${bench.sink.url}/rss`;

interface Sample {
  seconds: number;
  /** The worker's process (a different pid: it was restarted). */
  pid: number;
  rssMiB: number;
  sent: number;
  backlog: number;
}
const samples: Sample[] = [];
console.log(
  `worker-rss: ${rate} webhooks/s for ${minutes} min, a sample every ${sampleSeconds} s; load average ${loadBefore.join(' ')}`,
);
try {
  const started = performance.now();
  const endAt = started + minutes * 60_000;
  let emitted = 0;
  let nextSample = started;
  let nextPoke = started;
  while (performance.now() < endAt) {
    // the feeder: the receipts due by now, in one statement per 100 ms
    const due = Math.floor(((performance.now() - started) / 1000) * rate) - emitted;
    if (due > 0) {
      await db.query(
        `select dispatch.emit('bench.ping', jsonb_build_object('url', $1::text, 'n', g)) from generate_series(1, $2::int) g`,
        [url, due],
      );
      emitted += due;
    }
    if (performance.now() >= nextPoke) {
      nextPoke += 1000;
      await (await bench.callWorker({})).text();
    }
    if (performance.now() >= nextSample) {
      nextSample += sampleSeconds * 1000;
      const { rows } = await db.query(
        `select count(*) filter (where status = 'sent')::int as sent,
                count(*) filter (where status in ('pending', 'scheduled', 'sending'))::int as backlog
         from dispatch.receipts`,
      );
      const pid = workerPid();
      const sample = {
        seconds: Math.round((performance.now() - started) / 1000),
        pid,
        rssMiB: +(treeRssKiB(pid) / 1024).toFixed(1),
        sent: rows[0].sent,
        backlog: rows[0].backlog,
      };
      samples.push(sample);
      console.log(
        `  ${String(sample.seconds).padStart(5)} s  RSS ${sample.rssMiB.toFixed(1).padStart(7)} MiB  sent ${String(sample.sent).padStart(7)}  backlog ${sample.backlog}`,
      );
    }
    await sleep(100);
  }
  const totalSeconds = (performance.now() - started) / 1000;
  // warm-up: the first minute (or the first third of a short run)
  const warm = Math.min(60, totalSeconds / 3);
  const window = Math.min(60, totalSeconds / 3);
  const rssIn = (from: number, to: number) =>
    median(samples.filter((s) => s.seconds >= from && s.seconds < to).map((s) => s.rssMiB));
  const early = rssIn(warm, warm + window);
  const late = rssIn(totalSeconds - window, totalSeconds + 1);
  // least-squares slope of RSS over the second half, MiB per minute
  const half = samples.filter((s) => s.seconds >= totalSeconds / 2);
  const mx = half.reduce((a, s) => a + s.seconds, 0) / half.length;
  const my = half.reduce((a, s) => a + s.rssMiB, 0) / half.length;
  const slope =
    (half.reduce((a, s) => a + (s.seconds - mx) * (s.rssMiB - my), 0) /
      Math.max(
        half.reduce((a, s) => a + (s.seconds - mx) ** 2, 0),
        1e-9,
      )) *
    60;
  const last = samples.at(-1) as Sample;
  const pids = [...new Set(samples.map((s) => s.pid))];
  const loadAfter = loadAverages();
  const summary = {
    emitted,
    delivered: last.sent,
    deliveredPerSecond: Math.round(last.sent / totalSeconds),
    backlogAtEnd: last.backlog,
    workerPids: pids,
    rssMiB: {
      first: samples[0].rssMiB,
      afterWarmup: early,
      last: late,
      max: Math.max(...samples.map((s) => s.rssMiB)),
      growthAfterWarmup: +(late - early).toFixed(1),
      slopeSecondHalfPerMinute: +slope.toFixed(2),
    },
  };
  console.log(
    `delivered ${summary.delivered} of ${emitted} (${summary.deliveredPerSecond}/s), backlog at the end ${summary.backlogAtEnd}`,
  );
  console.log(
    `RSS MiB: first ${summary.rssMiB.first}, after warm-up (median ${warm.toFixed(0)}-${(warm + window).toFixed(0)} s) ${early.toFixed(1)}, last ${window.toFixed(0)} s median ${late.toFixed(1)}, max ${summary.rssMiB.max}; growth after warm-up ${summary.rssMiB.growthAfterWarmup} MiB; slope over the second half ${summary.rssMiB.slopeSecondHalfPerMinute} MiB/min`,
  );
  console.log(`load average after: ${loadAfter.join(' ')}`);
  // flat: the last minute's median RSS at most 10% over the median right after warm-up (the bar
  // bench/realtime-soak.ts sets for the local Realtime), the second half's slope projected over the
  // run's length within the same 10% (the medians alone pass a leak that is slow enough), one process
  const growth = (late - early) / early;
  const projected = (slope * (totalSeconds / 60)) / early;
  const flat = growth <= 0.1 && projected <= 0.1 && pids.length === 1;
  writeReport(args.json, {
    name: 'worker-rss',
    title: 'dispatch-worker RSS under sustained webhook load',
    quick: args.quick,
    machine: machineFacts(await postgresVersion((q) => db.query(q))),
    rows: samples.map((s) => ({ ...s })),
    summary: { params: { minutes, rate, sampleSeconds }, loadBefore, loadAfter, ...summary },
    targets: [
      {
        measure: `dispatch-worker RSS, ${+minutes.toFixed(1)} min of webhooks at ${rate}/s to the local sink`,
        comparedWith: '',
        target:
          'flat: last minute ≤ after warm-up + 10%, second-half slope × run length ≤ 10%, one worker process',
        result: `${early.toFixed(1)} → ${late.toFixed(1)} MiB (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}%; ${summary.rssMiB.slopeSecondHalfPerMinute} MiB/min over the second half, ${(projected * 100).toFixed(1)}% over the run), max ${summary.rssMiB.max} MiB, ${pids.length} worker process${pids.length === 1 ? '' : 'es'}, ${summary.delivered} delivered`,
        met: args.quick ? null : flat,
      },
    ],
  });
} finally {
  await db.end();
  await bench.stop();
}
