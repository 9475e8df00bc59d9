/**
 * The live client core (createDispatchClient(...).start()) with the real supabase-js and realtime-js
 * against a stack with the supadispatch core installed (npm test's local stack, or a real Supabase);
 * no mocked Realtime. App writes go to a per-run table whose captured changes the database turns into
 * counter broadcasts (support/live-fixture.ts); notifications come from dispatch.notify, whose trigger
 * broadcasts at commit. Every wait is bounded.
 *
 * The drain: these tests call `dispatch_worker_drain` as the service role after a write, because the
 * worker (poke → Edge Function → drain) is not what they test and the test stack deploys none; without
 * it the counters would move at the next dispatch.tick(), up to a minute later.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SupabaseClient } from '@supabase/supabase-js';
import type pg from 'pg';
import {
  dbPool,
  newClient,
  runId,
  type TestUser,
  Users,
  waitFor,
} from '../../local/test/support/conformance.ts';
import { missingTargetMessage, type TestTarget, testTarget } from '../../local/test/support/env.ts';
import {
  createDispatchClient,
  type DispatchClient,
  type DispatchState,
  type DispatchStatus,
  dispatchKeys,
} from '../src/client/index.ts';
import { createTasksFixture, type TasksFixture } from './support/live-fixture.ts';

const target: TestTarget | null = testTarget();
const run = runId();
const WAIT_MS = 15_000;

/** A QueryClient-like recorder: every key `invalidateQueries` was called with, in order. */
function recorder() {
  const calls: (readonly unknown[])[] = [];
  return {
    calls,
    invalidateQueries({ queryKey }: { queryKey: readonly unknown[] }) {
      calls.push(queryKey);
    },
    count: (key: readonly unknown[]) => calls.filter((k) => JSON.stringify(k) === JSON.stringify(key)).length,
  };
}

/** Every state the store went through, from now on. */
function history(client: DispatchClient): {
  states: DispatchState[];
  statuses: DispatchStatus[];
  stop(): void;
} {
  const states: DispatchState[] = [client.store.getState()];
  const statuses: DispatchStatus[] = [client.store.getState().status];
  const stop = client.store.subscribe((s) => {
    states.push(s);
    if (statuses.at(-1) !== s.status) statuses.push(s.status);
  });
  return { states, statuses, stop };
}

const until = (client: DispatchClient, check: (s: DispatchState) => boolean, what: string) =>
  waitFor(() => check(client.store.getState()), WAIT_MS, what);

const topicsOf = (supabase: SupabaseClient) =>
  supabase
    .getChannels()
    .map((c) => c.topic)
    .sort();

