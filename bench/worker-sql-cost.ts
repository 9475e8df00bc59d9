/**
 * What the worker's queue calls cost Postgres per delivery, the old way against the new, side by
 * side in one run (issue 17: the worker lost to graphile-worker on Postgres CPU, about 2× its CPU per
 * delivery). No HTTP and no Deno: the calls alone, as dispatch-worker makes them, from a client with
 * the worker's pool (4 connections) and 8 receipts in flight:
 *   single   per receipt: `dispatch_worker_set_content`, then `dispatch_worker_complete` (two
 *            single-row write transactions per receipt: the worker before the change)
 *   batched  per claim of 50: one `dispatch_worker_store_content`; outcomes in groups of `--group`
 *            (default 10: about what the 20 ms window collects at 500 deliveries/s) through
 *            `dispatch_worker_finish` (the worker now)
 * Both claim with `dispatch_worker_claim` (50 at a time) and load the claim's occurrences, as the
 * worker does. Figures per delivery: Postgres CPU (the whole cluster, from /proc), wall time,
 * round trips. Interleaved rounds, the order alternating; medians with min-max.
 *
 * The CPU figure is what the contention of a shared machine blurs least: it is the work itself, not
 * the wait for a core. Compare it with graphile-worker's Postgres CPU per delivery measured end to
 * end by bench/worker-throughput.ts.
 *
 *   SUPABASE_ADMIN_DB_URL=postgresql://supabase_admin:postgres@127.0.0.1:55140/postgres \
 *     node --conditions=supadispatch-source --import tsx bench/worker-sql-cost.ts [--n 5000] [--rounds 5]
 *     [--group 10] [--quick] [--json <path>]
 */
import { performance } from 'node:perf_hooks';
import { createBootstrappedDatabase, dropDatabase } from '../local/src/db/fresh-database.ts';
import { buildCore } from '../sql/build.ts';
import { cpuSnapshot, parentPid } from './support/cpu.ts';
import { pingSql } from './support/ping-event.ts';
import { benchPool } from './support/pool.ts';
import {
  benchArgs,
  fmtSpread,
  loadAverages,
  type MeasureReport,
  machineFacts,
  median,
  postgresVersion,
  spread,
  writeReport,
} from './support/report.ts';

const args = benchArgs({
  n: { type: 'string' },
  rounds: { type: 'string' },
  group: { type: 'string', default: '10' },
});
const n = Math.min(Math.max(Number(args.n ?? (args.quick ? 300 : 5000)), 1), 100_000);
const rounds = Math.min(Math.max(Number(args.rounds ?? (args.quick ? 1 : 5)), 1), 20);
const group = Math.min(Math.max(Number(args.group), 1), 1000);
const CLAIM = 50;
const IN_FLIGHT = 8;
const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;
if (!adminUrl) throw new Error('needs SUPABASE_ADMIN_DB_URL (a local stack or dev-db superuser URL)');
const loadBefore = loadAverages();

const dbName = `sd_sqlcost_${process.pid}_${Date.now().toString(36)}`;
const urls = await createBootstrappedDatabase(adminUrl, dbName, () => {});
const admin = benchPool(urls.adminDbUrl, 1);
// the worker connects as `postgres` (SUPABASE_DB_URL), with a pool of 4
const worker = benchPool(urls.dbUrl, 4);
await admin.query(buildCore());
await admin.query(pingSql);
const { rows: backend } = await admin.query('select pg_backend_pid() as pid');
const postmaster = parentPid(backend[0].pid);

interface Claimed {
  id: string;
  occurrence_id: string;
  lease_token: string;
}

/** Runs `work` over `items`, `limit` at a time. */
async function pooled<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

