/**
 * The client core with the real supabase-js against a stack with the supadispatch core installed
 * (npm test's local stack, or a real Supabase): a signed-in user's RPC calls, their errors, the
 * preference contract ('*' never reaches the RPC), and the unread_notifications `counter` broadcast
 * naming the query key the core's notifications queries use. Everything it makes is named after
 * the run and removed afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import {
  dbPool,
  newClient,
  runId,
  subscribe,
  type TestUser,
  Users,
  waitFor,
} from '../../local/test/support/conformance.ts';
import { missingTargetMessage, type TestTarget, testTarget } from '../../local/test/support/env.ts';
import {
  broadcastMessages,
  type CounterValue,
  callRpc,
  createDispatchClient,
  DispatchError,
  decodeQueryKey,
  dispatchKeys,
  dispatchRpc,
  type PreferenceChange,
} from '../src/client/index.ts';

const target: TestTarget | null = testTarget();
const run = runId();
const eventId = `${run}.shipped`;
const category = `${run}_orders`;

describe('client core against the stack (supabase-js, signed in)', {
  skip: !target && missingTargetMessage,
}, () => {
  let users: Users;
  let db: pg.Pool;
  let alice: TestUser;
  let installed = false;

  before(async () => {
    db = dbPool(target!);
    const [{ has }] = (
      await db.query(`select to_regprocedure('public.dispatch_initial_state()') is not null as has`)
    ).rows;
    installed = has;
    if (!installed) return;
    users = new Users(target!, run);
    alice = await users.create('alice');
    await db.query(
      `select dispatch.register_event($1, p_category => $2, p_transports => array['in_app', 'email'])`,
      [eventId, category],
    );
    for (const title of ['N1', 'N2', 'N3'])
      await db.query(`select dispatch.notify($1, null, $2, 'for alice')`, [alice.id, title]);
  });

  after(async () => {
    if (installed) {
      await db.query('delete from dispatch.preferences where user_id = $1', [alice.id]);
      await db.query('delete from dispatch.notifications where user_id = $1', [alice.id]);
      await db.query('delete from dispatch.events where id = $1', [eventId]);
      await users.cleanup();
    }
    await db?.end();
  });

  const needsCore = (t: { skip(message: string): void }) => {
    if (!installed)
      t.skip('the supadispatch core is not installed on the target (public.dispatch_initial_state)');
    return !installed;
  };

  it('anonymous: not_signed_in, as { data: null, error }', async (t) => {
    if (needsCore(t)) return;
    const anon = newClient(target!, target!.anonKey);
    const { data, error } = await dispatchRpc.initialState(anon);
    assert.equal(data, null);
    assert.ok(error instanceof DispatchError);
    assert.equal(error.code, 'not_signed_in');
    assert.equal(error.fn, 'dispatch_initial_state');
  });

  it('initial state: the unread counter names the notifications key; the user topic', async (t) => {
    if (needsCore(t)) return;
    const { data, error } = await dispatchRpc.initialState(alice.client);
    assert.equal(error, null);
    const unread = data!.counters.unread_notifications as CounterValue;
    assert.equal(unread.value, 3);
    assert.deepEqual(unread.invalidates.map(decodeQueryKey), [dispatchKeys.allNotifications()]);
    assert.deepEqual(
      data!.notifications.map((n) => n.title),
      ['N3', 'N2', 'N1'],
    );
    assert.ok(data!.topics.includes(`dispatch:user:${alice.id}`));
  });

  it('queries and mutations of a bound client: pages, mark read', async (t) => {
    if (needsCore(t)) return;
    const dispatch = createDispatchClient({ supabase: alice.client });
    const first = await dispatch.queries.notifications({ maxRows: 2 }).queryFn();
    assert.deepEqual(
      first.map((n) => [n.title, n.read, n.eventId]),
      [
        ['N3', false, null],
        ['N2', false, null],
      ],
    );
    const older = await dispatch.queries.notifications({ before: first[1].createdAt, maxRows: 2 }).queryFn();
    assert.deepEqual(
      older.map((n) => n.title),
      ['N1'],
    );
    assert.equal(await dispatch.mutations.markRead().mutationFn([first[0].id]), 1);
    const state = await dispatch.queries.initialState().queryFn();
    assert.equal(state.counters.unread_notifications?.value, 2);
    assert.deepEqual(await dispatch.rpc.markAllRead(), { data: 2, error: null });
  });

  it('preferences: { events, preferences }; every event / transport sent as the RPC expects', async (t) => {
    if (needsCore(t)) return;
    const set = (change: PreferenceChange) => dispatchRpc.setPreference(alice.client, change);
    assert.deepEqual((await set({ eventId, transport: '*', enabled: false })).error, null);
    assert.deepEqual((await set({ eventId, transport: 'email', enabled: true })).error, null);
    assert.deepEqual((await set({ category, transport: 'in_app', enabled: false })).error, null);

    const { data, error } = await dispatchRpc.preferences(alice.client);
    assert.equal(error, null);
    const event = data!.events.find((e) => e.id === eventId);
    assert.deepEqual(event && { category: event.category, transports: event.transports }, {
      category,
      transports: ['in_app', 'email'],
    });
    const sorted = (rows: { eventId: unknown; category: unknown; transport: unknown; enabled: boolean }[]) =>
      rows.map((r) => JSON.stringify([r.eventId, r.category, r.transport, r.enabled])).sort();
    assert.deepEqual(
      sorted(data!.preferences),
      sorted([
        { eventId: null, category, transport: 'in_app', enabled: false },
        { eventId, category: null, transport: null, enabled: false },
        { eventId, category: null, transport: 'email', enabled: true },
      ]),
    );

    // '*' as the event (what the generated client used to send) is the RPC's null: with neither an
    // event nor a category, the RPC's own validation answers, not "unknown event *"
    const star = await set({ eventId: '*', enabled: false } as unknown as PreferenceChange);
    assert.equal(star.error?.code, 'invalid_argument');
    assert.equal(star.error?.message, 'dispatch: give an event_id or a category');
    const wrong = await set({ eventId, transport: 'sms', enabled: false } as unknown as PreferenceChange);
    assert.equal(wrong.error?.code, 'invalid_argument');
    assert.match(wrong.error!.message, /is not a transport of event/);
  });

  it('admin RPCs for a user: forbidden; a missing RPC: not_installed', async (t) => {
    if (needsCore(t)) return;
    const receipts = await dispatchRpc.receipts(alice.client);
    assert.equal(receipts.error?.code, 'forbidden');
    assert.equal(receipts.error?.message, 'dispatch: admins only');
    const missing = await callRpc(alice.client, `dispatch_${run}_missing`);
    assert.equal(missing.error?.code, 'not_installed');
  });

  it('the unread_notifications broadcast invalidates the notifications key (Realtime, private topic)', async (t) => {
    if (needsCore(t)) return;
    const received: { name: string; value: number; invalidates: string[] }[] = [];
    const channel = alice.client
      .channel(`dispatch:user:${alice.id}`, { config: { private: true } })
      .on('broadcast', { event: '*' }, (m) => {
        // alone or in a `batch` with the notification (one broadcast per topic per statement)
        for (const inner of broadcastMessages(m.event, m.payload))
          if (inner.event === 'counter') received.push(inner.payload as (typeof received)[number]);
      });
    await subscribe(channel);
    await db.query(`select dispatch.notify($1, null, 'N4', 'for alice')`, [alice.id]);
    await waitFor(
      () => received.some((c) => c.name === 'unread_notifications'),
      10_000,
      'the unread_notifications counter broadcast',
    );
    const unread = received.find((c) => c.name === 'unread_notifications')!;
    assert.equal(unread.value, 1);
    const notificationsQuery = dispatchKeys.notifications({ maxRows: 20 });
    for (const key of unread.invalidates.map(decodeQueryKey)) {
      assert.deepEqual(key, dispatchKeys.allNotifications());
      // TanStack's prefix match: the key invalidates every page of notifications
      assert.deepEqual(notificationsQuery.slice(0, key.length), key);
    }
  });
});
