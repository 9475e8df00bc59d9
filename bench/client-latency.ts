/**
 * Client latency with the REAL dispatch-worker: from the COMMIT of an app write to the new value in
 * the store of N live clients (the real `createDispatchClient` from supadispatch/client, `start()`ed
 * on its own supabase-js client and socket), side by side with N raw realtime-js listeners of the
 * same broadcast. The whole path:
 *
 *   INSERT (capture trigger) → COMMIT → pg_net poke → dispatch-worker (Deno) → drain → counter
 *   broadcast (realtime.messages) → Realtime → supabase-js → store
 *
 * The stack is bench/support/worker-stack.ts (a database of its own, the stack's pg_net sender,
 * Auth, REST and Realtime, the real worker under Deno). The write is a row of a per-run table
 * (sdk/test/support/live-fixture.ts) whose audience counter every client's user follows, so one
 * write is one broadcast to all 2N sockets.
 *
 *   SUPABASE_ADMIN_DB_URL=... node --conditions=supadispatch-source --import tsx bench/client-latency.ts
 *     [--quick] [--json out.json] [--clients 1,10,100,1000] [--rounds 5] [--samples 20]
 *
 * The client counts are reached in ascending order, adding clients (live and raw joined alternately,
 * so neither group is ahead in the fan-out); at each count, `rounds` rounds of `samples` sequential
 * writes 300 ms apart (more than poke_interval_ms, so every write pokes), each waiting at most 5 s,
 * after 3 warm-up writes. Per round the p50/p99 over all arrivals; reported as the median over rounds
 * with min–max. --quick: 1 and 10 clients, 1 round of 3 writes.
 *
 * Processes (session 5): the clients run in K client processes of their own (--workers, default one per core, at most 4,
 * bench/support/client-worker.ts; pair i in process i mod K), apart from the stack (Realtime
 * stand-in, gateway, Auth, REST, pg_net's sender) that runs here, as browsers are apart from hosted
 * Realtime. Each process records arrivals on the machine's monotonic clock (the same in every
 * process), so arrival − COMMIT sent needs no clock transfer. They still share the 2 cores with the
 * stack, Postgres, Deno and everyone else. The `first` rows (the earliest raw listener of each
 * write) show how much of the last sockets' latency is the fan-out itself.
 */
import { cpus } from 'node:os';
import pg from 'pg';
import { createAuthService } from '../local/src/auth/index.ts';
import { createNetSender } from '../local/src/db/net-sender.ts';
import { createRealtimeService } from '../local/src/realtime/index.ts';
import { createRestService } from '../local/src/rest/index.ts';
import { runId, type TestUser, Users } from '../local/test/support/conformance.ts';
import type { TestTarget } from '../local/test/support/env.ts';
import { createTasksFixture } from '../sdk/test/support/live-fixture.ts';
import { ClientPool } from './support/client-pool.ts';
import { monotonicMs } from './support/client-protocol.ts';
import { benchPool } from './support/pool.ts';
import {
  benchArgs,
  fmtSpread,
  machineFacts,
  percentile,
  postgresVersion,
  round,
  type Spread,
  spread,
  writeReport,
} from './support/report.ts';
import { sleep, startWorkerBench } from './support/worker-stack.ts';

const args = benchArgs({
  clients: { type: 'string' },
  rounds: { type: 'string' },
  samples: { type: 'string' },
  workers: { type: 'string' },
});
const levels = (args.clients ?? (args.quick ? '1,10' : '1,10,100,1000'))
  .split(',')
  .map((s) => Math.min(Math.max(Number(s), 1), 2000))
  .sort((a, b) => a - b);
const rounds = Math.min(Math.max(Number(args.rounds ?? (args.quick ? 1 : 5)), 1), 50);
const samples = Math.min(Math.max(Number(args.samples ?? (args.quick ? 3 : 20)), 1), 500);
const WARMUP = 3;
const USERS = Math.min(levels[levels.length - 1], 10);
// one client process per core by default (at most 4): on this 2-core machine, 4 client processes
// plus the stack's made 100 clients slower than 2 did (bench/RESULTS.md, session 5)
const WORKERS = Math.min(
  Math.max(Number(args.workers ?? Math.min(cpus().length, 4)), 1),
  8,
  levels[levels.length - 1],
);
const WAIT_MS = 5000;
const SPACING_MS = 300;
const log = (message: string) => process.stderr.write(`${message}\n`);