async function runMode(mode: 'single' | 'batched', round: number) {
  await admin.query(
    `select dispatch.emit('bench.ping', jsonb_build_object('url', $1::text, 'n', g)) from generate_series(1, $2::int) g`,
    [`http://127.0.0.1:9/${mode}-${round}`, n],
  );
  let trips = 0;
  const q = async <T = Record<string, unknown>>(sql: string, params: unknown[]): Promise<T[]> => {
    trips++;
    return (await worker.query(sql, params)).rows as T[];
  };
  const content = (r: Claimed) => ({ payload: { n: r.id.slice(0, 8), label: `ping ${r.id}` } });
  const before = cpuSnapshot({ postgres: postmaster }).postgres;
  const started = performance.now();
  let done = 0;
  while (done < n) {
    const claim = await q<Claimed>(
      `select id, occurrence_id, lease_token::text as lease_token from public.dispatch_worker_claim($1, $2, $3)`,
      [`bench:${mode}`, Math.min(CLAIM, n - done), 300],
    );
    if (claim.length === 0) throw new Error(`${mode}: nothing to claim after ${done}`);
    await q('select id, new_record from dispatch.occurrences where id = any($1::uuid[])', [
      claim.map((r) => r.occurrence_id),
    ]);
    if (mode === 'single') {
      await pooled(claim, IN_FLIGHT, async (r) => {
        await q('select public.dispatch_worker_set_content($1::uuid, $2::bigint, $3::jsonb, $4::text[])', [
          r.id,
          r.lease_token,
          JSON.stringify(content(r)),
          null,
        ]);
        await q(
          'select 1 from public.dispatch_worker_complete($1::uuid, $2::bigint, $3::text, $4::jsonb, $5::integer, $6::integer)',
          [r.id, r.lease_token, null, null, 200, 3],
        );
      });
    } else {
      const stored = await q<{ id: string }>(
        'select id from public.dispatch_worker_store_content($1::jsonb) as id',
        [
          JSON.stringify(
            claim.map((r) => ({ id: r.id, leaseToken: r.lease_token, content: content(r), secrets: null })),
          ),
        ],
      );
      if (stored.length !== claim.length) throw new Error('batched: content not stored for every receipt');
      const groups: Claimed[][] = [];
      for (let i = 0; i < claim.length; i += group) groups.push(claim.slice(i, i + group));
      await pooled(groups, Math.max(1, Math.ceil(IN_FLIGHT / group)), async (g) => {
        const accepted = await q('select id from public.dispatch_worker_finish($1::jsonb)', [
          JSON.stringify(
            g.map((r) => ({
              id: r.id,
              leaseToken: r.lease_token,
              kind: 'complete',
              httpStatus: 200,
              durationMs: 3,
            })),
          ),
        ]);
        if (accepted.length !== g.length) throw new Error('batched: an outcome was not accepted');
      });
    }
    done += claim.length;
  }
  const wallMs = performance.now() - started;
  const cpuMs = cpuSnapshot({ postgres: postmaster }).postgres - before;
  const { rows } = await admin.query(
    `select count(*)::int as sent from dispatch.receipts r join dispatch.attempts a on a.receipt_id = r.id
     where r.address = $1 and r.status = 'sent' and a.outcome = 'sent' and r.content is not null`,
    [`http://127.0.0.1:9/${mode}-${round}`],
  );
  if (rows[0].sent !== n) throw new Error(`${mode}: ${rows[0].sent} of ${n} recorded as sent`);
  return { cpuMsPerDelivery: cpuMs / n, wallMsPerDelivery: wallMs / n, tripsPerDelivery: trips / n };
}

type Figures = Awaited<ReturnType<typeof runMode>>;
console.log(
  `worker-sql-cost: ${n} deliveries per mode per round, ${rounds} round(s), claims of ${CLAIM}, ${IN_FLIGHT} in flight, outcome groups of ${group}; load average ${loadBefore.join(' ')}`,
);
const results: Record<'single' | 'batched', Figures[]> = { single: [], batched: [] };
const rows: MeasureReport['rows'] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? (['single', 'batched'] as const) : (['batched', 'single'] as const);
    for (const mode of order) {
      const f = await runMode(mode, round);
      results[mode].push(f);
      const load = loadAverages();
      rows.push({ round, mode, ...f, load1m: load[0] });
      console.log(
        `round ${round} ${mode.padEnd(8)} Postgres CPU ${f.cpuMsPerDelivery.toFixed(3)} ms/delivery, wall ${f.wallMsPerDelivery.toFixed(3)} ms/delivery, ${f.tripsPerDelivery.toFixed(2)} round trips/delivery (load ${load.join(' ')})`,
      );
    }
  }
  const stat = (mode: 'single' | 'batched', key: keyof Figures) => {
    const values = results[mode].map((f) => f[key]);
    return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
  };
  const summary: Record<string, unknown> = {};
  for (const key of ['cpuMsPerDelivery', 'wallMsPerDelivery', 'tripsPerDelivery'] as const) {
    const s = stat('single', key);
    const b = stat('batched', key);
    summary[key] = { single: s, batched: b, ratioSingleToBatched: +(s.median / b.median).toFixed(2) };
    console.log(
      `median ${key}: single ${s.median.toFixed(3)} (${s.min.toFixed(3)}-${s.max.toFixed(3)}), batched ${b.median.toFixed(3)} (${b.min.toFixed(3)}-${b.max.toFixed(3)}); single / batched ${(s.median / b.median).toFixed(2)}`,
    );
  }
  const loadAfter = loadAverages();
  console.log(`load average after: ${loadAfter.join(' ')}`);
  writeReport(args.json, {
    name: 'worker-sql-cost',
    title:
      "The worker's queue calls per delivery: one call per receipt vs batched (Postgres CPU, wall, round trips)",
    quick: args.quick,
    machine: machineFacts(await postgresVersion((q) => admin.query(q))),
    rows,
    summary: {
      params: { n, rounds, group, claim: CLAIM, inFlight: IN_FLIGHT },
      loadBefore,
      loadAfter,
      ...summary,
    },
    targets: [
      {
        measure: "the worker's queue calls, Postgres CPU per delivery (no HTTP, no Deno)",
        comparedWith: 'one call per receipt (the worker before session 4)',
        target: '',
        result: `batched ${fmtSpread(spread(results.batched.map((f) => f.cpuMsPerDelivery)), 'ms', 3)}, single ${fmtSpread(spread(results.single.map((f) => f.cpuMsPerDelivery)), 'ms', 3)}; round trips ${median(results.batched.map((f) => f.tripsPerDelivery)).toFixed(2)} vs ${median(results.single.map((f) => f.tripsPerDelivery)).toFixed(2)} per delivery`,
        met: null,
      },
    ],
  });
} finally {
  await worker.end();
  await admin.end();
  await dropDatabase(adminUrl, dbName).catch(() => {});
}
