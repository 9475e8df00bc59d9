/**
 * Fault 3, the Realtime endpoint restarted while clients are subscribed: 100 signed-in users (the
 * full run), each with supabase-js and the real client core (createDispatchClient(...).start(),
 * private topics), watch their `chaos_open` counter. The stack's Realtime service is stopped
 * (every socket closed), writes land while it is down (their broadcasts reach no one), and it is
 * started again. Every client goes `reconnecting`, rejoins, fetches the state again, and ends with
 * exactly the count the database holds; writes after the restart arrive live again.
 *
 * Writes are delivered to counters by the real worker (pg_net's poke at commit); auth, REST and
 * Realtime are the local stack's services on this suite's own database.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import pg from 'pg';
import WebSocket from 'ws';
import { createAuthService } from '../../local/src/auth/index.ts';
import { createRealtimeService, type RealtimeService } from '../../local/src/realtime/index.ts';
import { createRestService } from '../../local/src/rest/index.ts';
import {
  createDispatchClient,
  type DispatchClient,
  type DispatchStatus,
} from '../../sdk/src/client/index.ts';
import {
  type ChaosStack,
  fullScale,
  skipReason,
  sleep,
  startChaosStack,
  until,
} from './support/chaos-stack.ts';
import { recordFigures } from './support/figures.ts';

const CLIENTS = fullScale ? 100 : 12;
const COUNTER = 'chaos_open';

interface Watcher {
  userId: string;
  supabase: SupabaseClient;
  client: DispatchClient;
  statuses: DispatchStatus[];
}

describe('chaos: the Realtime endpoint restarted under subscribed clients', { skip: skipReason() }, () => {
  let c: ChaosStack;
  let realtime: RealtimeService;
  let app: pg.Pool;
  const watchers: Watcher[] = [];
  before(async () => {
    realtime = createRealtimeService();
    c = await startChaosStack({
      name: 'realtime',
      sinkPortOffset: 3,
      appSql: `create table public.profiles (id uuid primary key);
create table public.chaos_items (id bigint generated always as identity primary key, user_id uuid not null, status text not null);
`,
      config: () => `{
        users: { table: 'public.profiles', id: 'id' },
        transports: { in_app: {} },
        audiences: { owner: { column: 'user_id' } },
        events: {},
        counters: { ${COUNTER}: { table: 'chaos_items', where: { status: 'open' }, scope: { user: 'user_id' } } },
      }`,
      services: [createAuthService(), createRestService(), realtime],
    });
    app = new pg.Pool({ connectionString: c.dbUrl, max: 4 });
  });
  after(async () => {
    for (const w of watchers) w.client.stop();
    await Promise.all(watchers.map((w) => w.supabase.removeAllChannels().catch(() => {})));
    await app?.end();
    await c?.stop();
  });

  const newClient = (key: string) =>
    createClient(c.stack.url, key, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      realtime: { transport: WebSocket as never, logger: () => {} },
    });

  /** The database's value of each watcher's counter. */
  const expected = async () => {
    const { rows } = await c.admin.query(
      `select scope, value::int from dispatch.counter_state where name = $1`,
      [COUNTER],
    );
    return new Map(rows.map((r) => [r.scope as string, r.value as number]));
  };
  const exact = async () => {
    const want = await expected();
    return watchers.filter(
      (w) => w.client.store.getState().counters[COUNTER]?.value !== (want.get(w.userId) ?? 0),
    );
  };
  const write = async (round: number) => {
    // one statement per user, each a captured change; some rows open, some closed
    for (const [i, w] of watchers.entries()) {
      await app.query(
        'insert into public.chaos_items (user_id, status) select $1, case when g % 3 = 0 then $3 else $4 end from generate_series(1, $2::int) g',
        [w.userId, 1 + ((i + round) % 4), 'closed', 'open'],
      );
    }
  };

  test('every client reconnects, refetches and ends with the exact count', async () => {
    const service = newClient(c.stack.serviceRoleKey);
    for (let i = 0; i < CLIENTS; i++) {
      const email = `chaos-rt-${i}@example.com`;
      const password = `pw-${i}-chaos-realtime`;
      const created = await service.auth.admin.createUser({ email, password, email_confirm: true });
      assert.equal(created.error, null);
      const supabase = newClient(c.stack.anonKey);
      const signed = await supabase.auth.signInWithPassword({ email, password });
      assert.equal(signed.error, null);
      await supabase.realtime.setAuth(signed.data.session!.access_token);
      const client = createDispatchClient({ supabase });
      const statuses: DispatchStatus[] = [];
      client.store.subscribe((s) => {
        if (statuses.at(-1) !== s.status) statuses.push(s.status);
      });
      client.start();
      watchers.push({ userId: created.data.user!.id, supabase, client, statuses });
    }
    const allLive = async () => watchers.every((w) => w.client.store.getState().status === 'live');
    await until('every client live', 600, 100, allLive);

    await write(0);
    await until('counts live before the restart', 600, 100, async () => (await exact()).length === 0);

    await realtime.stop();
    await until('every client noticed', 600, 100, async () =>
      watchers.every((w) => w.client.store.getState().status !== 'live'),
    );
    await write(1); // while Realtime is down: these broadcasts reach no one
    await sleep(1000);
    await realtime.start(c.stack.ctx);
    await until('every client live again', 1200, 100, allLive);
    await until('counts exact after the restart', 600, 100, async () => (await exact()).length === 0);

    await write(2); // live again: arrives as broadcasts
    await until(
      'counts exact after writes past the restart',
      600,
      100,
      async () => (await exact()).length === 0,
    );
    const reconnected = watchers.filter(
      (w) => w.statuses.includes('reconnecting') && w.statuses.at(-1) === 'live',
    );
    assert.equal(reconnected.length, CLIENTS);
    const mismatched = await exact();
    const want = await expected();
    recordFigures('realtime-restart', {
      clients: CLIENTS,
      realtimeRestarts: 1,
      reconnected: reconnected.length,
      exactAtEnd: CLIENTS - mismatched.length,
      mismatched: mismatched.length,
      countedRows: [...want.values()].reduce((a, b) => a + b, 0),
    });
  });
});
