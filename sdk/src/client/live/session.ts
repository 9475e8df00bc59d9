/**
 * One signed-in user's live state, from sign-in to sign-out (or to another user signing in): fetch
 * `dispatch_initial_state()`, join the topics it lists, apply their broadcasts, and fetch the state
 * again after every (re)join, because Realtime does not replay what was sent while a channel was
 * down. A session that ended writes nothing more to the store, so nothing of a previous user can
 * arrive after the next one's state.
 *
 * Status (state.ts): `connecting` until every topic is joined and a fetch that started after the
 * last join succeeded (then `live`); a topic dropping after that is `reconnecting`; the browser
 * saying offline is `offline`.
 */

import type { StoreApi } from 'zustand/vanilla';
import { DispatchError } from '../errors.ts';
import type { DispatchResult } from '../rpc.ts';
import { dispatchRpc } from '../rpc.ts';
import type { DispatchState, DispatchStatus } from '../state.ts';
import type { DispatchNotification, InitialState } from '../types.ts';
import { applyFetchedCounters, type Counters } from './counters.ts';
import type { Invalidator } from './invalidation.ts';
import { applyBroadcast } from './messages.ts';
import { afterRefetch, firstPage, UNREAD_NOTIFICATIONS } from './notifications.ts';
import type { ChannelStatus, LiveSupabaseClient } from './supabase.ts';
import { topicHub } from './topics.ts';

/** Notifications per page (`dispatch_initial_state` returns the latest 20 too). */
export const PAGE_SIZE = 20;

/** Delays before fetching the state again after a failed fetch, in ms; the last repeats. */
const RETRY_DELAYS_MS = [1000, 2000, 5000, 10_000];

export interface SessionContext {
  supabase: LiveSupabaseClient;
  store: StoreApi<DispatchState>;
  invalidator: Invalidator;
  offline: () => boolean;
}

interface JoinedTopic {
  release: () => void;
  joined: boolean;
}

/** The live follow-up of one user; `end()` it when they sign out or another user signs in. */
export class UserSession {
  private ended = false;
  private readonly topics = new Map<string, JoinedTopic>();
  private fetching: Promise<DispatchResult<null>> | null = null;
  private fetchAgain = false;
  /** Incremented on every join; the state is current when a fetch started after the last one. */
  private joins = 0;
  private fetchedAfterJoin = -1;
  private beenLive = false;
  private droppedSinceFetch = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retries = 0;
  private refetchTimer: ReturnType<typeof setTimeout> | null = null;
  private accessToken: string;
  /** The newest notification of the last fetched first page: held ones up to it are complete. */
  private newestFetched: DispatchNotification | null = null;

  constructor(
    readonly userId: string,
    accessToken: string,
    private readonly ctx: SessionContext,
  ) {
    this.accessToken = accessToken;
  }

  /** Clears the store for this user and starts: token to Realtime, fetch, join. */
  begin(): void {
    this.ctx.store.setState(
      {
        status: this.ctx.offline() ? 'offline' : 'connecting',
        userId: this.userId,
        counters: {},
        notifications: [],
        hasMore: false,
        error: null,
      },
      true,
    );
    // Private channels join with the token the socket holds: hand it over before the first join.
    void this.ctx.supabase.realtime
      .setAuth(this.accessToken)
      .catch(() => {})
      .then(() => {
        if (!this.ended) void this.refetch();
      });
  }

