/**
 * The live half of the client core (issue 18): the state of the vanilla zustand store that is the one
 * source of every count on screen, and the methods that feed and change it. `createDispatchClient`
 * returns a {@link DispatchClient} that also implements {@link DispatchLive}; `@supadispatch/react`'s
 * hooks only read `store` through selectors and call these methods.
 *
 * This module holds types only: the shapes the core and the React bindings agree on.
 */
import type { StoreApi } from 'zustand/vanilla';
import type { DispatchError } from './errors.ts';
import type { DispatchResult } from './rpc.ts';
import type {
  CounterNameOf,
  DispatchNotification,
  DispatchSchema,
  PreferenceChange,
  PreferenceSet,
} from './types.ts';

/**
 * Where the client stands with Realtime:
 * - `idle`: not started, or started with nobody signed in;
 * - `connecting`: signed in, fetching the state and joining the topics for the first time;
 * - `live`: every topic joined and the state fetched after the last join;
 * - `reconnecting`: a topic dropped (socket closed, channel error); the client rejoins by itself;
 * - `offline`: the browser says it is offline; the client refetches when it comes back.
 */
export type DispatchStatus = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'offline';

/** One counter as the store holds it: `seq` orders updates, so a late message never moves it back. */
export interface CounterEntry {
  value: number;
  seq: number;
}

/** The store's state. Counters and notifications belong to `userId`; a sign-out clears them. */
export interface DispatchState<S extends DispatchSchema = DispatchSchema> {
  status: DispatchStatus;
  /** The signed-in user the state belongs to (null when signed out). */
  userId: string | null;
  /** Every counter known for this user: their own and their audiences'. */
  counters: Partial<Record<CounterNameOf<S>, CounterEntry>>;
  /** Newest first; pages appended by `loadMore()`. */
  notifications: DispatchNotification<S>[];
  /** Whether older notifications exist beyond the last page. */
  hasMore: boolean;
  /** The last error (a failed fetch, join or rolled-back mark-read); cleared by the next success. */
  error: DispatchError | null;
}

/** The live methods of the client core. Calls that can fail resolve to `{ data, error }`. */
export interface DispatchLive<S extends DispatchSchema = DispatchSchema> {
  /** The vanilla zustand store (read it with selectors: `store.getState().counters[name]`). */
  readonly store: StoreApi<DispatchState<S>>;
  /**
   * Begins following supabase-js's auth state: on sign-in fetch `dispatch_initial_state()` and join
   * the user's private topic and the audience topics it lists (on the app's own Realtime socket); on
   * sign-out leave them and clear the store; on token refresh hand the token to Realtime.
   * Idempotent; returns `stop`. Touches `window`/`document` (online, offline, visibility) only
   * where they exist, so it also runs in Node; React's bindings call it from an effect, so server
   * rendering never starts it. Without a supabase-js client (auth and Realtime) it sets `error`.
   */
  start(): () => void;
  /** Leaves every topic, stops following auth, and returns the store to `idle` (state cleared). */
  stop(): void;
  /** Marks notifications read, optimistically; on failure rolls back and sets `error`. */
  markRead(ids: readonly string[]): Promise<DispatchResult<number>>;
  /** Marks every notification read, optimistically; on failure rolls back and sets `error`. */
  markAllRead(): Promise<DispatchResult<number>>;
  /** Fetches the page of notifications older than the oldest held; sets `hasMore`. */
  loadMore(): Promise<DispatchResult<number>>;
  /** Fetches the state again (counters, first page of notifications, topics). */
  refresh(): Promise<DispatchResult<null>>;
  /** Changes a preference (`dispatch_set_preference`). */
  setPreference(change: PreferenceChange<S>): Promise<DispatchResult<PreferenceSet>>;
}
