/**
 * Webhook deliveries per second from N pending receipts to the local webhook sink through the REAL
 * dispatch-worker Edge Function (Deno; the worker loop; the library's webhook transport, Standard
 * Webhooks signing; each outcome recorded with its lease token), side by side in the same run with
 * two peers sending N equivalent jobs (same body, signed by the same code, to the same sink, each
 * outcome recorded in a table of its own), each from a process of its own: graphile-worker 0.18
 * (bench/peers/graphile-sender.ts) and pg-boss 12 (bench/peers/pgboss-sender.ts).
 *
 *   SUPABASE_ADMIN_DB_URL=postgresql://supabase_admin:postgres@127.0.0.1:55122/postgres \
 *     node --conditions=supadispatch-source --import tsx bench/worker-throughput.ts [--n 5000] [--rounds 3]
 *     [--quick] [--json <path>]
 *
 * `--quick`: a smoke run of seconds (200 webhooks, one round). `--json <path>`: the report of
 * bench/support/report.ts (one row per system and round; the target row: the worker's median rate
 * with its spread, its ratios to both peers and the sink ceiling line).
 *
 * Concurrency budget, the same for both: 8 requests in flight to the sink (the worker's default
 * `concurrencyPerDestination`, the one destination here; graphile-worker `concurrency: 8`).
 * Each round runs the three, the order rotating between rounds; the worker's N receipts are made by
 * one transaction before its clock starts (no pg_net sender: the bench starts the run itself, and
 * pokes it again each second as pg_cron's tick would, which joins a running run).
 * A third line per round, the sink's ceiling: the same signed POSTs, 8 at a time, from a process
 * with no queue and no database. CPU ms per delivery (Linux /proc): Postgres (the whole cluster),
 * the sender (the Deno worker's process / the peer's), and this process (the sink; also the poll).
 * `--worker-pool 10`: the worker's database pool gets 10 connections (its default is 4; the
 * graphile-worker peer has concurrency + 2 = 10).
 * `--profile`: Postgres tracks function times (track_functions = all, a little overhead) and the
 * functions the worker's round spent most time in are printed, per delivery; and its statements
 * too when the cluster preloads pg_stat_statements (a dev cluster: add it to shared_preload_libraries).
 * The worker's clock: from its first poke to the N-th `sent` receipt seen by a 20 ms poll (of the
 * sink's count first, then of the receipts); the peers': from starting their workers (jobs queued)
 * to their N-th outcome committed.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { RecordedRequest } from '../local/src/webhook-sink/index.ts';
import { cpuSnapshot, parentPid } from './support/cpu.ts';
import { pingRegistry, pingSql } from './support/ping-event.ts';
import { benchPool } from './support/pool.ts';
import {
  benchArgs,
  fmtSpread,
  loadAverages,
  type MeasureReport,
  machineFacts,
  median,
  postgresVersion,
  round as roundTo,
  type Spread,
  spread,
  writeReport,
} from './support/report.ts';
import { sleep, startWorkerBench } from './support/worker-stack.ts';

const args = benchArgs({
  n: { type: 'string' },
  rounds: { type: 'string' },
  profile: { type: 'boolean', default: false },
  'worker-pool': { type: 'string' },
});
const n = Math.min(Math.max(Number(args.n ?? (args.quick ? 200 : 5000)), 1), 200_000);
const rounds = Math.min(Math.max(Number(args.rounds ?? (args.quick ? 1 : 3)), 1), 10);
const loadBefore = loadAverages();
const CONCURRENCY = 8;
const here = dirname(fileURLToPath(import.meta.url));
const log = (message: string) => process.stderr.write(`${message}\n`);

const bench = await startWorkerBench({
  registry: pingRegistry,
  sql: pingSql,
  // one run lasts the whole measurement (the default 50 s budget is the hosted runtime's bound)
  serveOptions: 'budgetMs: 600000',
  workerPool: args['worker-pool'] ? Number(args['worker-pool']) : undefined,
  // the sink's log is emptied before each system's turn (forgetSinkRequests): one turn's requests
  sinkRequests: n + 100,
});
const db = benchPool(bench.adminDbUrl, 2);

/**
 * Empties the sink's request log before a system's turn, for every system alike: the worker's poll
 * reads the log's length every 20 ms, and the sink's `requests()` copies the whole log, so a log of
 * every earlier turn's requests (up to 4 × n × rounds) made each poll of a later round dearer for
 * this process, which is also the sink (found in session 5: a copy of 100,000 entries every 20 ms).
 */
