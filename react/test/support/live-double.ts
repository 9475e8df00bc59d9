/**
 * A test double of the live client core: the contract (`DispatchLive`, supadispatch/client state.ts)
 * over a real vanilla zustand store, on top of the real `createDispatchClient` (keys, queries, RPCs
 * answered by a fake `rpc`). It records every live call, counts how many starts are live at once,
 * and can be told to fail a method the way the core does (roll back, set `error`).
 */

import type { DispatchClient } from 'supadispatch/client';
import {
  createDispatchClient,
  type DispatchError,
  type DispatchNotification,
  type DispatchResult,
  type DispatchState,
  DispatchError as Err,
  type QueryClientLike,
  type RpcClient,
  type RpcResponse,
} from 'supadispatch/client';
import { createStore } from 'zustand/vanilla';

export type LiveMethod =
  | 'start'
  | 'stop'
  | 'markRead'
  | 'markAllRead'
  | 'loadMore'
  | 'refresh'
  | 'setPreference';

export interface LiveDouble {
  client: DispatchClient;
  store: DispatchClient['store'];
  /** Every live call in order, with its arguments. */
  calls: { method: LiveMethod; args: unknown[] }[];
  /** The RPCs the underlying core called (`queries`, `rpc`), with their arguments. */
  rpcCalls: [string, Record<string, unknown> | undefined][];
  /** Answers of the fake `rpc` by function name (default `{ data: null }`). */
  rpcAnswers: Record<string, RpcResponse>;
  /** Starts not yet stopped, and the most there ever were at once. */
  live(): { now: number; most: number };
  /** Makes the next calls of `method` fail with `error` (the store rolls back and holds `error`). */
  fail(method: 'markRead' | 'markAllRead' | 'loadMore' | 'refresh', error: DispatchError): void;
  /** Sets one counter as a `counter` message would (a new counters object, as the core does). */
  setCounter(name: string, value: number): void;
  methodCalls(method: LiveMethod): unknown[][];
}

export const emptyState: DispatchState = {
  status: 'idle',
  userId: null,
  counters: {},
  notifications: [],
  hasMore: false,
  error: null,
};

export function dispatchError(message: string, fn = 'dispatch_mark_read'): DispatchError {
  return new Err('unknown', message, { fn });
}

/** A notification `minutesAgo` old. */
export function notification(
  id: string,
  fields: Partial<DispatchNotification> & { minutesAgo?: number } = {},
): DispatchNotification {
  const { minutesAgo = 5, ...rest } = fields;
  return {
    id,
    eventId: null,
    type: 'info',
    title: `Title ${id}`,
    message: `Message ${id}`,
    actionUrl: null,
    actionLabel: null,
    metadata: {},
    read: false,
    createdAt: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
    ...rest,
  };
}

export function liveDouble(
  initial: Partial<DispatchState> = {},
  options: { queryClient?: QueryClientLike } = {},
): LiveDouble {
  const rpcCalls: LiveDouble['rpcCalls'] = [];
  const rpcAnswers: LiveDouble['rpcAnswers'] = {};
  const supabase: RpcClient = {
    rpc(fn, args) {
      rpcCalls.push([fn, args]);
      return Promise.resolve(rpcAnswers[fn] ?? { data: null, error: null, status: 200 });
    },
  };
  const store = createStore<DispatchState>()(() => ({ ...emptyState, ...initial }));
  const calls: LiveDouble['calls'] = [];
  const failures = new Map<LiveMethod, DispatchError>();
  let now = 0;
  let most = 0;
  const record = (method: LiveMethod, ...args: unknown[]) => calls.push({ method, args });

  /** Applies `change` to the notifications; on a set failure, undoes it and sets `error`. */
  const markLocally = async (method: 'markRead' | 'markAllRead', ids: readonly string[] | null) => {
    const before = store.getState();
    const hit = before.notifications.filter((n) => !n.read && (ids === null || ids.includes(n.id)));
    store.setState({
      notifications: before.notifications.map((n) => (hit.includes(n) ? { ...n, read: true } : n)),
    });
    await Promise.resolve();
    const error = failures.get(method);
    if (error) {
      store.setState({ notifications: before.notifications, error });
      return { data: null, error } as DispatchResult<number>;
    }
    return { data: hit.length, error: null } as DispatchResult<number>;
  };

  const stop = () => {
    record('stop');
    now = Math.max(0, now - 1);
  };
  const live = {
    store,
    start() {
      record('start');
      now++;
      most = Math.max(most, now);
      return stop;
    },
    stop,
    markRead(ids: readonly string[]) {
      record('markRead', [...ids]);
      return markLocally('markRead', ids);
    },
    markAllRead() {
      record('markAllRead');
      return markLocally('markAllRead', null);
    },
    async loadMore() {
      record('loadMore');
      await Promise.resolve();
      const error = failures.get('loadMore');
      return (error ? { data: null, error } : { data: 0, error: null }) as DispatchResult<number>;
    },
    async refresh() {
      record('refresh');
      const error = failures.get('refresh');
      if (!error) store.setState({ error: null });
      return (error ? { data: null, error } : { data: null, error: null }) as DispatchResult<null>;
    },
    async setPreference(change: unknown) {
      record('setPreference', change);
      return {
        data: { eventId: null, category: null, transport: null, enabled: false },
        error: null,
      } as never;
    },
  };
  const client = Object.assign(
    createDispatchClient({ supabase, queryClient: options.queryClient }),
    live,
  ) as unknown as DispatchClient;
  return {
    client,
    store: client.store,
    calls,
    rpcCalls,
    rpcAnswers,
    live: () => ({ now, most }),
    fail: (method, error) => failures.set(method, error),
    setCounter(name, value) {
      const { counters } = store.getState();
      const seq = (counters[name]?.seq ?? 0) + 1;
      store.setState({ counters: { ...counters, [name]: { value, seq } } });
    },
    methodCalls: (method) => calls.filter((c) => c.method === method).map((c) => c.args),
  };
}
