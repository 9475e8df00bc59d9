/**
 * The client core (sdk/src/client) against a fake `rpc`: the RPC names and named arguments each
 * call sends, `{ data, error }` results, TanStack-style options that throw, the error codes, and the
 * query keys (including the one the core SQL's unread_notifications counter broadcasts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  bindDispatch,
  createDispatchClient,
  DispatchError,
  decodeQueryKey,
  dispatchKeys,
  dispatchMutations,
  dispatchQueries,
  dispatchRpc,
  type PreferenceChange,
  type RpcClient,
  type RpcResponse,
  toDispatchError,
} from '../src/client/index.ts';
import { generateClient } from '../src/generator/client.ts';
import { encodeQueryKey } from '../src/generator/sql/counter.ts';
import { validateConfig } from '../src/index.ts';
import shop from './fixtures/shop.config.ts';
import { testDir } from './support/project.ts';

/** An `rpc` that records its calls and answers with `response` (or throws it, if it is an Error). */
function fakeRpc(response: RpcResponse | Error = { data: null, error: null, status: 200 }) {
  const calls: [string, Record<string, unknown> | undefined][] = [];
  const client: RpcClient = {
    rpc(fn, args) {
      calls.push([fn, args]);
      return response instanceof Error ? Promise.reject(response) : Promise.resolve(response);
    },
  };
  return { client, calls };
}

const failing = (error: Record<string, unknown>, status: number) => fakeRpc({ data: null, error, status });

describe('client core: RPC calls', () => {
  it('send the RPC name and its named arguments, with defaults', async () => {
    const { client, calls } = fakeRpc();
    await dispatchRpc.initialState(client);
    await dispatchRpc.notifications(client);
    await dispatchRpc.notifications(client, { before: '2026-01-01T00:00:00Z', maxRows: 5 });
    await dispatchRpc.notifications(client, { before: '2026-01-01T00:00:00Z', beforeId: 'n-1', maxRows: 5 });
    await dispatchRpc.markRead(client, ['a', 'b']);
    await dispatchRpc.markAllRead(client);
    await dispatchRpc.preferences(client);
    await dispatchRpc.receipts(client);
    await dispatchRpc.receipts(client, {
      eventId: 'order.created',
      status: 'failed',
      recipient: 'u',
      maxRows: 3,
    });
    await dispatchRpc.occurrences(client, { eventId: 'order.created', since: 's', until: 'u' });
    await dispatchRpc.replay(client, 'occ-1');
    assert.deepEqual(calls, [
      ['dispatch_initial_state', undefined],
      ['dispatch_notifications', { before: null, max_rows: 20 }],
      ['dispatch_notifications', { before: '2026-01-01T00:00:00Z', max_rows: 5 }],
      ['dispatch_notifications', { before: '2026-01-01T00:00:00Z', max_rows: 5, before_id: 'n-1' }],
      ['dispatch_mark_read', { ids: ['a', 'b'] }],
      ['dispatch_mark_all_read', undefined],
      ['dispatch_preferences', undefined],
      [
        'dispatch_receipts',
        { event_id: null, status: null, recipient: null, since: null, until: null, max_rows: 50 },
      ],
      [
        'dispatch_receipts',
        {
          event_id: 'order.created',
          status: 'failed',
          recipient: 'u',
          since: null,
          until: null,
          max_rows: 3,
        },
      ],
      [
        'dispatch_occurrences',
        { event_id: 'order.created', status: null, since: 's', until: 'u', max_rows: 50 },
      ],
      ['dispatch_replay', { occurrence_id: 'occ-1' }],
    ]);
  });

  it("setPreference sends null, never '*', for every event / every transport", async () => {
    const { client, calls } = fakeRpc();
    const changes: PreferenceChange[] = [
      { eventId: 'order.shipped', transport: 'email', enabled: false },
      { eventId: 'order.shipped', transport: '*', enabled: false },
      { eventId: 'order.shipped', enabled: true },
      { category: 'orders', transport: 'in_app', enabled: false },
      { category: 'orders', transport: null, enabled: true },
      // what the generated client used to send as "every event": now the RPC's null
      { eventId: '*', category: 'orders', enabled: false } as unknown as PreferenceChange,
    ];
    for (const change of changes) await dispatchRpc.setPreference(client, change);
    assert.deepEqual(
      calls.map(([fn, args]) => [fn, args]),
      [
        { event_id: 'order.shipped', transport: 'email', enabled: false, category: null },
        { event_id: 'order.shipped', transport: null, enabled: false, category: null },
        { event_id: 'order.shipped', transport: null, enabled: true, category: null },
        { event_id: null, transport: 'in_app', enabled: false, category: 'orders' },
        { event_id: null, transport: null, enabled: true, category: 'orders' },
        { event_id: null, transport: null, enabled: false, category: 'orders' },
      ].map((args) => ['dispatch_set_preference', args]),
    );
  });

  it('resolve to { data, error: null } on success', async () => {
    const { client } = fakeRpc({ data: 3, error: null, status: 200 });
    assert.deepEqual(await dispatchRpc.markAllRead(client), { data: 3, error: null });
  });

  it('resolve to { data: null, error: DispatchError } on failure, and never throw', async () => {
    const { client } = failing({ code: '22023', message: 'dispatch: unknown event x', details: null }, 400);
    const result = await dispatchRpc.setPreference(client, { eventId: 'x', enabled: true });
    assert.equal(result.data, null);
    assert.ok(result.error instanceof DispatchError);
    assert.equal(result.error.code, 'invalid_argument');
    assert.equal(result.error.fn, 'dispatch_set_preference');

    const thrown = new TypeError('boom');
    const broken = await dispatchRpc.initialState(fakeRpc(thrown).client);
    assert.equal(broken.data, null);
    assert.equal(broken.error?.code, 'unknown');
    assert.equal(broken.error?.message, 'boom');
    assert.equal(broken.error?.cause, thrown);
  });
});