const realtime = createRealtimeService();
const bench = await startWorkerBench({
  registry: { events: {} },
  sql: '',
  services: [createNetSender(), createAuthService(), createRestService(), realtime],
});
await realtime.ready();
const target: TestTarget = {
  url: bench.stack.url,
  anonKey: bench.stack.anonKey,
  serviceRoleKey: bench.stack.serviceRoleKey,
  dbUrl: bench.dbUrl,
};
const run = runId();
// worker-stack.ts installs the core as the superuser, so the fixture's objects are made as that too
const db = benchPool(bench.adminDbUrl, 3);
/** Stops the stack (and drops its database) when the setup fails; the measuring loop's finally does it after. */
const setupFailed = async (error: unknown): Promise<never> => {
  await db.end().catch(() => {});
  await bench.stop().catch(() => {});
  throw error;
};
const postgres = await postgresVersion((sql) => db.query(sql)).catch(setupFailed);
const fixture = await createTasksFixture(db, run).catch(setupFailed);
const made = new Users(target, run);
const members: TestUser[] = [];
try {
  for (let i = 0; i < USERS; i++) {
    const user = await made.create(`u${i}`);
    await fixture.join(user.id);
    members.push(user);
  }
} catch (error) {
  await made.cleanup().catch(() => {});
  await setupFailed(error);
}
const topic = `dispatch:audience:${fixture.audience}`;

const writer = new pg.Client({ connectionString: bench.dbUrl });
await writer.connect().catch(setupFailed);
const clients = await ClientPool.start(WORKERS, {
  url: target.url,
  anonKey: target.anonKey,
  topic,
  counter: fixture.teamCounter,
}).catch(setupFailed);
let expected = 0;

/** One write; the ms from sending COMMIT to each live store and raw listener (missing when lost). */
async function sample(n: number): Promise<{ store: number[]; raw: number[]; first: number[]; lost: number }> {
  const started = monotonicMs();
  expected += 1;
  const seq = await clients.arm(expected);
  await writer.query('begin');
  await writer.query(`insert into ${fixture.table} (user_id) values ($1)`, [members[0].id]);
  const sent = monotonicMs();
  await writer.query('commit');
  const got = await clients.arrivals(seq, WAIT_MS);
  const result = {
    store: got.store.map((t) => t - sent),
    raw: got.raw.map((t) => t - sent),
    // the earliest socket: without the wait behind the fan-out's other writes
    first: got.raw.length ? [Math.min(...got.raw) - sent] : [],
    lost: 2 * n - got.store.length - got.raw.length,
  };
  const rest = SPACING_MS - (monotonicMs() - started);
  if (rest > 0) await sleep(rest);
  return result;
}

type Row = {
  clients: number;
  round: number;
  path: 'store' | 'raw' | 'first';
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  arrivals: number;
  lost: number;
};
const rows: Row[] = [];
try {
  for (const n of levels) {
    log(`client-latency: ${n} live clients + ${n} raw listeners in ${WORKERS} client processes ...`);
    await clients.add(clients.size, n, (i) => members[i % USERS].session);
    const live = await clients.live(60_000 + n * 100);
    if (live.notLive > 0) throw new Error(`${live.notLive} of ${n} live clients did not get live`);
    await sleep(500); // the raw channels join alongside; give the last ones a moment
    // the stores hold the current value once live; a write's value is one more
    expected = live.value ?? 0;
    for (let w = 0; w < WARMUP; w++) await sample(n);
    for (let r = 1; r <= rounds; r++) {
      const got = { store: [] as number[], raw: [] as number[], first: [] as number[] };
      let lost = 0;
      for (let s = 0; s < samples; s++) {
        const one = await sample(n);
        got.store.push(...one.store);
        got.raw.push(...one.raw);
        got.first.push(...one.first);
        lost += one.lost;
      }
      for (const path of ['store', 'raw', 'first'] as const)
        rows.push({
          clients: n,
          round: r,
          path,
          p50_ms: round(percentile(got[path], 50), 2),
          p99_ms: round(percentile(got[path], 99), 2),
          max_ms: round(percentile(got[path], 100), 2),
          arrivals: got[path].length,
          lost: path === 'store' ? lost : 0,
        });
    }
  }
} finally {
  await writer.end();
  await clients.stop();
  await fixture.drop().catch(() => {});
  await made.cleanup();
  await db.end();
  await bench.stop();
}

