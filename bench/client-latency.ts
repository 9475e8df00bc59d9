/**
 * Client latency: from the COMMIT of an app write to the new value in the store of N live clients
 * (createDispatchClient(...).start(), each on its own supabase-js client and socket), side by side
 * with N raw realtime-js listeners of the same broadcast. The path is the whole one:
 *
 *   INSERT (capture trigger) → COMMIT → pg_net poke → worker → dispatch_worker_drain → counter
 *   broadcast (realtime.messages) → Realtime → supabase-js → store
 *
 * The write is a row of a per-run table (sdk/test/support/live-fixture.ts) whose audience counter
 * every client's user follows, so one write is one broadcast to all 2N sockets. The worker is a
 * stand-in in this process that does what the worker contract says for a poke (docs/decisions.md:
 * call dispatch_worker_drain until it processes nothing, then keep polling while lingerMs > 0),
 * reached through the real poke (Vault secrets dispatch_worker_url / dispatch_worker_secret, pg_net):
 * the Edge Function's drain loop is not written yet (issue 17).
 *
 *   npx tsx --conditions=supadispatch-source bench/client-latency.ts [--clients 100] [--samples 40]
 *
 * Against SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY and SUPABASE_DB_URL when set;
 * otherwise it starts the local stack (state in .supadispatch/bench-stack, ports SUPADISPATCH_*_PORT
 * or 200 above the defaults) and stops it at the end. Samples are sequential, 300 ms apart (more than
 * poke_interval_ms, so every write pokes), each waiting at most 5 s; 5 warm-up rounds are dropped.
 * Everything runs in one process, so the last sockets' latency includes this process handling the
 * first ones' messages — for both groups alike.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import pg from 'pg';
import WebSocket from 'ws';
import { repoRoot } from '../local/src/paths.ts';
import { runId, type TestUser, Users } from '../local/test/support/conformance.ts';
import { type TestTarget, testTarget } from '../local/test/support/env.ts';
import { createDispatchClient, type DispatchClient } from '../sdk/src/client/index.ts';
import { createTasksFixture } from '../sdk/test/support/live-fixture.ts';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '100' },
    samples: { type: 'string', default: '40' },
  },
});
const clients = Math.min(Math.max(Number(args.clients), 1), 2000);
const samples = Math.min(Math.max(Number(args.samples), 1), 1000);
const warmup = 5;
const users = Math.min(clients, 10);
const WAIT_MS = 5000;
const SPACING_MS = 300;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (message: string) => process.stderr.write(`${message}\n`);

// ---- the stack ----------------------------------------------------------------------------------
let target: TestTarget | null = testTarget();
let stopStack: (() => Promise<unknown>) | null = null;
if (!target) {
  process.env.SUPADISPATCH_STATE_DIR = join(repoRoot, '.supadispatch', 'bench-stack');
  for (const [name, port] of Object.entries({
    API: 54621,
    DB: 54622,
    MAIL: 54624,
    SMTP: 54625,
    WEBHOOK_SINK: 54626,
  }))
    process.env[`SUPADISPATCH_${name}_PORT`] ??= String(port);
  const control = await import('../local/src/control.ts');
  const { statusVariables } = await import('../local/src/state.ts');
  log('starting the local stack ...');
  await control.stopStack(repoRoot).catch(() => {});
  const { state } = await control.startStack(repoRoot);
  const vars = statusVariables(state);
  target = {
    url: vars.API_URL,
    anonKey: vars.ANON_KEY,
    serviceRoleKey: vars.SERVICE_ROLE_KEY,
    dbUrl: vars.DB_URL,
  };
  stopStack = () => control.stopStack(repoRoot);
}
const stack: TestTarget = target;
const newSupabase = (key: string): SupabaseClient =>
  createClient(stack.url, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket as never, logger: () => {} },
  });

const run = runId();
const db = new pg.Pool({ connectionString: stack.dbUrl, max: 3 });
const service = newSupabase(stack.serviceRoleKey);
const fixture = await createTasksFixture(db, run);
const made = new Users(stack, run);

// ---- the worker stand-in, reached by the real poke ---------------------------------------------
const secret = randomBytes(16).toString('hex');
let draining: Promise<void> | null = null;
/** When the current sample's poke reached the worker, and when its drain (processed > 0) returned. */
let pokedAt = 0;
let drainedAt = 0;
let drainAgain = false;
const drainLoop = async () => {
  do {
    drainAgain = false;
    let linger = 0;
    for (let i = 0; i < 1000; i++) {
      const { data, error } = await service.rpc('dispatch_worker_drain', { max_changes: 500 });
      if (error) throw new Error(`dispatch_worker_drain: ${error.message}`);
      const result = data as { processed: number; lingerMs: number };
      linger = result.lingerMs;
      if (result.processed > 0) {
        drainedAt ||= performance.now();
        continue;
      }
      if (drainAgain || linger <= 0) break;
      await sleep(Math.min(100, linger));
    }
  } while (drainAgain);
};
const worker = http.createServer((req, res) => {
  const ok = req.headers['x-dispatch-secret'] === secret;
  res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end('{}');
  req.resume();
  if (!ok) return;
  pokedAt ||= performance.now();
  if (draining) drainAgain = true;
  else
    draining = drainLoop()
      .catch((e) => log(`worker: ${(e as Error).message}`))
      .then(() => {})
      .finally(() => {
        draining = null;
      });
});
await new Promise<void>((r) => worker.listen(0, '127.0.0.1', r));
const workerUrl = `http://127.0.0.1:${(worker.address() as AddressInfo).port}/dispatch-worker`;
const previousSecrets = (
  await db.query<{ name: string; secret: string }>(
    `select name, decrypted_secret as secret from vault.decrypted_secrets
     where name in ('dispatch_worker_url', 'dispatch_worker_secret')`,
  )
).rows;
const setSecret = (name: string, value: string) =>
  db.query(
    `select case when exists (select from vault.secrets where name = $2)
       then (select vault.update_secret((select id from vault.secrets where name = $2), $1)) is null
       else vault.create_secret($1, $2) is null end`,
    [value, name],
  );