describe('client core: errors', () => {
  const cases: [string, Record<string, unknown> | string, number | undefined, DispatchError['code']][] = [
    ['require_user', { code: '42501', message: 'dispatch: not signed in' }, 403, 'not_signed_in'],
    [
      'anon: no EXECUTE',
      { code: '42501', message: 'permission denied for function x' },
      401,
      'not_signed_in',
    ],
    ['admins only', { code: '42501', message: 'dispatch: admins only' }, 403, 'forbidden'],
    ['JWT expired', { code: 'PGRST303', message: 'JWT expired' }, 401, 'not_signed_in'],
    [
      'validation',
      { code: '22023', message: 'dispatch: max_rows must be between 1 and 100' },
      400,
      'invalid_argument',
    ],
    [
      'bad uuid',
      { code: '22P02', message: 'invalid input syntax for type uuid: "x"' },
      400,
      'invalid_argument',
    ],
    ['no such RPC', { code: 'PGRST202', message: 'Could not find the function' }, 404, 'not_installed'],
    ['no answer', { code: '', message: 'TypeError: fetch failed', details: '', hint: '' }, 0, 'network'],
    ['server error', { code: 'XX000', message: 'internal' }, 500, 'unknown'],
    ['a thrown string', 'went wrong', undefined, 'unknown'],
  ];
  for (const [label, error, status, code] of cases)
    it(`${label} → ${code}`, () => {
      const e = toDispatchError('dispatch_fn', error, status);
      assert.ok(e instanceof DispatchError && e instanceof Error);
      assert.equal(e.code, code);
      assert.equal(e.name, 'DispatchError');
    });

  it('keep what PostgREST said', () => {
    const original = { code: '22023', message: 'dispatch: unknown event x', details: 'd', hint: 'h' };
    const e = toDispatchError('dispatch_set_preference', original, 400);
    assert.deepEqual(
      { message: e.message, fn: e.fn, pgCode: e.pgCode, status: e.status, details: e.details, hint: e.hint },
      {
        message: 'dispatch: unknown event x',
        fn: 'dispatch_set_preference',
        pgCode: '22023',
        status: 400,
        details: 'd',
        hint: 'h',
      },
    );
    assert.equal(e.cause, original);
    assert.equal(toDispatchError('other', e), e, 'a DispatchError passes through');
  });
});

describe('client core: keys', () => {
  it('are under dispatch; every page of notifications shares one prefix', () => {
    assert.deepEqual(dispatchKeys.all, ['dispatch']);
    assert.deepEqual(dispatchKeys.initialState(), ['dispatch', 'initial_state']);
    assert.deepEqual(dispatchKeys.preferences(), ['dispatch', 'preferences']);
    assert.deepEqual(dispatchKeys.notifications(), ['dispatch', 'notifications', {}]);
    assert.deepEqual(dispatchKeys.notifications({ maxRows: 5 }).slice(0, 2), dispatchKeys.allNotifications());
    assert.deepEqual(dispatchKeys.receipts({ status: 'failed' }), [
      'dispatch',
      'receipts',
      { status: 'failed' },
    ]);
    assert.deepEqual(dispatchKeys.occurrences(), ['dispatch', 'occurrences', {}]);
  });

  it('decodeQueryKey inverts the generator encoding of `invalidates`', () => {
    for (const key of [['orders'], ['seller', 'orders'], ['page', 2], ['[odd']])
      assert.deepEqual(decodeQueryKey(encodeQueryKey(key)), key);
    assert.throws(() => decodeQueryKey('[{"a":1}]'), /not a query key/);
  });

  it('unread_notifications invalidates the notifications key, in the core SQL and the generated module', () => {
    const key = dispatchKeys.allNotifications();
    const sql = readFileSync(path.join(testDir, '../../sql/core/050_notifications.sql'), 'utf8');
    const registered = /register_counter\(\s*'unread_notifications', 'user', null, array\['([^']*)'\]/.exec(
      sql,
    );
    assert.ok(registered, 'the core registers unread_notifications with one query key');
    assert.deepEqual(decodeQueryKey(registered[1]), key);
    const generated = generateClient(validateConfig(shop));
    assert.match(
      generated,
      /unread_notifications: \{ invalidates: \[\['dispatch', 'notifications'\]\], scope: 'user' \}/,
    );
  });
});