// ---- report -------------------------------------------------------------------------------------
const of = (n: number, path: string, key: 'p50_ms' | 'p99_ms'): Spread =>
  spread(rows.filter((r) => r.clients === n && r.path === path).map((r) => r[key]));
const lostAt = (n: number) => rows.filter((r) => r.clients === n).reduce((a, r) => a + r.lost, 0);
const summary: Record<string, unknown> = {
  rounds,
  samplesPerRound: samples,
  users: USERS,
  clientProcesses: WORKERS,
};
console.log(
  `client-latency: ${rounds} rounds × ${samples} writes per client count, clients in ${WORKERS} processes; COMMIT sent → arrival`,
);
console.log('  clients  path    p50 median (min–max)        p99 median (min–max)        lost');
for (const n of levels) {
  const entry: Record<string, unknown> = { lost: lostAt(n) };
  for (const path of ['store', 'raw', 'first'] as const) {
    const p50 = of(n, path, 'p50_ms');
    const p99 = of(n, path, 'p99_ms');
    entry[path] = { p50, p99 };
    console.log(
      `  ${String(n).padStart(7)}  ${path.padEnd(6)}  ${fmtSpread(p50, 'ms').padEnd(26)}  ${fmtSpread(p99, 'ms').padEnd(26)}  ${path === 'store' ? lostAt(n) : ''}`,
    );
  }
  summary[`clients ${n}`] = entry;
}
const band = (path: string, key: 'p50_ms' | 'p99_ms') =>
  levels.map((n) => {
    const s = of(n, path, key);
    return [n, s.min, s.max] as [number, number, number];
  });
const curve = (path: string, key: 'p50_ms' | 'p99_ms') =>
  levels.map((n) => [n, of(n, path, key).median] as [number, number]);
const at = levels.includes(100) ? 100 : levels[levels.length - 1];
const p50 = of(at, 'store', 'p50_ms');
const p99 = of(at, 'store', 'p99_ms');
writeReport(args.json, {
  name: 'client-latency',
  title: 'Client: commit → value in the store of N live clients (real worker)',
  quick: args.quick,
  machine: machineFacts(postgres),
  rows,
  summary,
  targets: [
    ...levels.map((n) => ({
      measure: `commit → live client store, ${n} client${n === 1 ? '' : 's'}, p50 / p99`,
      comparedWith: 'raw realtime-js listener, same broadcast',
      target: n === 100 ? 'p50 ≤ 50 ms, p99 ≤ 200 ms' : '',
      result: `store ${fmtSpread(of(n, 'store', 'p50_ms'), 'ms', 0)} / ${fmtSpread(of(n, 'store', 'p99_ms'), 'ms', 0)}; raw ${round(of(n, 'raw', 'p50_ms').median, 0)} / ${round(of(n, 'raw', 'p99_ms').median, 0)} ms; first socket p50 ${round(of(n, 'first', 'p50_ms').median, 0)} ms; lost ${lostAt(n)}`,
      met: n === 100 ? p50.median <= 50 && p99.median <= 200 && lostAt(n) === 0 : null,
    })),
  ],
  plots: [
    {
      id: 'scale',
      title: `Commit → value at N clients (median of ${rounds} rounds, band min–max)`,
      xLabel: 'clients (live + the same number of raw listeners)',
      yLabel: 'ms from COMMIT sent',
      logX: true,
      series: [
        { label: 'live client store p50', points: curve('store', 'p50_ms'), band: band('store', 'p50_ms') },
        { label: 'raw realtime-js p50', points: curve('raw', 'p50_ms') },
        { label: 'live client store p99', points: curve('store', 'p99_ms'), band: band('store', 'p99_ms') },
        { label: 'raw realtime-js p99', points: curve('raw', 'p99_ms') },
        { label: 'earliest socket per write p50', points: curve('first', 'p50_ms') },
      ],
    },
  ],
});
if (at !== 100) log(`(no 100-client level in this run: the target is judged at ${at})`);
process.exit(0);