await setSecret('dispatch_worker_url', workerUrl);
await setSecret('dispatch_worker_secret', secret);

// ---- the clients ------------------------------------------------------------------------------
log(`signing in ${users} users, ${clients} live clients and ${clients} raw listeners ...`);
const members: TestUser[] = [];
for (let i = 0; i < users; i++) {
  const user = await made.create(`u${i}`);
  await fixture.join(user.id);
  members.push(user);
}
const topic = `dispatch:audience:${fixture.audience}`;
const signedIn = async (i: number): Promise<SupabaseClient> => {
  const supabase = made.track(newSupabase(stack.anonKey));
  const { session } = members[i % users];
  const { error } = await supabase.auth.setSession(session);
  if (error) throw new Error(`setSession: ${error.message}`);
  return supabase;
};

let expected = 0;
let sampleStart = 0;
const storeAt = new Map<number, number>();
const rawAt = new Map<number, number>();

// Live clients and raw listeners join alternately, so neither group is ahead in Realtime's fan-out.
const liveClients: DispatchClient[] = [];
const rawClients: SupabaseClient[] = [];
for (let i = 0; i < clients; i++) {
  const client = createDispatchClient({ supabase: await signedIn(i) });
  client.store.subscribe((s) => {
    if (s.counters[fixture.teamCounter]?.value === expected && !storeAt.has(i))
      storeAt.set(i, performance.now());
  });
  client.start();
  liveClients.push(client);
  const supabase = await signedIn(i);
  await supabase.realtime.setAuth(members[i % users].session.access_token);
  const channel = supabase.channel(topic, { config: { private: true } });
  channel.on('broadcast', { event: 'counter' }, ({ payload }) => {
    if (payload.name === fixture.teamCounter && payload.value === expected && !rawAt.has(i))
      rawAt.set(i, performance.now());
  });
  channel.subscribe();
  rawClients.push(supabase);
  // one join at a time: the live client's state fetch and join before the next pair
  for (let w = 0; w < 200 && client.store.getState().status !== 'live'; w++) await sleep(25);
}
const deadline = Date.now() + 60_000 + clients * 100;
while (liveClients.some((c) => c.store.getState().status !== 'live') && Date.now() < deadline)
  await sleep(50);
