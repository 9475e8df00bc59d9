/**
 * A client process of bench/client-latency.ts: holds its share of the N live clients (the real
 * `createDispatchClient({ supabase }).start()`, each on its own supabase-js client and socket) and
 * of the N raw realtime-js listeners, and reports when each sees a write's value, in absolute
 * monotonic ms (client-protocol.ts). Started with `fork` by client-pool.ts; driven over IPC.
 *
 * The clients run here, apart from the Realtime stand-in (in the parent, with the rest of the
 * stack), as browsers are apart from hosted Realtime: reading the frames of one socket does not
 * delay the server writing the next one's.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { createDispatchClient, type DispatchClient } from '../../sdk/src/client/index.ts';
import { type ClientSetup, type FromWorker, monotonicMs, type ToWorker } from './client-protocol.ts';

const send = (message: FromWorker): void => {
  process.send?.(message);
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let setup: ClientSetup | null = null;
const live: DispatchClient[] = [];
const sockets: SupabaseClient[] = [];
/** The write being measured: its value and each client's first sight of it (by pair index). */
let current = { seq: -1, value: Number.NaN, reported: true };
const storeAt = new Map<number, number>();
const rawAt = new Map<number, number>();

function report(complete: boolean): void {
  if (current.reported) return;
  current.reported = true;
  send({
    type: 'arrivals',
    seq: current.seq,
    store: [...storeAt.values()],
    raw: [...rawAt.values()],
    complete,
  });
}

/** Called on every arrival: the write is reported as soon as all of this process's clients have it. */
function arrived(): void {
  if (storeAt.size === live.length && rawAt.size === live.length) report(true);
}

function newSupabase(s: ClientSetup): SupabaseClient {
  return createClient(s.url, s.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket as never, logger: () => {} },
  });
}

async function addPair(s: ClientSetup, index: number, session: import('@supabase/supabase-js').Session) {
  const supabase = newSupabase(s);
  const { error } = await supabase.auth.setSession(session);
  if (error) throw new Error(`setSession: ${error.message}`);
  const client = createDispatchClient({ supabase });
  client.store.subscribe((state) => {
    if (state.counters[s.counter]?.value === current.value && !storeAt.has(index)) {
      storeAt.set(index, monotonicMs());
      arrived();
    }
  });
  client.start();
  live.push(client);
  sockets.push(supabase);
  const raw = newSupabase(s);
  await raw.realtime.setAuth(session.access_token);
  raw
    .channel(s.topic, { config: { private: true } })
    .on('broadcast', { event: 'counter' }, ({ payload }) => {
      if (payload.name === s.counter && payload.value === current.value && !rawAt.has(index)) {
        rawAt.set(index, monotonicMs());
        arrived();
      }
    })
    .subscribe();
  sockets.push(raw);
  for (let w = 0; w < 400 && client.store.getState().status !== 'live'; w++) await sleep(25);
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'setup':
      setup = message.setup;
      return;
    case 'add': {
      if (!setup) throw new Error('add before setup');
      for (const pair of message.pairs) await addPair(setup, pair.index, pair.session);
      send({ type: 'added', clients: live.length });
      return;
    }
    case 'live': {
      const until = Date.now() + message.waitMs;
      const notLive = () => live.filter((c) => c.store.getState().status !== 'live').length;
      while (notLive() > 0 && Date.now() < until) await sleep(50);
      const value = setup ? (live[0]?.store.getState().counters[setup.counter]?.value ?? null) : null;
      send({ type: 'live', notLive: notLive(), value });
      return;
    }
    case 'expect':
      storeAt.clear();
      rawAt.clear();
      current = { seq: message.seq, value: message.value, reported: false };
      send({ type: 'armed', seq: message.seq });
      arrived(); // a process holding no clients yet has all of its arrivals at once
      return;
    case 'collect':
      if (message.seq === current.seq) report(false);
      return;
    case 'stop':
      for (const client of live) client.stop();
      await Promise.all(sockets.map((c) => c.removeAllChannels().catch(() => {})));
      send({ type: 'stopped' });
      // realtime-js leaves a 10 s timer behind a disconnect; nothing else is pending
      setTimeout(() => process.exit(0), 50);
      return;
  }
}

// One message at a time, in order (an `expect` never overtakes the `add` before it).
let queue: Promise<void> = Promise.resolve();
process.on('message', (message: ToWorker) => {
  queue = queue
    .then(() => handle(message))
    .catch((error: unknown) => {
      send({ type: 'error', message: String((error as Error)?.stack ?? error) });
    });
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
