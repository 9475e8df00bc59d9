/**
 * The live client core's pure parts, without a stack: nothing touches `window` or `document` at
 * import, the reducers of counters and notifications, and the coalescing of invalidations (a burst
 * invalidates every key once). What needs Realtime is in client-live.test.ts, against the stack.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDispatchClient, type DispatchNotification } from '../src/client/index.ts';
import { adjustCounter, applyCounterMessage, applyFetchedCounters } from '../src/client/live/counters.ts';
import { createInvalidator, type Invalidator } from '../src/client/live/invalidation.ts';
import { applyBroadcast, broadcastMessages, type LiveView } from '../src/client/live/messages.ts';
import {
  afterRefetch,
  markReadIn,
  markUnreadIn,
  mergeNotifications,
  nextPageCursor,
  unreadAmong,
} from '../src/client/live/notifications.ts';
import { UserSession } from '../src/client/live/session.ts';
import { createDispatchStore } from '../src/client/live/store.ts';
import type { LiveSupabaseClient } from '../src/client/live/supabase.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('live client core: no browser globals', () => {
  it('importing and creating a client reads neither window nor document; start() without auth reports it', async () => {
    const touched: string[] = [];
    const g = globalThis as Record<string, unknown>;
    for (const name of ['window', 'document', 'navigator', 'requestAnimationFrame'])
      Object.defineProperty(g, name, {
        configurable: true,
        get() {
          touched.push(name);
          return undefined;
        },
      });
    try {
      const { createDispatchClient } = await import(`../src/client/index.ts?${Date.now()}`);
      const client = createDispatchClient({ supabase: { rpc: async () => ({ data: null, error: null }) } });
      assert.equal(client.store.getState().status, 'idle');
      assert.deepEqual(touched, []);
      const stop = client.start();
      assert.equal(client.store.getState().error?.fn, 'start');
      assert.equal(client.store.getState().status, 'idle');
      stop();
      assert.deepEqual(touched, []);
    } finally {
      for (const name of ['window', 'document', 'navigator', 'requestAnimationFrame']) delete g[name];
    }
  });
});

describe('live client core: counters', () => {
  const held = { c: { value: 5, seq: 10 } };
  it('a message applies only when its seq is newer', () => {
    assert.equal(applyCounterMessage(held, { name: 'c', value: 1, seq: 9, invalidates: [] }), held);
    assert.equal(applyCounterMessage(held, { name: 'c', value: 1, seq: 10, invalidates: [] }), held);
    assert.deepEqual(applyCounterMessage(held, { name: 'c', value: 6, seq: 11, invalidates: [] }), {
      c: { value: 6, seq: 11 },
    });
    assert.deepEqual(applyCounterMessage({}, { name: 'n', value: 0, seq: 0, invalidates: [] }), {
      n: { value: 0, seq: 0 },
    });
  });
  it('a fetched state replaces what it is not older than, drops what it no longer lists, names what moved', () => {
    const { counters, moved } = applyFetchedCounters(
      { a: { value: 1, seq: 5 }, b: { value: 2, seq: 9 }, gone: { value: 3, seq: 1 } },
      { a: { value: 4, seq: 6, invalidates: [] }, b: { value: 0, seq: 8, invalidates: [] } },
    );
    assert.deepEqual(counters, { a: { value: 4, seq: 6 }, b: { value: 2, seq: 9 } });
    assert.deepEqual(moved, ['a']);
  });
  it('an optimistic adjustment keeps the seq and never goes below zero', () => {
    assert.deepEqual(adjustCounter(held, 'c', -7), { c: { value: 0, seq: 10 } });
    assert.equal(adjustCounter(held, 'missing', -1), held);
  });
});

describe('live client core: notifications', () => {
  const n = (id: string, createdAt: string, read = false): DispatchNotification => ({
    id,
    eventId: null,
    type: 'info',
    title: id,
    message: '',
    actionUrl: null,
    actionLabel: null,
    metadata: {},
    read,
    createdAt,
  });
  const list = [n('b', '2026-01-02T00:00:00Z'), n('a', '2026-01-01T00:00:00Z', true)];
  it('merges newest first, ignores known ids, keeps only the store columns', () => {
    const merged = mergeNotifications(list, [
      { ...n('c', '2026-01-03T00:00:00Z'), extra: 1 } as DispatchNotification,
      n('b', '2026-01-02T00:00:00Z', true),
    ]);
    assert.deepEqual(
      merged.map((x) => [x.id, x.read]),
      [
        ['c', false],
        ['b', false],
        ['a', true],
      ],
    );
    assert.equal('extra' in merged[0], false);
    assert.equal(mergeNotifications(list, [n('a', '2026-01-01T00:00:00Z')]), list);
  });
  it('marks read by id or all, and back', () => {
    assert.deepEqual(unreadAmong(list, null), ['b']);
    assert.deepEqual(unreadAmong(list, ['a']), []);
    const read = markReadIn(list, ['b']);
    assert.equal(read[0].read, true);
    assert.equal(markReadIn(read, null), read, 'unchanged: the same array');
    assert.equal(markUnreadIn(read, ['b'])[0].read, false);
  });
  it('the next page starts after the last one held: its createdAt and id', () => {
    assert.deepEqual(nextPageCursor(list), { before: '2026-01-01T00:00:00Z', beforeId: 'a' });
    assert.equal(nextPageCursor([]), null);
  });
});

describe('live client core: a refetched first page and the pages loaded before', () => {
  const T = '2026-01-01T00:00:00Z'; // one transaction: one createdAt, ordered by id desc
  const n = (id: string, read = false): DispatchNotification => ({
    id,
    eventId: null,
    type: 'info',
    title: id,
    message: '',
    actionUrl: null,
    actionLabel: null,
    metadata: {},
    read,
    createdAt: id.startsWith('new') ? '2026-01-02T00:00:00Z' : T,
  });
  const ids = (view: { notifications: DispatchNotification[] }) => view.notifications.map((x) => x.id);
  // held: a first page of 3 (z, y, x) and an older page (w, v); nothing older (hasMore false)
  const held = { notifications: ['z', 'y', 'x', 'w', 'v'].map((id) => n(id)), hasMore: false };
  const completeUpTo = n('z');

  it('a page that reaches the rows held completely keeps the older pages, and hasMore', () => {
    const page = [n('new1'), n('z'), n('y', true)];
    const view = afterRefetch(held, { page, pageSize: 3, completeUpTo, unread: 5 });
    assert.deepEqual(ids(view), ['new1', 'z', 'y', 'x', 'w', 'v']);
    assert.equal(view.hasMore, false);
    assert.equal(view.notifications[2].read, true, 'the page wins over the held row');
  });
  it('a held row in the page range that the page lacks was deleted: it goes', () => {
    const page = [n('new1'), n('z'), n('x')];
    assert.deepEqual(ids(afterRefetch(held, { page, pageSize: 3, completeUpTo })), [
      'new1',
      'z',
      'x',
      'w',
      'v',
    ]);
  });
  it('more than a page arrived meanwhile (a gap under the page): the page alone, hasMore', () => {
    const page = [n('new3'), n('new2'), n('new1')];
    const view = afterRefetch(held, { page, pageSize: 3, completeUpTo });
    assert.deepEqual(ids(view), ['new3', 'new2', 'new1']);
    assert.equal(view.hasMore, true);
  });
  it('rows newer than the last fetched page came from broadcasts and do not count as complete', () => {
    const withBroadcasts = { ...held, notifications: [n('new3'), n('new1'), ...held.notifications] };
    const page = [n('new4'), n('new3'), n('new2')]; // new2 was missed while a topic was down
    assert.deepEqual(ids(afterRefetch(withBroadcasts, { page, pageSize: 3, completeUpTo })), [
      'new4',
      'new3',
      'new2',
    ]);
  });
  it('held ones newer than the page (broadcast after the fetch read) stay', () => {
    const withLate = { ...held, notifications: [n('new9'), ...held.notifications] };
    const page = [n('new1'), n('z'), n('y')];
    assert.deepEqual(ids(afterRefetch(withLate, { page, pageSize: 3, completeUpTo })), [
      'new9',
      'new1',
      'z',
      'y',
      'x',
      'w',
      'v',
    ]);
    const gap = afterRefetch(withLate, {
      page: [n('new3'), n('new2'), n('new1')],
      pageSize: 3,
      completeUpTo,
    });
    assert.deepEqual(ids(gap), ['new9', 'new3', 'new2', 'new1']);
  });
  it('a short page is every notification; no previous page: the page alone', () => {
    const short = afterRefetch(held, { page: [n('z'), n('y')], pageSize: 3, completeUpTo });
    assert.deepEqual([ids(short), short.hasMore], [['z', 'y'], false]);
    const first = afterRefetch(held, { page: [n('z'), n('y'), n('x')], pageSize: 3, completeUpTo: null });
    assert.deepEqual([ids(first), first.hasMore], [['z', 'y', 'x'], true]);
  });
  it('kept rows are marked read when the fetched unread count is all in the page', () => {
    const page = [n('new1'), n('z', true), n('y', true)];
    const allIn = afterRefetch(held, { page, pageSize: 3, completeUpTo, unread: 1 });
    assert.deepEqual(
      allIn.notifications.map((x) => x.read),
      [false, true, true, true, true, true],
    );
    const moreUnread = afterRefetch(held, { page, pageSize: 3, completeUpTo, unread: 2 });
    assert.deepEqual(
      moreUnread.notifications.map((x) => x.read),
      [false, true, true, false, false, false],
    );
  });
});

describe('live client core: invalidation', () => {
  it('a burst invalidates every key once, decoded; undecodable keys are skipped', async () => {
    const calls: unknown[] = [];
    const invalidator = createInvalidator({ invalidateQueries: ({ queryKey }) => calls.push(queryKey) }, 10);
    for (let i = 0; i < 50; i++)
      invalidator.invalidateEncoded(['orders', '["dispatch","notifications"]', '[{']);
    assert.deepEqual(calls, [], 'nothing before the window ends');
    await sleep(50);
    assert.deepEqual(calls, [['orders'], ['dispatch', 'notifications']]);
    invalidator.invalidateEncoded(['orders']);
    await sleep(50);
    assert.deepEqual(calls.at(-1), ['orders'], 'a later burst invalidates again');
    assert.equal(calls.length, 3);
  });
  it('cancel drops what is pending; a failing query client does not stop the other keys', async () => {
    const calls: unknown[] = [];
    const invalidator = createInvalidator(
      {
        invalidateQueries: ({ queryKey }) => {
          calls.push(queryKey);
          if (queryKey[0] === 'a') throw new Error('boom');
          return Promise.reject(new Error('refetch failed'));
        },
      },
      5,
    );
    invalidator.invalidateEncoded(['x']);
    invalidator.cancel();
    await sleep(20);
    assert.deepEqual(calls, []);
    invalidator.invalidate([['a'], ['b']]);
    await sleep(20);
    assert.deepEqual(calls, [['a'], ['b']]);
  });
});

describe('live client core: loadMore', () => {
  const n = (id: string): DispatchNotification => ({
    id,
    eventId: null,
    type: 'info',
    title: id,
    message: '',
    actionUrl: null,
    actionLabel: null,
    metadata: {},
    read: false,
    createdAt: '2026-01-01T00:00:00Z',
  });
  /** A client whose rpc answers when `answer` is called; the store set as if signed in. */
  function pendingClient(held: DispatchNotification[]) {
    const calls: [string, unknown][] = [];
    let answer: (rows: DispatchNotification[]) => void = () => {};
    const client = createDispatchClient({
      supabase: {
        rpc: (fn: string, args?: unknown) => {
          calls.push([fn, args]);
          return new Promise((resolve) => {
            answer = (rows) => resolve({ data: rows, error: null, status: 200 });
          });
        },
      },
    });
    client.store.setState({ userId: 'u', notifications: held, hasMore: true });
    return { client, calls, answer: (rows: DispatchNotification[]) => answer(rows) };
  }

  it('asks for the page after the last one held: its createdAt as before, its id as before_id', async () => {
    const { client, calls, answer } = pendingClient([n('b'), n('a')]);
    const loading = client.loadMore();
    answer([]);
    assert.deepEqual(await loading, { data: 0, error: null });
    assert.deepEqual(calls, [
      ['dispatch_notifications', { before: '2026-01-01T00:00:00Z', max_rows: 20, before_id: 'a' }],
    ]);
    assert.equal(client.store.getState().hasMore, false);
  });
  it('a page the list no longer ends with (a refetch replaced it meanwhile) is dropped: no gap', async () => {
    const { client, answer } = pendingClient([n('b'), n('a')]);
    const loading = client.loadMore();
    client.store.setState({ notifications: [n('d'), n('c')] });
    answer([n('0')]);
    assert.deepEqual(await loading, { data: 0, error: null });
    assert.deepEqual(
      client.store.getState().notifications.map((x) => x.id),
      ['d', 'c'],
    );
    assert.equal(client.store.getState().hasMore, true);
  });
});