describe('client core: queries and mutations (TanStack Query options)', () => {
  it('queries: the key and a queryFn calling the RPC', async () => {
    const { client, calls } = fakeRpc({ data: [], error: null, status: 200 });
    const q = dispatchQueries.notifications(client, { maxRows: 10 });
    assert.deepEqual(q.queryKey, ['dispatch', 'notifications', { maxRows: 10 }]);
    assert.deepEqual(await q.queryFn(), []);
    assert.deepEqual(calls, [['dispatch_notifications', { before: null, max_rows: 10 }]]);
    assert.deepEqual(dispatchQueries.initialState(client).queryKey, dispatchKeys.initialState());
    assert.deepEqual(dispatchQueries.preferences(client).queryKey, dispatchKeys.preferences());
    assert.deepEqual(dispatchQueries.receipts(client).queryKey, dispatchKeys.receipts());
    assert.deepEqual(dispatchQueries.occurrences(client).queryKey, dispatchKeys.occurrences());
  });

  it('queryFn and mutationFn throw the DispatchError (TanStack expects a rejection)', async () => {
    const { client } = failing({ code: '42501', message: 'dispatch: admins only' }, 403);
    await assert.rejects(dispatchQueries.receipts(client).queryFn(), (e: unknown) => {
      assert.ok(e instanceof DispatchError);
      assert.equal(e.code, 'forbidden');
      return true;
    });
    await assert.rejects(dispatchMutations.replay(client).mutationFn('occ'), DispatchError);
  });

  it('mutations: a key and a mutationFn taking the variables', async () => {
    const { client, calls } = fakeRpc({ data: 1, error: null, status: 200 });
    const markRead = dispatchMutations.markRead(client);
    assert.deepEqual(markRead.mutationKey, ['dispatch', 'mark_read']);
    assert.equal(await markRead.mutationFn(['n1']), 1);
    await dispatchMutations.markAllRead(client).mutationFn();
    await dispatchMutations
      .setPreference(client)
      .mutationFn({ category: 'orders', transport: '*', enabled: false });
    assert.deepEqual(calls, [
      ['dispatch_mark_read', { ids: ['n1'] }],
      ['dispatch_mark_all_read', undefined],
      ['dispatch_set_preference', { event_id: null, transport: null, enabled: false, category: 'orders' }],
    ]);
  });
});

describe('client core: binding', () => {
  it('bindDispatch types the same implementation to a schema', () => {
    const schema = {
      eventIds: ['a'],
      counterNames: ['unread_notifications'],
      transports: ['in_app'],
      audienceNames: [],
      topicAudiences: [],
      counters: { unread_notifications: { scope: 'user', invalidates: [['dispatch', 'notifications']] } },
      events: { a: { category: null, transports: ['in_app'], type: 'info', userConfigurable: true } },
    } as const;
    const api = bindDispatch(schema);
    assert.equal(api.schema, schema);
    assert.equal(api.rpc.markRead, dispatchRpc.markRead);
    assert.equal(api.keys, dispatchKeys);
  });

  it('createDispatchClient binds the calls to one Supabase client', async () => {
    const { client, calls } = fakeRpc({ data: 2, error: null, status: 200 });
    const dispatch = createDispatchClient({ supabase: client });
    assert.equal(dispatch.supabase, client);
    assert.equal(dispatch.queryClient, null);
    assert.deepEqual(await dispatch.rpc.markRead(['x', 'y']), { data: 2, error: null });
    assert.deepEqual(dispatch.queries.notifications({ maxRows: 3 }).queryKey, [
      'dispatch',
      'notifications',
      { maxRows: 3 },
    ]);
    assert.equal(await dispatch.mutations.markAllRead().mutationFn(), 2);
    assert.deepEqual(
      calls.map(([fn]) => fn),
      ['dispatch_mark_read', 'dispatch_mark_all_read'],
    );
  });
});
