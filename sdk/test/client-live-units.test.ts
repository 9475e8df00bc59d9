/**
 * The live client core's pure parts, without a stack: nothing touches `window` or `document` at
 * import, the reducers of counters and notifications, and the coalescing of invalidations (a burst
 * invalidates every key once). What needs Realtime is in client-live.test.ts, against the stack.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DispatchNotification } from '../src/client/index.ts';
import { adjustCounter, applyCounterMessage, applyFetchedCounters } from '../src/client/live/counters.ts';
import { createInvalidator } from '../src/client/live/invalidation.ts';
import {
  markReadIn,
  markUnreadIn,
  mergeNotifications,
  unreadAmong,
} from '../src/client/live/notifications.ts';

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
