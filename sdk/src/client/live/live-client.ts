/**
 * The live half of a dispatch client ({@link DispatchLive}): the store, following the signed-in user
 * (one {@link UserSession} per user), and the methods that change notifications and preferences —
 * optimistically where the store shows the change, rolled back with an `error` when the RPC fails.
 */
import { DispatchError } from '../errors.ts';
import { dispatchKeys } from '../keys.ts';
import { type DispatchResult, dispatchRpc } from '../rpc.ts';
import type { DispatchLive } from '../state.ts';
import type { DispatchSchema, QueryClientLike, RpcClient } from '../types.ts';
import { followAuth, type SignedIn } from './auth-follow.ts';
import { adjustCounter, type Counters } from './counters.ts';
import { followEnvironment, isOffline } from './environment.ts';
import { createInvalidator } from './invalidation.ts';
import {
  markReadIn,
  markUnreadIn,
  mergeNotifications,
  nextPageCursor,
  UNREAD_NOTIFICATIONS as UNREAD,
  unreadAmong,
} from './notifications.ts';
import { PAGE_SIZE, UserSession } from './session.ts';
import { createDispatchStore, emptyState } from './store.ts';
import { asLiveSupabase } from './supabase.ts';

const notSignedIn = (fn: string) => new DispatchError('not_signed_in', 'dispatch: not signed in', { fn });

/** The live methods and store for `supabase`; `queryClient` gets the invalidations counters ask for. */
export function createLive<S extends DispatchSchema>(
  supabase: RpcClient,
  queryClient: QueryClientLike | null,
): DispatchLive<S> {
  const store = createDispatchStore<DispatchSchema>();
  const invalidator = createInvalidator(queryClient);
  const live = asLiveSupabase(supabase);
  let session: UserSession | null = null;
  let stopFollowing: (() => void) | null = null;
  let loading: Promise<DispatchResult<number>> | null = null;

  const setError = (error: DispatchError | null) => store.setState({ error });

  const endSession = () => {
    const had = session !== null;
    session?.end();
    session = null;
    loading = null;
    // the previous user's dispatch queries must not show to the next one
    if (had) invalidator.invalidate([dispatchKeys.all]);
  };

  const onAuth = (signedIn: SignedIn | null) => {
    if (signedIn && session?.userId === signedIn.userId) {
      session.setToken(signedIn.accessToken);
      return;
    }
    endSession();
    store.setState(emptyState('idle'), true);
    if (!signedIn || !live) return;
    session = new UserSession(signedIn.userId, signedIn.accessToken, {
      supabase: live,
      store,
      invalidator,
      offline: isOffline,
    });
    session.begin();
  };

  const stop = () => {
    stopFollowing?.();
    stopFollowing = null;
    endSession();
    invalidator.cancel();
    store.setState(emptyState('idle'), true);
  };

  const start = () => {
    if (stopFollowing) return stop;
    if (!live) {
      setError(
        new DispatchError('unknown', 'supadispatch: start() needs a supabase-js client (auth and realtime)', {
          fn: 'start',
        }),
      );
      return stop;
    }
    const stopAuth = followAuth(live.auth, onAuth);
    const stopEnvironment = followEnvironment({
      offline: () => session?.wentOffline(),
      online: () => session?.resumed(),
      visible: () => session?.resumed(),
    });
    stopFollowing = () => {
      stopAuth();
      stopEnvironment();
    };
    return stop;
  };

  /**
   * Marks `ids` (null: all) read in the store at once and lowers the unread count; the RPC's failure
   * puts back what this call changed (the unread count only if no newer value arrived since).
   */
  const markReadOptimistically = async (
    ids: readonly string[] | null,
    call: () => Promise<DispatchResult<number>>,
  ): Promise<DispatchResult<number>> => {
    const before = store.getState();
    const userId = before.userId;
    const flipped = unreadAmong(before.notifications, ids);
    const held = (before.counters as Counters)[UNREAD];
    const lowered = held ? (ids === null ? -held.value : -flipped.length) : 0;
    const counters = adjustCounter(before.counters as Counters, UNREAD, lowered);
    const applied = held ? (counters[UNREAD]?.value ?? held.value) - held.value : 0;
    store.setState({ notifications: markReadIn(before.notifications, flipped), counters });
    const result = await call();
    const now = store.getState();
    if (now.userId !== userId) return result;
    if (result.error) {
      const current = (now.counters as Counters)[UNREAD];
      store.setState({
        notifications: markUnreadIn(now.notifications, flipped),
        counters:
          held && current && current.seq === held.seq
            ? adjustCounter(now.counters as Counters, UNREAD, -applied)
            : now.counters,
        error: result.error,
      });
    } else if (now.error) setError(null);
    return result;
  };

  const methods: Omit<DispatchLive<DispatchSchema>, 'store'> = {
    start,
    stop,
    markRead(ids) {
      if (ids.length === 0) return Promise.resolve({ data: 0, error: null });
      return markReadOptimistically(ids, () => dispatchRpc.markRead(supabase, ids));
    },
    markAllRead() {
      return markReadOptimistically(null, () => dispatchRpc.markAllRead(supabase));
    },
    loadMore() {
      const { userId, notifications } = store.getState();
      if (!userId) return Promise.resolve({ data: null, error: notSignedIn('dispatch_notifications') });
      if (loading) return loading;
      // after the last one held, by (createdAt, id): notifications sharing its createdAt come too
      const cursor = nextPageCursor(notifications);
      const request = (async (): Promise<DispatchResult<number>> => {
        const { data, error } = await dispatchRpc.notifications(supabase, { ...cursor, maxRows: PAGE_SIZE });
        if (store.getState().userId !== userId) return { data: 0, error: null };
        if (error) {
          setError(error);
          return { data: null, error };
        }
        const held = store.getState().notifications;
        // a refetch meanwhile left a list this page does not continue (a gap under it): drop the page
        if (cursor && held.at(-1)?.id !== cursor.beforeId) return { data: 0, error: null };
        const merged = mergeNotifications(held, data);
        store.setState({ notifications: merged, hasMore: data.length >= PAGE_SIZE, error: null });
        return { data: merged.length - held.length, error: null };
      })().finally(() => {
        if (loading === request) loading = null;
      });
      loading = request;
      return request;
    },
    refresh() {
      if (!session) return Promise.resolve({ data: null, error: notSignedIn('dispatch_initial_state') });
      return session.refetch();
    },
    async setPreference(change) {
      const result = await dispatchRpc.setPreference(supabase, change);
      if (result.error) setError(result.error);
      else {
        if (store.getState().error) setError(null);
        // preferences broadcast nothing: the query showing them is refreshed from here
        invalidator.invalidate([dispatchKeys.preferences()]);
      }
      return result;
    },
  };

  return { store, ...methods } as unknown as DispatchLive<S>;
}