describe('live client core: batch broadcasts (one per topic per statement or drain)', () => {
  const n = (id: string, createdAt = '2026-01-01T00:00:00Z'): DispatchNotification => ({
    id,
    eventId: null,
    type: 'info',
    title: id,
    message: '',
    actionUrl: null,
    actionLabel: null,
    metadata: {},
    read: false,
    createdAt,
  });
  const counter = (name: string, value: number, seq: number, invalidates: string[] = []) => ({
    event: 'counter',
    payload: { name, value, seq, invalidates },
  });
  const plainByPlain = (view: LiveView, messages: { event: string; payload: unknown }[]) =>
    messages.reduce((v, m) => applyBroadcast(v, m.event, m.payload).view, view);

  it('a batch ends where its messages applied one by one end', () => {
    const held: LiveView = { counters: { unread: { value: 1, seq: 4 } }, notifications: [n('a')] };
    const messages = [
      { event: 'notification', payload: { ...n('b', '2026-01-02T00:00:00Z'), id: 'b' } },
      counter('unread', 2, 5, ['["dispatch","notifications"]']),
      { event: 'notification', payload: n('c', '2026-01-03T00:00:00Z') },
      counter('unread', 1, 3), // stale: an older seq
      { event: 'notifications_read', payload: { ids: ['a', 'c'] } },
      counter('open', 7, 1, ['["orders"]']),
      { event: 'notification', payload: n('b', '2026-01-02T00:00:00Z') }, // known: kept as it was
    ];
    const { view, invalidates } = applyBroadcast(held, 'batch', { messages, id: 'x' });
    assert.deepEqual(view, plainByPlain(held, messages));
    assert.deepEqual(
      view.notifications.map((x) => [x.id, x.read]),
      [
        ['c', true],
        ['b', false],
        ['a', true],
      ],
    );
    assert.deepEqual(view.counters, { unread: { value: 2, seq: 5 }, open: { value: 7, seq: 1 } });
    assert.deepEqual(
      invalidates,
      [['["dispatch","notifications"]'], ['["orders"]']],
      'only the counters that moved',
    );
  });

  it('unknown events inside a batch, a malformed batch and a batch inside a batch are ignored', () => {
    const held: LiveView = { counters: { c: { value: 1, seq: 1 } }, notifications: [] };
    for (const payload of [
      {},
      { messages: null },
      { messages: 'x' },
      null,
      { messages: [null, 3, { payload: {} }] },
    ])
      assert.equal(applyBroadcast(held, 'batch', payload).view, held);
    const inner = { event: 'batch', payload: { messages: [counter('c', 9, 9)] } };
    const { view } = applyBroadcast(held, 'batch', {
      messages: [{ event: 'surprise', payload: { name: 'c', value: 5, seq: 5 } }, inner, counter('c', 2, 2)],
    });
    assert.deepEqual(view.counters, { c: { value: 2, seq: 2 } });
    assert.equal(view.notifications, held.notifications, 'untouched parts stay the same objects');
    assert.equal(applyBroadcast(held, 'surprise', { name: 'c', value: 5, seq: 5 }).view, held);
  });

  it('plain broadcasts apply as before', () => {
    const held: LiveView = { counters: {}, notifications: [] };
    const one = applyBroadcast(held, 'counter', { name: 'c', value: 3, seq: 1, invalidates: ['k'] });
    assert.deepEqual(one, {
      view: { counters: { c: { value: 3, seq: 1 } }, notifications: [] },
      invalidates: [['k']],
    });
    assert.deepEqual(broadcastMessages('counter', 1), [{ event: 'counter', payload: 1 }]);
  });

  it('the live client writes the store ONCE per batch, then invalidates what moved', async () => {
    let onBroadcast: (m: { event: string; payload: unknown }) => void = () => {};
    const channel = {
      on(
        _type: 'broadcast',
        _filter: { event: string },
        cb: (m: { event: string; payload: unknown }) => void,
      ) {
        onBroadcast = cb;
        return channel;
      },
      subscribe(cb?: (status: 'SUBSCRIBED') => void) {
        queueMicrotask(() => cb?.('SUBSCRIBED'));
        return channel;
      },
    };
    const supabase = {
      rpc: async () => ({
        data: { counters: {}, notifications: [], topics: ['dispatch:user:u'] },
        error: null,
      }),
      realtime: { setAuth: async () => {} },
      channel: () => channel,
      removeChannel: async () => 'ok',
    };
    const store = createDispatchStore();
    const invalidated: (readonly string[] | undefined)[] = [];
    const session = new UserSession('u', 'token', {
      supabase: supabase as unknown as LiveSupabaseClient,
      store,
      invalidator: {
        invalidateEncoded: (keys) => {
          invalidated.push(keys);
        },
        invalidate: () => {},
        cancel: () => {},
      } satisfies Invalidator,
      offline: () => false,
    });
    session.begin();
    for (let i = 0; i < 50 && store.getState().status !== 'live'; i++) await sleep(5);
    assert.equal(store.getState().status, 'live');
    let writes = 0;
    const unsubscribe = store.subscribe(() => writes++);
    onBroadcast({
      event: 'batch',
      payload: {
        messages: [
          { event: 'notification', payload: n('a') },
          { event: 'notification', payload: n('b', '2026-01-02T00:00:00Z') },
          counter('unread_notifications', 2, 1, ['["dispatch","notifications"]']),
          counter('open', 4, 1),
        ],
      },
    });
    assert.equal(writes, 1, 'one setState for the whole batch');
    assert.deepEqual(
      store.getState().notifications.map((x) => x.id),
      ['b', 'a'],
    );
    assert.deepEqual(store.getState().counters, {
      unread_notifications: { value: 2, seq: 1 },
      open: { value: 4, seq: 1 },
    });
    assert.deepEqual(invalidated, [['["dispatch","notifications"]'], []]);
    onBroadcast({
      event: 'batch',
      payload: { messages: [counter('open', 3, 1), { event: 'x', payload: {} }] },
    });
    assert.equal(writes, 1, 'a batch that changes nothing writes nothing');
    unsubscribe();
    session.end();
  });
});