async function forgetSinkRequests(): Promise<void> {
  const res = await fetch(`${bench.sink.url}/api/requests`, { method: 'DELETE' });
  if (!res.ok) throw new Error(`emptying the sink's log: ${res.status} ${await res.text()}`);
}

async function received(path: string): Promise<RecordedRequest[]> {
  const res = await fetch(`${bench.sink.url}/api/requests?path=${encodeURIComponent(path)}`);
  return (await res.json()) as RecordedRequest[];
}

interface Figures {
  elapsedMs: number;
  sent: number;
  valid: number;
  extra: string;
  /** CPU ms used while measuring: Postgres (the cluster), the sender's process, this process (the sink). */
  cpu: { postgres: number; sender: number; sink: number };
}

const { rows: backend } = await db.query('select pg_backend_pid() as pid, current_database() as name');
// before the worker's first run opens its connections: they read the setting when they connect
if (args.profile) await db.query(`alter database "${backend[0].name}" set track_functions = 'all'`);
/** pg_stat_statements is there (only when the cluster preloads it: `--profile` then prints statements too). */
const statements =
  args.profile &&
  (await db
    .query('create extension if not exists pg_stat_statements')
    .then(() => db.query('select 1 from pg_stat_statements limit 1'))
    .then(
      () => true,
      () => false,
    ));
const postmaster = parentPid(backend[0].pid);
const workerPid = () => bench.functions.processes().find((p) => p.name === 'dispatch-worker')?.pid ?? 0;

/** CPU ms used by Postgres, the Deno worker and this process (the sink) while `measure` runs. */
async function withCpu<T>(measure: () => Promise<T>): Promise<{ result: T; cpu: Record<string, number> }> {
  const before = cpuSnapshot({ postgres: postmaster, deno: workerPid() });
  const own = process.cpuUsage();
  const result = await measure();
  const used = process.cpuUsage(own);
  const after = cpuSnapshot({ postgres: postmaster, deno: workerPid() });
  return {
    result,
    cpu: {
      postgres: after.postgres - before.postgres,
      deno: after.deno - before.deno,
      sink: (used.user + used.system) / 1000,
    },
  };
}