describe('live client core against the stack (supabase-js + realtime-js, private topics)', {
  skip: !target && missingTargetMessage,
}, () => {
  let db: pg.Pool;
  let users: Users;
  let service: SupabaseClient;
  let alice: TestUser;
  let bob: TestUser;
  let tasks: TasksFixture;
  let installed = false;
  const started: { client: DispatchClient; supabase: SupabaseClient }[] = [];

  /** A started live client on `supabase` (stopped and its channels removed after the suite). */
  const live = (supabase: SupabaseClient, queryClient?: ReturnType<typeof recorder>) => {
    const client = createDispatchClient({ supabase, queryClient });
    client.start();
    started.push({ client, supabase });
    return client;
  };

  /** Runs what the worker would after a poke: the drain (see the file's comment). */
  const drain = async () => {
    const { error } = await service.rpc('dispatch_worker_drain', { max_changes: 500 });
    assert.equal(error, null);
  };

  before(async () => {
    db = dbPool(target!);
    const [{ has }] = (
      await db.query(`select to_regprocedure('public.dispatch_initial_state()') is not null as has`)
    ).rows;
    installed = has;
    if (!installed) return;
    users = new Users(target!, run);
    service = newClient(target!, target!.serviceRoleKey);
    alice = await users.create('alice');
    bob = await users.create('bob');
    tasks = await createTasksFixture(db, run);
    await tasks.join(alice.id);
  });

  after(async () => {
    for (const { client, supabase } of started) {
      client.stop();
      await supabase.removeAllChannels().catch(() => {});
    }
    if (installed) {
      await tasks?.drop();
      await db.query('delete from dispatch.notifications where user_id = any($1)', [[alice.id, bob.id]]);
      await users.cleanup();
    }
    await db?.end();
  });

  const needsCore = (t: { skip(message: string): void }) => {
    if (!installed)
      t.skip('the supadispatch core is not installed on the target (public.dispatch_initial_state)');
    return !installed;
  };

  it('a write → store.getState().counters[...]: connecting → live; own and audience topics', async (t) => {
    if (needsCore(t)) return;
    const client = createDispatchClient({ supabase: alice.client });
    const seen = history(client);
    client.start();
    started.push({ client, supabase: alice.client });
    await until(client, (s) => s.status === 'live', 'live');
    assert.equal(client.store.getState().userId, alice.id);
    assert.deepEqual(topicsOf(alice.client), [
      `realtime:dispatch:audience:${tasks.audience}`,
      `realtime:dispatch:user:${alice.id}`,
    ]);
    assert.deepEqual(client.store.getState().counters[tasks.userCounter], { value: 0, seq: 0 });

    await tasks.addTasks(alice.id, 2);
    await drain();
    await until(client, (s) => s.counters[tasks.userCounter]?.value === 2, 'the user counter at 2');
    await until(client, (s) => s.counters[tasks.teamCounter]?.value === 2, 'the audience counter at 2');
    await db.query(`select dispatch.notify($1, null, 'Hello', 'for alice')`, [alice.id]);
    await until(
      client,
      (s) => s.notifications[0]?.title === 'Hello' && s.counters.unread_notifications?.value === 1,
      'the notification and the unread count',
    );
    seen.stop();
    assert.deepEqual(seen.statuses.slice(0, 3), ['idle', 'connecting', 'live']);
  });

  it('out-of-order and repeated seq are ignored: a count never moves back', async (t) => {
    if (needsCore(t)) return;
    const supabase = (await users.create('carol')).client;
    const client = live(supabase);
    await until(client, (s) => s.status === 'live', 'live');
    const userId = client.store.getState().userId!;
    await tasks.addTasks(userId, 3);
    await drain();
    await until(client, (s) => s.counters[tasks.userCounter]?.value === 3, 'the counter at 3');
    const { seq } = client.store.getState().counters[tasks.userCounter]!;
    const seen = history(client);

    // late and repeated messages, sent as the database sends them (dispatch.broadcast, private topic)
    const topic = `dispatch:user:${userId}`;
    const send = (value: number, s: number) =>
      db.query(`select dispatch.broadcast($1, 'counter', $2::jsonb)`, [
        topic,
        JSON.stringify({ name: tasks.userCounter, value, seq: s, invalidates: [] }),
      ]);
    await send(999, seq - 1);
    await send(998, seq);
    await send(997, 0);
    // then a real write: broadcasts arrive in commit order, so once it shows, the others came before
    await tasks.addTasks(userId, 1);
    await drain();
    await until(client, (s) => s.counters[tasks.userCounter]?.value === 4, 'the counter at 4');
    seen.stop();
    const values = seen.states.map((s) => s.counters[tasks.userCounter]?.value);
    assert.deepEqual([...new Set(values)], [3, 4]);
    assert.ok(client.store.getState().counters[tasks.userCounter]!.seq > seq);
  });

  it('socket dropped and restored → the state is fetched again and correct', async (t) => {
    if (needsCore(t)) return;
    const carol = await users.create('dave');
    const client = live(carol.client);
    await until(client, (s) => s.status === 'live', 'live');
    await tasks.addTasks(carol.id, 1);
    await drain();
    await until(client, (s) => s.counters[tasks.userCounter]?.value === 1, 'the counter at 1');
    const seen = history(client);

    await carol.client.realtime.disconnect();
    await until(client, (s) => s.status === 'reconnecting', 'reconnecting');
    // while the socket is down: a write and a notification, whose broadcasts nobody hears
    await tasks.addTasks(carol.id, 2);
    await drain();
    await db.query(`select dispatch.notify($1, null, 'Missed', 'while away')`, [carol.id]);
    assert.equal(client.store.getState().counters[tasks.userCounter]?.value, 1);

    carol.client.realtime.connect();
    await until(client, (s) => s.status === 'live', 'live again');
    const state = client.store.getState();
    assert.equal(state.counters[tasks.userCounter]?.value, 3);
    assert.equal(state.counters.unread_notifications?.value, 1);
    assert.deepEqual(
      state.notifications.map((n) => n.title),
      ['Missed'],
    );
    seen.stop();
    assert.deepEqual(seen.statuses, ['live', 'reconnecting', 'live']);
  });

  it('the page goes offline, then online again → offline, then the state fetched again', async (t) => {
    if (needsCore(t)) return;
    const ivy = await users.create('ivy');
    // a page, as far as the client follows it: window and document events, navigator.onLine
    const g = globalThis as Record<string, unknown>;
    const page = { window: new EventTarget(), document: new EventTarget(), navigator: { onLine: true } };
    Object.assign(page.document, { visibilityState: 'visible' });
    for (const [name, value] of Object.entries(page))
      Object.defineProperty(g, name, { configurable: true, writable: true, value });
    try {
      const client = live(ivy.client);
      await until(client, (s) => s.status === 'live', 'live');
      page.navigator.onLine = false;
      page.window.dispatchEvent(new Event('offline'));
      assert.equal(client.store.getState().status, 'offline');
      await ivy.client.realtime.disconnect();
      await tasks.addTasks(ivy.id, 2);
      await drain();
      assert.equal(client.store.getState().status, 'offline');

      page.navigator.onLine = true;
      ivy.client.realtime.connect();
      page.window.dispatchEvent(new Event('online'));
      await until(client, (s) => s.status === 'live', 'live again');
      assert.equal(client.store.getState().counters[tasks.userCounter]?.value, 2);
      // visible again after a drop: fetched again (here the rejoin's fetch did it already; nothing breaks)
      page.document.dispatchEvent(new Event('visibilitychange'));
      await until(client, (s) => s.status === 'live', 'still live');
      client.stop();
    } finally {
      for (const name of Object.keys(page)) delete g[name];
    }
  });

  it('sign-out, then sign-in as someone else → nothing of the first user remains', async (t) => {
    if (needsCore(t)) return;
    const supabase = users.track(newClient(target!, target!.anonKey));
    const client = live(supabase);
    const signIn = async (user: TestUser) => {
      const { error } = await supabase.auth.signInWithPassword({
        email: user.email,
        password: user.password,
      });
      assert.equal(error, null);
    };
    await db.query(`select dispatch.notify($1, null, 'For alice', 'only')`, [alice.id]);
    await signIn(alice);
    await until(client, (s) => s.status === 'live' && s.userId === alice.id, 'alice live');
    const aliceState = client.store.getState();
    assert.ok(aliceState.notifications.some((n) => n.title === 'For alice'));
    assert.ok(aliceState.counters[tasks.teamCounter]);
    const aliceIds = new Set(aliceState.notifications.map((n) => n.id));

    await supabase.auth.signOut();
    await until(client, (s) => s.userId === null, 'signed out');
    assert.deepEqual(client.store.getState(), {
      status: 'idle',
      userId: null,
      counters: {},
      notifications: [],
      hasMore: false,
      error: null,
    });

    const seen = history(client);
    await signIn(bob);
    await until(client, (s) => s.status === 'live' && s.userId === bob.id, 'bob live');
    assert.deepEqual(topicsOf(supabase), [`realtime:dispatch:user:${bob.id}`]);
    // alice's topics are left: her writes reach nobody here; bob's do
    await tasks.addTasks(alice.id, 1);
    await db.query(`select dispatch.notify($1, null, 'Again for alice', 'only')`, [alice.id]);
    await tasks.addTasks(bob.id, 1);
    await drain();
    await db.query(`select dispatch.notify($1, null, 'For bob', 'only')`, [bob.id]);
    await until(client, (s) => s.notifications[0]?.title === 'For bob', "bob's notification");
    await until(client, (s) => s.counters[tasks.userCounter]?.value === 1, "bob's counter");
    seen.stop();
    for (const state of seen.states) {
      assert.ok(state.userId === null || state.userId === bob.id);
      assert.equal(state.counters[tasks.teamCounter], undefined, 'no audience counter of alice');
      assert.ok(!state.notifications.some((n) => aliceIds.has(n.id) || n.title.includes('alice')));
    }
  });

  it('a token refresh hands the new token to Realtime; the topics stay live', async (t) => {
    if (needsCore(t)) return;
    const kate = await users.create('kate');
    const client = live(kate.client);
    await until(client, (s) => s.status === 'live', 'live');
    const tokens: (string | null | undefined)[] = [];
    const realtime = kate.client.realtime;
    const setAuth = realtime.setAuth.bind(realtime);
    realtime.setAuth = (token?: string | null) => {
      tokens.push(token);
      return setAuth(token);
    };
    try {
      // a token issued in the same second as the first is the same JWT (iat has whole seconds)
      await new Promise((r) => setTimeout(r, 1100));
      const { data, error } = await kate.client.auth.refreshSession();
      assert.equal(error, null);
      const fresh = data.session!.access_token;
      assert.notEqual(fresh, kate.session.access_token);
      // supabase-js hands it over itself, and the live client does too (it does not rely on that)
      await waitFor(
        () => tokens.filter((token) => token === fresh).length >= 2,
        WAIT_MS,
        'the new token handed to Realtime',
      );
      assert.equal(client.store.getState().userId, kate.id);
      await tasks.addTasks(kate.id, 1);
      await drain();
      await until(client, (s) => s.counters[tasks.userCounter]?.value === 1, 'the counter after the refresh');
      assert.equal(client.store.getState().status, 'live');
    } finally {
      realtime.setAuth = setAuth;
    }
  });

  it('optimistic mark-read, rolled back with an error when the RPC fails', async (t) => {
    if (needsCore(t)) return;
    const erin = await users.create('erin');
    for (const title of ['E1', 'E2'])
      await db.query(`select dispatch.notify($1, null, $2, 'x')`, [erin.id, title]);
    const client = live(erin.client);
    await until(
      client,
      (s) => s.status === 'live' && s.notifications.length === 2,
      'live with 2 notifications',
    );
    const [e2] = client.store.getState().notifications;
    assert.equal(client.store.getState().counters.unread_notifications?.value, 2);

    // an id the RPC rejects (not a uuid): the whole call fails
    const pending = client.markRead([e2.id, 'not-a-uuid']);
    assert.equal(client.store.getState().notifications[0].read, true, 'read at once');
    assert.equal(client.store.getState().counters.unread_notifications?.value, 1, 'unread lowered at once');
    const { data, error } = await pending;
    assert.equal(data, null);
    assert.equal(error?.code, 'invalid_argument');
    const rolledBack = client.store.getState();
    assert.equal(rolledBack.notifications[0].read, false);
    assert.equal(rolledBack.counters.unread_notifications?.value, 2);
    assert.equal(rolledBack.error, error);

    // the next success clears the error; the server's broadcasts agree with the optimistic state
    assert.deepEqual(await client.markRead([e2.id]), { data: 1, error: null });
    assert.equal(client.store.getState().error, null);
    await until(
      client,
      (s) => s.counters.unread_notifications?.value === 1 && s.counters.unread_notifications.seq > 2,
      'the unread count from the server',
    );
    assert.deepEqual(await client.markAllRead(), { data: 1, error: null });
    await until(client, (s) => s.counters.unread_notifications?.value === 0, 'all read');
    assert.ok(client.store.getState().notifications.every((n) => n.read));
  });

  it('the right query keys are invalidated, coalesced per burst', async (t) => {
    if (needsCore(t)) return;
    const frank = await users.create('frank');
    await tasks.join(frank.id);
    const queryClient = recorder();
    const client = live(frank.client, queryClient);
    await until(client, (s) => s.status === 'live', 'live');
    // both counters move in one drain, both name ['<run>-tasks']: one invalidation of it
    await tasks.addTasks(frank.id, 1);
    await drain();
    await until(
      client,
      (s) => s.counters[tasks.userCounter]?.value === 1 && (s.counters[tasks.teamCounter]?.value ?? 0) > 0,
      'both counters moved',
    );
    await waitFor(() => queryClient.calls.length >= 2, WAIT_MS, 'the invalidations');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(queryClient.count(tasks.keys.tasks), 1);
    assert.equal(queryClient.count(tasks.keys.list), 1);
    assert.equal(queryClient.calls.length, 2);

    // three notifications in one transaction: three unread broadcasts, one invalidation of the key
    queryClient.calls.length = 0;
    await db.query(`
      select dispatch.notify('${frank.id}', null, 'F1', 'x');
      select dispatch.notify('${frank.id}', null, 'F2', 'x');
      select dispatch.notify('${frank.id}', null, 'F3', 'x');
    `);
    await until(client, (s) => s.counters.unread_notifications?.value === 3, 'unread at 3');
    await waitFor(() => queryClient.calls.length >= 1, WAIT_MS, 'the invalidation');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(queryClient.calls, [dispatchKeys.allNotifications()]);
  });

  it('two live clients on one supabase client share one channel per topic (StrictMode)', async (t) => {
    if (needsCore(t)) return;
    const gina = await users.create('gina');
    const first = live(gina.client);
    const second = live(gina.client);
    first.stop();
    first.start();
    await until(first, (s) => s.status === 'live', 'the first live');
    await until(second, (s) => s.status === 'live', 'the second live');
    assert.deepEqual(topicsOf(gina.client), [`realtime:dispatch:user:${gina.id}`]);
    second.stop();
    await tasks.addTasks(gina.id, 1);
    await drain();
    await until(first, (s) => s.counters[tasks.userCounter]?.value === 1, 'the remaining client hears');
    assert.equal(second.store.getState().status, 'idle');
    first.stop();
    await waitFor(() => gina.client.getChannels().length === 0, WAIT_MS, 'the channel left');
  });

  it('a topic the user may no longer read: the rejoin fails with an error; refresh() leaves it', async (t) => {
    if (needsCore(t)) return;
    const jane = await users.create('jane');
    await tasks.join(jane.id);
    const client = live(jane.client);
    await until(client, (s) => s.status === 'live', 'live');
    assert.ok(client.store.getState().counters[tasks.teamCounter]);
    await db.query('delete from dispatch.audience_members where audience = $1 and user_id = $2', [
      tasks.audience,
      jane.id,
    ]);
    await jane.client.realtime.disconnect();
    jane.client.realtime.connect();
    await until(client, (s) => s.error?.code === 'forbidden', 'the failed join as an error');
    assert.equal(client.store.getState().status, 'reconnecting');
    assert.match(client.store.getState().error!.message, new RegExp(`dispatch:audience:${tasks.audience}`));

    assert.deepEqual(await client.refresh(), { data: null, error: null });
    await until(client, (s) => s.status === 'live', 'live without the audience');
    const state = client.store.getState();
    assert.equal(state.error, null);
    assert.equal(state.counters[tasks.teamCounter], undefined);
    await waitFor(
      () => topicsOf(jane.client).join() === `realtime:dispatch:user:${jane.id}`,
      WAIT_MS,
      'the audience topic left',
    );
  });

  it('loadMore pages older notifications; refresh refetches; setPreference reports errors', async (t) => {
    if (needsCore(t)) return;
    const hank = await users.create('hank');
    // 25 notifications, one per transaction (distinct created_at: pages are cut by created_at)
    for (let i = 1; i <= 25; i++)
      await db.query(`select dispatch.notify($1, null, $2, 'x')`, [hank.id, `H${i}`]);
    const client = live(hank.client);
    await until(client, (s) => s.status === 'live', 'live');
    assert.equal(client.store.getState().notifications.length, 20);
    assert.equal(client.store.getState().hasMore, true);
    assert.deepEqual(await client.loadMore(), { data: 5, error: null });
    const state = client.store.getState();
    assert.equal(state.hasMore, false);
    assert.deepEqual(
      state.notifications.map((n) => n.title),
      Array.from({ length: 25 }, (_, i) => `H${25 - i}`),
    );
    assert.deepEqual(await client.refresh(), { data: null, error: null });
    // the refetched first page joins the page loaded under it: both kept
    assert.equal(client.store.getState().notifications.length, 25);
    assert.equal(client.store.getState().hasMore, false);
    const wrong = await client.setPreference({ eventId: `${run}.missing`, enabled: false });
    assert.equal(wrong.error?.code, 'invalid_argument');
    assert.equal(client.store.getState().error, wrong.error);
  });
  /** `count` notifications for `userId` made by one statement: one transaction, one created_at. */
  const notifyInOneTransaction = async (userId: string, prefix: string, count: number) => {
    await db.query(`select dispatch.notify($1, null, $2 || g, 'x') from generate_series(1, $3::int) g`, [
      userId,
      prefix,
      count,
    ]);
    const { rows } = await db.query<{ id: string; created_at: Date }>(
      'select id, created_at from dispatch.notifications where user_id = $1 order by created_at desc, id desc',
      [userId],
    );
    assert.equal(new Set(rows.map((r) => r.created_at.getTime())).size, 1, 'one created_at');
    return rows.map((r) => r.id);
  };

  it('loadMore through notifications of one transaction (one created_at): every id exactly once, in order', async (t) => {
    if (needsCore(t)) return;
    const kim = await users.create('kim');
    // 45: the first page (20), then two pages whose boundaries fall inside the shared created_at
    const expected = await notifyInOneTransaction(kim.id, 'K', 45);
    const client = live(kim.client);
    await until(client, (s) => s.status === 'live', 'live');
    const added: number[] = [];
    for (let i = 0; i < 10 && client.store.getState().hasMore; i++) {
      const { data, error } = await client.loadMore();
      assert.equal(error, null);
      added.push(data!);
    }
    assert.deepEqual(added, [20, 5]);
    const ids = client.store.getState().notifications.map((n) => n.id);
    assert.equal(new Set(ids).size, 45, 'each once');
    assert.deepEqual(ids, expected, 'created_at desc, id desc, as the database orders them');
    assert.equal(client.store.getState().hasMore, false);
  });

  it('after a reconnect the older pages loaded stay; read flags follow a mark-all-read missed meanwhile', async (t) => {
    if (needsCore(t)) return;
    const lee = await users.create('lee');
    const paged = await notifyInOneTransaction(lee.id, 'L', 25);
    const client = live(lee.client);
    await until(client, (s) => s.status === 'live', 'live');
    assert.deepEqual(await client.loadMore(), { data: 5, error: null });

    await lee.client.realtime.disconnect();
    await until(client, (s) => s.status === 'reconnecting', 'reconnecting');
    // while the socket is down: everything read (another tab), then a new one; nobody hears either
    await db.query('select dispatch.mark_read($1, null)', [lee.id]);
    await db.query(`select dispatch.notify($1, null, 'Missed', 'while away')`, [lee.id]);

    lee.client.realtime.connect();
    await until(
      client,
      (s) => s.status === 'live' && s.notifications[0]?.title === 'Missed',
      'live again, with the missed one',
    );
    const state = client.store.getState();
    assert.deepEqual(
      state.notifications.map((n) => n.id),
      [state.notifications[0].id, ...paged],
    );
    assert.deepEqual(
      state.notifications.filter((n) => !n.read).map((n) => n.title),
      ['Missed'],
    );
    assert.equal(state.hasMore, false);
    assert.equal(state.counters.unread_notifications?.value, 1);
  });
});