const notLive = liveClients.filter((c) => c.store.getState().status !== 'live').length;
if (notLive > 0) throw new Error(`${notLive} of ${clients} live clients did not get live`);
await sleep(500); // the raw channels join alongside; give the last ones a moment

// ---- the samples ------------------------------------------------------------------------------
const fromSent = { store: [] as number[], raw: [] as number[] };
const stages = { poke: [] as number[], drain: [] as number[], broadcast: [] as number[] };
const fromDone = { store: [] as number[], raw: [] as number[] };
let lost = 0;
const writer = new pg.Client({ connectionString: stack.dbUrl });
await writer.connect();
expected = liveClients[0].store.getState().counters[fixture.teamCounter]?.value ?? 0;
for (let s = 0; s < warmup + samples; s++) {
  sampleStart = performance.now();
  storeAt.clear();
  rawAt.clear();
  pokedAt = 0;
  drainedAt = 0;
  expected += 1;
  await writer.query('begin');
  await writer.query(`insert into ${fixture.table} (user_id) values ($1)`, [members[0].id]);
  const sent = performance.now();
  await writer.query('commit');
  const done = performance.now();
  const until = Date.now() + WAIT_MS;
  while ((storeAt.size < clients || rawAt.size < clients) && Date.now() < until) await sleep(2);
  if (s >= warmup) {
    lost += 2 * clients - storeAt.size - rawAt.size;
    if (pokedAt && drainedAt) {
      stages.poke.push(pokedAt - done);
      stages.drain.push(drainedAt - pokedAt);
      for (const t of rawAt.values()) stages.broadcast.push(t - drainedAt);
    }
    for (const [group, at] of [
      ['store', storeAt],
      ['raw', rawAt],
    ] as const) {
      for (const t of at.values()) {
        fromSent[group].push(t - sent);
        fromDone[group].push(Math.max(0, t - done));
      }
    }
  }
  const rest = SPACING_MS - (performance.now() - sampleStart);
  if (rest > 0) await sleep(rest);
}

// ---- report -----------------------------------------------------------------------------------
const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};
const ms = (v: number) => `${v.toFixed(1)} ms`.padStart(9);
console.log(
  `client-latency: ${clients} live clients + ${clients} raw listeners (${users} users), ${samples} writes, ${lost} deliveries lost`,
);
console.log('                                      p50       p99       max');
for (const [label, values] of [
  ['COMMIT sent -> store (live client)', fromSent.store],
  ['COMMIT sent -> raw realtime-js', fromSent.raw],
  ['COMMIT returned -> store', fromDone.store],
  ['COMMIT returned -> raw realtime-js', fromDone.raw],
] as const)
  console.log(`  ${label.padEnd(34)} ${ms(pct(values, 50))} ${ms(pct(values, 99))} ${ms(pct(values, 100))}`);
console.log('  where the time goes (p50, p99):');
for (const [label, values] of [
  ['COMMIT returned -> poke at the worker', stages.poke],
  ['poke -> drain returned', stages.drain],
  ['drain returned -> raw realtime-js', stages.broadcast],
] as const)
  console.log(`    ${label.padEnd(38)} ${ms(pct(values, 50))} ${ms(pct(values, 99))}`);
console.log(
  `  overhead of the live client over raw: p50 ${(pct(fromSent.store, 50) - pct(fromSent.raw, 50)).toFixed(1)} ms, p99 ${(pct(fromSent.store, 99) - pct(fromSent.raw, 99)).toFixed(1)} ms`,
);

// ---- clean up ---------------------------------------------------------------------------------
await writer.end();
for (const client of liveClients) client.stop();
await Promise.all(rawClients.map((c) => c.removeAllChannels().catch(() => {})));
await db.query(`delete from vault.secrets where name in ('dispatch_worker_url', 'dispatch_worker_secret')`);
for (const { name, secret: value } of previousSecrets) await setSecret(name, value);
while (draining) await draining;
await fixture.drop();
await made.cleanup();
await db.end();
worker.close();
if (stopStack) await stopStack();
process.exit(lost > 0 ? 1 : 0);