async function runWorker(round: number): Promise<Figures> {
  const path = `/worker-${round}`;
  await db.query(
    `select dispatch.emit('bench.ping', jsonb_build_object('url', $1::text, 'n', g)) from generate_series(1, $2::int) g`,
    [`${bench.sink.url}${path}`, n],
  );
  const { rows: pending } = await db.query(
    `select count(*)::int as c from dispatch.receipts where status = 'pending' and event_id = 'bench.ping'`,
  );
  if (pending[0].c !== n) throw new Error(`expected ${n} pending receipts, found ${pending[0].c}`);
  if (args.profile) await db.query('select pg_stat_reset()');
  if (statements) await db.query('select pg_stat_statements_reset()');
  const started = performance.now();
  let poked = started;
  let sent = 0;
  let failed = 0;
  // the sink's count (in this process, free) until it saw N requests, then the database (the
  // outcomes recorded) every 20 ms: a count over the receipts every 20 ms for the whole round would
  // cost Postgres CPU charged to the worker, and a core to a machine that has two
  const seenBefore = bench.sink.requests().length;
  const { cpu } = await withCpu(async () => {
    const first = await bench.callWorker({});
    if (first.status !== 202) throw new Error(`worker: ${first.status} ${await first.text()}`);
    const deadline = started + Math.max(120_000, n * 60);
    while (sent + failed < n) {
      if (performance.now() > deadline)
        throw new Error(`worker: ${sent} sent, ${failed} failed at the deadline`);
      await sleep(20);
      if (performance.now() - poked > 1000) {
        poked = performance.now();
        await (await bench.callWorker({})).text();
      }
      if (bench.sink.requests().length - seenBefore < n) continue;
      const { rows } = await db.query(
        `select count(*) filter (where status = 'sent')::int as sent, count(*) filter (where status = 'failed')::int as failed
       from dispatch.receipts where event_id = 'bench.ping' and address = $1`,
        [`${bench.sink.url}${path}`],
      );
      ({ sent, failed } = rows[0]);
    }
  });
  const elapsedMs = performance.now() - started;
  // where the time went, from the attempts: the send (request and answer) per receipt
  const { rows: phases } = await db.query(
    `select avg(extract(epoch from a.finished_at - a.started_at) * 1000)::float as attempt_ms,
            count(distinct a.worker)::int as runs
     from dispatch.attempts a join dispatch.receipts r on r.id = a.receipt_id
     where r.address = $1`,
    [`${bench.sink.url}${path}`],
  );
  const requests = await received(path);
  if (args.profile) await printFunctionTimes(sent);
  return {
    elapsedMs,
    sent,
    valid: requests.filter((r) => r.signatureValid === true).length,
    extra: `${failed} failed, ${requests.length} requests, mean attempt ${phases[0].attempt_ms?.toFixed(1)} ms, ${phases[0].runs} run(s)`,
    cpu: { postgres: cpu.postgres, sender: cpu.deno, sink: cpu.sink },
  };
}

/** The SQL functions the worker's round spent most time in (total includes what they call). */
async function printFunctionTimes(deliveries: number): Promise<void> {
  await sleep(11_000); // idle backends report their function stats within 10 s (PGSTAT_IDLE_INTERVAL)
  const { rows } = await db.query(
    `select schemaname || '.' || funcname as name, calls, total_time, self_time from pg_stat_user_functions
     order by total_time desc limit 10`,
  );
  console.log(`  Postgres functions during the worker's round (ms per delivery; calls per delivery):`);
  for (const r of rows)
    console.log(
      `    ${r.name.padEnd(40)} total ${(r.total_time / deliveries).toFixed(3)}  self ${(r.self_time / deliveries).toFixed(3)}  calls ${(r.calls / deliveries).toFixed(2)}`,
    );
  if (!statements) return;
  const { rows: top } = await db.query(
    `select s.calls, s.total_exec_time, s.rows, s.toplevel, regexp_replace(left(s.query, 110), '\\s+', ' ', 'g') as query
     from pg_stat_statements s join pg_roles r on r.oid = s.userid
     where r.rolname = 'postgres' and s.dbid = (select oid from pg_database where datname = current_database())
     order by s.total_exec_time desc limit 25`,
  );
  console.log(`  the worker's statements (ms per delivery; calls per delivery; top level or nested):`);
  for (const r of top)
    console.log(
      `    ${(r.total_exec_time / deliveries).toFixed(3)}  ${(r.calls / deliveries).toFixed(3)}  ${r.toplevel ? 'top ' : 'nest'}  ${r.query}`,
    );
}

type Peer = 'graphile' | 'pgboss' | 'direct';
const peerScript: Record<Peer, string> = {
  graphile: 'graphile-sender.ts',
  pgboss: 'pgboss-sender.ts',
  direct: 'direct-sender.ts',
};

/** A peer (graphile-worker, pg-boss), or (`direct`) the same signed POSTs with no queue: the sink's ceiling. */
async function runPeer(round: number, peer: Peer): Promise<Figures> {
  const { result, cpu } = await withCpu(() => spawnPeer(round, peer));
  return { ...result, cpu: { postgres: cpu.postgres, sender: result.cpu.sender, sink: cpu.sink } };
}

