/**
 * The client RPCs (`public.dispatch_*`, sql/core/080_rpc.sql), one function each, called through
 * any {@link RpcClient} (supabase-js). They never throw: like supabase-js they resolve to
 * `{ data, error }`, with a typed {@link DispatchError}. The translation from the SDK's camelCase
 * arguments to the RPCs' named arguments lives here and nowhere else.
 */
import { type DispatchError, toDispatchError } from './errors.ts';
import type {
  DispatchNotification,
  DispatchSchema,
  InitialState,
  NotificationsPage,
  Occurrence,
  OccurrenceFilter,
  PreferenceChange,
  PreferenceSet,
  Preferences,
  Receipt,
  ReceiptFilter,
  RpcClient,
} from './types.ts';

/** The outcome of a call, as supabase-js gives it: data or an error, never both. */
export type DispatchResult<T> = { data: T; error: null } | { data: null; error: DispatchError };

/** Calls `fn` with named arguments; a failure (returned or thrown) becomes a {@link DispatchError}. */
export async function callRpc<T>(
  client: RpcClient,
  fn: string,
  args?: Record<string, unknown>,
): Promise<DispatchResult<T>> {
  try {
    const { data, error, status } = await client.rpc(fn, args);
    if (error) return { data: null, error: toDispatchError(fn, error, status) };
    return { data: data as T, error: null };
  } catch (thrown) {
    return { data: null, error: toDispatchError(fn, thrown) };
  }
}

/** The data of a result, or its error thrown (what TanStack Query's `queryFn`/`mutationFn` expect). */
export async function unwrap<T>(result: PromiseLike<DispatchResult<T>>): Promise<T> {
  const { data, error } = await result;
  if (error) throw error;
  return data as T;
}

// A preference's "every event" / "every transport" is null on the wire; '*' is how rows store it,
// and the RPC rejects it as an event id or a transport.
const every = (v: string | null | undefined): string | null => (v == null || v === '*' ? null : v);

/** The named arguments of each RPC (exported for tests and for callers of their own `rpc`). */
export const rpcArgs = {
  // before_id only when given: a first page (or a `before`-only one) also works against a core
  // installed before the argument existed
  notifications: (page: NotificationsPage = {}) => ({
    before: page.before ?? null,
    max_rows: page.maxRows ?? 20,
    ...(page.beforeId != null ? { before_id: page.beforeId } : {}),
  }),
  markRead: (ids: readonly string[]) => ({ ids: [...ids] }),
  setPreference: (change: PreferenceChange) => ({
    event_id: every(change.eventId),
    transport: every(change.transport),
    enabled: change.enabled,
    category: every(change.category),
  }),
  receipts: (filter: ReceiptFilter = {}) => ({
    event_id: filter.eventId ?? null,
    status: filter.status ?? null,
    recipient: filter.recipient ?? null,
    since: filter.since ?? null,
    until: filter.until ?? null,
    max_rows: filter.maxRows ?? 50,
  }),
  occurrences: (filter: OccurrenceFilter = {}) => ({
    event_id: filter.eventId ?? null,
    status: filter.status ?? null,
    since: filter.since ?? null,
    until: filter.until ?? null,
    max_rows: filter.maxRows ?? 50,
  }),
  replay: (occurrenceId: string) => ({ occurrence_id: occurrenceId }),
};

/** The client RPCs typed to a schema; each takes the Supabase client first. */
export interface DispatchRpc<S extends DispatchSchema = DispatchSchema> {
  /** `dispatch_initial_state()`: counters, latest notifications and topics of the signed-in user. */
  initialState(client: RpcClient): Promise<DispatchResult<InitialState<S>>>;
  /** `dispatch_notifications(before, max_rows, before_id)`: a page of notifications, newest first. */
  notifications(
    client: RpcClient,
    page?: NotificationsPage,
  ): Promise<DispatchResult<DispatchNotification<S>[]>>;
  /** `dispatch_mark_read(ids)`: how many went from unread to read. */
  markRead(client: RpcClient, ids: readonly string[]): Promise<DispatchResult<number>>;
  /** `dispatch_mark_all_read()`: how many went from unread to read. */
  markAllRead(client: RpcClient): Promise<DispatchResult<number>>;
  /** `dispatch_preferences()`: the configurable events and the user's preferences. */
  preferences(client: RpcClient): Promise<DispatchResult<Preferences<S>>>;
  /** `dispatch_set_preference(...)`: turn an event or a category on or off, for one or every transport. */
  setPreference(client: RpcClient, change: PreferenceChange<S>): Promise<DispatchResult<PreferenceSet>>;
  /** Admins: `dispatch_receipts(...)`, newest first. */
  receipts(client: RpcClient, filter?: ReceiptFilter<S>): Promise<DispatchResult<Receipt<S>[]>>;
  /** Admins: `dispatch_occurrences(...)`, newest first. */
  occurrences(client: RpcClient, filter?: OccurrenceFilter<S>): Promise<DispatchResult<Occurrence<S>[]>>;
  /** Admins: `dispatch_replay(occurrence_id)`: fire a failed occurrence again; the receipts it made. */
  replay(client: RpcClient, occurrenceId: string): Promise<DispatchResult<number>>;
}

/** The client RPCs, names as plain strings; `bindDispatch(schema).rpc` is the same, typed to a config. */
export const dispatchRpc: DispatchRpc = {
  initialState: (client) => callRpc(client, 'dispatch_initial_state'),
  notifications: (client, page) => callRpc(client, 'dispatch_notifications', rpcArgs.notifications(page)),
  markRead: (client, ids) => callRpc(client, 'dispatch_mark_read', rpcArgs.markRead(ids)),
  markAllRead: (client) => callRpc(client, 'dispatch_mark_all_read'),
  preferences: (client) => callRpc(client, 'dispatch_preferences'),
  setPreference: (client, change) =>
    callRpc(client, 'dispatch_set_preference', rpcArgs.setPreference(change)),
  receipts: (client, filter) => callRpc(client, 'dispatch_receipts', rpcArgs.receipts(filter)),
  occurrences: (client, filter) => callRpc(client, 'dispatch_occurrences', rpcArgs.occurrences(filter)),
  replay: (client, occurrenceId) => callRpc(client, 'dispatch_replay', rpcArgs.replay(occurrenceId)),
};