  /** Leaves every topic and stops every timer; the store is the caller's to clear. */
  end(): void {
    this.ended = true;
    for (const topic of this.topics.values()) topic.release();
    this.topics.clear();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.refetchTimer) clearTimeout(this.refetchTimer);
    this.retryTimer = this.refetchTimer = null;
  }

  /** A new access token for the same user (a refresh): Realtime re-checks the channels with it. */
  setToken(token: string): void {
    if (token === this.accessToken) return;
    this.accessToken = token;
    void this.ctx.supabase.realtime.setAuth(token).catch(() => {});
  }

  /** The browser went offline. */
  wentOffline(): void {
    this.updateStatus();
  }

  /** The browser came back online, or the page became visible: fetch again if anything dropped meanwhile. */
  resumed(): void {
    this.updateStatus();
    if (this.droppedSinceFetch || !this.isCurrent()) void this.refetch();
  }

  /** Fetches the state again (one fetch at a time; a request during one runs once more after it). */
  refetch(): Promise<DispatchResult<null>> {
    if (this.fetching) {
      this.fetchAgain = true;
      return this.fetching;
    }
    this.fetching = this.fetchLoop().finally(() => {
      this.fetching = null;
    });
    return this.fetching;
  }

  private async fetchLoop(): Promise<DispatchResult<null>> {
    let result: DispatchResult<null>;
    do {
      this.fetchAgain = false;
      this.droppedSinceFetch = false;
      const joinsAtStart = this.joins;
      const { data, error } = await dispatchRpc.initialState(this.ctx.supabase);
      if (this.ended)
        return {
          data: null,
          error: new DispatchError('not_signed_in', 'dispatch: signed out', { fn: 'dispatch_initial_state' }),
        };
      if (error) {
        this.setState({ error });
        this.scheduleRetry();
        return { data: null, error };
      }
      this.retries = 0;
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.apply(data);
      this.fetchedAfterJoin = joinsAtStart;
      this.updateStatus();
      result = { data: null, error: null };
    } while (this.fetchAgain && !this.ended);
    return result;
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.ended) return;
    const delay = RETRY_DELAYS_MS[Math.min(this.retries, RETRY_DELAYS_MS.length - 1)];
    this.retries++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.ended) void this.refetch();
    }, delay);
  }

  private apply(data: InitialState): void {
    const state = this.ctx.store.getState();
    const { counters, moved } = applyFetchedCounters(state.counters as Counters, data.counters);
    // counters that moved while this client did not hear them: their lists are stale too
    for (const name of moved) this.ctx.invalidator.invalidateEncoded(data.counters[name]?.invalidates);
    const page = firstPage(data.notifications);
    const { notifications, hasMore } = afterRefetch(state, {
      page,
      pageSize: PAGE_SIZE,
      completeUpTo: this.newestFetched,
      unread: data.counters[UNREAD_NOTIFICATIONS]?.value,
    });
    this.newestFetched = page[0] ?? null;
    this.setState({ counters, notifications, hasMore, error: null });
    this.setTopics(data.topics);
  }

  /** Joins the topics the state lists and leaves the ones it no longer lists. */
  private setTopics(names: readonly string[]): void {
    const wanted = new Set(names);
    for (const [name, topic] of this.topics) {
      if (wanted.has(name)) continue;
      topic.release();
      this.topics.delete(name);
    }
    for (const name of wanted) {
      if (this.topics.has(name)) continue;
      const topic: JoinedTopic = { joined: false, release: () => {} };
      this.topics.set(name, topic);
      topic.release = topicHub(this.ctx.supabase).join(name, {
        message: (event, payload) => {
          if (!this.ended && this.topics.get(name) === topic) this.onMessage(event, payload);
        },
        status: (status, error) => {
          if (!this.ended && this.topics.get(name) === topic) this.onStatus(name, topic, status, error);
        },
      });
    }
  }

  private onStatus(name: string, topic: JoinedTopic, status: ChannelStatus, error?: Error): void {
    if (status === 'SUBSCRIBED') {
      topic.joined = true;
      this.joins++;
      this.scheduleRefetchAfterJoin();
    } else {
      if (topic.joined) this.droppedSinceFetch = true;
      // a join that failed (realtime-js tries again by itself); a drop of a joined topic is not an error
      else if (status !== 'CLOSED') this.setState({ error: joinError(name, status, error) });
      topic.joined = false;
    }
    this.updateStatus();
  }

  // Topics joined together (sign-in, a reconnect) are fetched for once: after the last of them.
  private scheduleRefetchAfterJoin(): void {
    if (this.refetchTimer) return;
    this.refetchTimer = setTimeout(() => {
      this.refetchTimer = null;
      if (!this.ended && this.allJoined()) void this.refetch();
    }, 0);
  }

  // A broadcast, plain or a `batch` of several (messages.ts): ONE store write for all it changes, so
  // a batch re-renders once; then the query keys of the counters it moved.
  private onMessage(event: string, payload: unknown): void {
    const state = this.ctx.store.getState();
    const held = { counters: state.counters as Counters, notifications: state.notifications };
    const { view, invalidates } = applyBroadcast(held, event, payload);
    if (view === held) return; // nothing new (stale counters, known notifications, unknown events)
    const partial: Partial<DispatchState> = {};
    if (view.counters !== held.counters) partial.counters = view.counters;
    if (view.notifications !== held.notifications) partial.notifications = view.notifications;
    this.setState(partial);
    for (const keys of invalidates) this.ctx.invalidator.invalidateEncoded(keys);
  }

  private allJoined(): boolean {
    if (this.topics.size === 0) return false;
    for (const topic of this.topics.values()) if (!topic.joined) return false;
    return true;
  }

  private isCurrent(): boolean {
    return this.allJoined() && this.fetchedAfterJoin === this.joins;
  }

  private updateStatus(): void {
    if (this.ended) return;
    let status: DispatchStatus;
    if (this.ctx.offline()) status = 'offline';
    else if (this.isCurrent()) status = 'live';
    else status = this.beenLive ? 'reconnecting' : 'connecting';
    if (status === 'live') this.beenLive = true;
    if (this.ctx.store.getState().status !== status) this.setState({ status });
  }

  private setState(partial: Partial<DispatchState>): void {
    if (this.ended || this.ctx.store.getState().userId !== this.userId) return;
    this.ctx.store.setState(partial);
  }
}

/** A failed join as a {@link DispatchError}: `Unauthorized` (no read on the topic), an expired token, or no answer. */
function joinError(topic: string, status: ChannelStatus, error?: Error): DispatchError {
  const message = error?.message || (status === 'TIMED_OUT' ? 'timed out' : status);
  const code = /Unauthorized/i.test(message)
    ? 'forbidden'
    : /JWT|expired/i.test(message)
      ? 'not_signed_in'
      : 'network';
  return new DispatchError(code, `dispatch: could not join ${topic}: ${message}`, {
    fn: 'realtime.join',
    cause: error,
  });
}