function spawnPeer(round: number, peer: Peer): Promise<Figures> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=supadispatch-source', '--import', 'tsx', join(here, 'peers', peerScript[peer])],
      {
        env: {
          ...process.env,
          PEER_DB_URL: bench.adminDbUrl,
          PEER_SINK_URL: `${bench.sink.url}/r${round}`,
          PEER_SECRET: bench.stack.keys.webhookSecret,
          PEER_N: String(n),
          PEER_CONCURRENCY: String(CONCURRENCY),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('exit', async (code) => {
      if (code !== 0) return reject(new Error(`${peerScript[peer]} exited with ${code}: ${out}`));
      try {
        const result = JSON.parse(out.trim().split('\n').pop() ?? '{}');
        const requests = await received(`/r${round}/${peer}`);
        resolve({
          elapsedMs: result.elapsedMs,
          sent: result.recorded,
          valid: requests.filter((r) => r.signatureValid === true).length,
          extra: `${result.failed} not sent, ${requests.length} requests${peer === 'direct' ? '' : `, ${Math.round(result.addMs)} ms to queue`}`,
          cpu: { postgres: 0, sender: result.cpuMs, sink: 0 },
        });
      } catch (error) {
        reject(error);
      }
    });
  });
}

const rate = (f: Figures) => (f.sent / f.elapsedMs) * 1000;
const perDelivery = (ms: number, f: Figures) => ms / f.sent;
const line = (name: string, f: Figures) =>
  `  ${name.padEnd(16)} ${String(f.sent).padStart(6)} sent in ${f.elapsedMs.toFixed(0).padStart(6)} ms: ${rate(f).toFixed(0).padStart(5)}/s; signatures valid ${f.valid}/${f.sent}; ${f.extra}\n` +
  `  ${''.padEnd(16)} CPU ms per delivery: postgres ${perDelivery(f.cpu.postgres, f).toFixed(2)}, sender ${perDelivery(f.cpu.sender, f).toFixed(2)}, sink ${perDelivery(f.cpu.sink, f).toFixed(2)}`;

const SYSTEMS = ['dispatch-worker', 'graphile-worker', 'pg-boss'] as const;
type System = (typeof SYSTEMS)[number];
async function runSystem(system: System, round: number): Promise<Figures> {
  await forgetSinkRequests();
  return system === 'dispatch-worker'
    ? await runWorker(round)
    : await runPeer(round, system === 'graphile-worker' ? 'graphile' : 'pgboss');
}

console.log(
  `worker-throughput: ${n} webhooks per system per round, ${rounds} round(s), concurrency ${CONCURRENCY} each; load average ${loadBefore.join(' ')}`,
);
const rows: MeasureReport['rows'] = [];
const rates: Record<System | 'sink ceiling', number[]> = {
  'dispatch-worker': [],
  'graphile-worker': [],
  'pg-boss': [],
  'sink ceiling': [],
};
const ratios = { graphile: [] as number[], pgboss: [] as number[] };
const postgresCpu: Record<System, number[]> = { 'dispatch-worker': [], 'graphile-worker': [], 'pg-boss': [] };
try {
  for (let round = 1; round <= rounds; round++) {
    // the order rotates, so no system always runs first (or right after another's cleanup)
    const order = SYSTEMS.map((_, i) => SYSTEMS[(i + round - 1) % SYSTEMS.length]);
    log(`round ${round}: ${order.join(', ')}, then the sink ceiling`);
    const figures = {} as Record<System | 'sink ceiling', Figures>;
    for (const system of order) figures[system] = await runSystem(system, round);
    await forgetSinkRequests();
    figures['sink ceiling'] = await runPeer(round, 'direct');
    const load = loadAverages();
    console.log(`round ${round}: (load average ${load.join(' ')})`);
    for (const name of [...SYSTEMS, 'sink ceiling'] as const) {
      const f = figures[name];
      console.log(line(name, f));
      rates[name].push(rate(f));
      if (name !== 'sink ceiling') postgresCpu[name].push(perDelivery(f.cpu.postgres, f));
      rows.push({
        round,
        system: name,
        sent: f.sent,
        signaturesValid: f.valid,
        elapsedMs: Math.round(f.elapsedMs),
        perSecond: Math.round(rate(f)),
        postgresCpuMsPerDelivery: roundTo(perDelivery(f.cpu.postgres, f), 3),
        senderCpuMsPerDelivery: roundTo(perDelivery(f.cpu.sender, f), 3),
        sinkCpuMsPerDelivery: roundTo(perDelivery(f.cpu.sink, f), 3),
        detail: f.extra,
        load1m: load[0],
      });
    }
    ratios.graphile.push(rate(figures['dispatch-worker']) / rate(figures['graphile-worker']));
    ratios.pgboss.push(rate(figures['dispatch-worker']) / rate(figures['pg-boss']));
  }
  const range = (values: number[]) => `${Math.min(...values).toFixed(0)}-${Math.max(...values).toFixed(0)}`;
  console.log(
    `median deliveries/s (min-max): ${[...SYSTEMS, 'sink ceiling' as const].map((s) => `${s} ${median(rates[s]).toFixed(0)} (${range(rates[s])})`).join(', ')}`,
  );
  console.log(
    `median Postgres CPU ms per delivery: ${SYSTEMS.map((s) => `${s} ${median(postgresCpu[s]).toFixed(2)}`).join(', ')}`,
  );
  console.log(
    `ratio dispatch-worker / graphile-worker: ${ratios.graphile.map((r) => r.toFixed(2)).join(' ')}`,
  );
  console.log(`ratio dispatch-worker / pg-boss: ${ratios.pgboss.map((r) => r.toFixed(2)).join(' ')}`);
  const loadAfter = loadAverages();
  console.log(`load average after: ${loadAfter.join(' ')}`);
  const perSecond = (s: Spread) => `${s.median.toFixed(0)}/s (${s.min.toFixed(0)}–${s.max.toFixed(0)})`;
  const ours = spread(rates['dispatch-worker']);
  const vsGraphile = spread(ratios.graphile);
  const vsPgBoss = spread(ratios.pgboss);
  const ceiling = spread(rates['sink ceiling']);
  writeReport(args.json, {
    name: 'worker-throughput',
    title:
      'Webhook deliveries per second, pending receipts to the local sink: dispatch-worker vs graphile-worker and pg-boss',
    quick: args.quick,
    machine: machineFacts(await postgresVersion((q) => db.query(q))),
    rows,
    summary: {
      params: { n, rounds, concurrency: CONCURRENCY, workerPool: args['worker-pool'] ?? null },
      loadBefore,
      loadAfter,
      perSecond: Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, spread(v)])),
      postgresCpuMsPerDelivery: Object.fromEntries(
        Object.entries(postgresCpu).map(([k, v]) => [k, spread(v)]),
      ),
      ratioVsGraphile: vsGraphile,
      ratioVsPgBoss: vsPgBoss,
    },
    targets: [
      {
        measure: `webhook deliveries per second, pending receipts → local sink (${n.toLocaleString('en-US')} per round, ${CONCURRENCY} in flight)`,
        comparedWith: 'graphile-worker; pg-boss; sink ceiling (the same POSTs, no queue)',
        target: '≥ 1,000/s and ≥ 1.0× graphile-worker',
        result:
          `${perSecond(ours)}; ${fmtSpread(vsGraphile, '×', 2)} graphile-worker, ` +
          `${fmtSpread(vsPgBoss, '×', 2)} pg-boss; sink ceiling ${perSecond(ceiling)} (median of ${rounds} round${rounds === 1 ? '' : 's'})`,
        // a quick run's figures mean nothing
        met: args.quick ? null : ours.median >= 1000 && vsGraphile.median >= 1.0,
      },
    ],
  });
} finally {
  await db.end();
  await bench.stop();
}
