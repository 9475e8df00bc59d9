/**
 * `queryOptions`-shaped factories (`{ queryKey, queryFn }`) for TanStack Query, one per read RPC:
 * `useQuery(dispatch.queries.notifications(supabase, { maxRows: 10 }))`. As TanStack expects, the
 * `queryFn` throws (a `DispatchError`) instead of resolving to `{ data, error }`.
 */
import { type DispatchKeys, dispatchKeys } from './keys.ts';
import { type DispatchRpc, dispatchRpc, unwrap } from './rpc.ts';
import type {
  DispatchNotification,
  DispatchSchema,
  InitialState,
  NotificationsPage,
  Occurrence,
  OccurrenceFilter,
  Preferences,
  QueryKey,
  Receipt,
  ReceiptFilter,
  RpcClient,
} from './types.ts';

/** What TanStack's `queryOptions` takes; `queryFn` rejects with a `DispatchError`. */
export interface DispatchQueryOptions<T, K extends QueryKey | readonly unknown[] = readonly unknown[]> {
  queryKey: K;
  queryFn: () => Promise<T>;
}

/** The query factories typed to a schema; each takes the Supabase client first. */
export interface DispatchQueries<S extends DispatchSchema = DispatchSchema> {
  initialState(
    client: RpcClient,
  ): DispatchQueryOptions<InitialState<S>, ReturnType<DispatchKeys<S>['initialState']>>;
  notifications(
    client: RpcClient,
    page?: NotificationsPage,
  ): DispatchQueryOptions<DispatchNotification<S>[], ReturnType<DispatchKeys<S>['notifications']>>;
  preferences(
    client: RpcClient,
  ): DispatchQueryOptions<Preferences<S>, ReturnType<DispatchKeys<S>['preferences']>>;
  /** Admins only. */
  receipts(
    client: RpcClient,
    filter?: ReceiptFilter<S>,
  ): DispatchQueryOptions<Receipt<S>[], ReturnType<DispatchKeys<S>['receipts']>>;
  /** Admins only. */
  occurrences(
    client: RpcClient,
    filter?: OccurrenceFilter<S>,
  ): DispatchQueryOptions<Occurrence<S>[], ReturnType<DispatchKeys<S>['occurrences']>>;
}

const rpc: DispatchRpc = dispatchRpc;

/** The query factories; `bindDispatch(schema).queries` is the same object, typed to a config. */
export const dispatchQueries: DispatchQueries = {
  initialState: (client) => ({
    queryKey: dispatchKeys.initialState(),
    queryFn: () => unwrap(rpc.initialState(client)),
  }),
  notifications: (client, page = {}) => ({
    queryKey: dispatchKeys.notifications(page),
    queryFn: () => unwrap(rpc.notifications(client, page)),
  }),
  preferences: (client) => ({
    queryKey: dispatchKeys.preferences(),
    queryFn: () => unwrap(rpc.preferences(client)),
  }),
  receipts: (client, filter = {}) => ({
    queryKey: dispatchKeys.receipts(filter),
    queryFn: () => unwrap(rpc.receipts(client, filter)),
  }),
  occurrences: (client, filter = {}) => ({
    queryKey: dispatchKeys.occurrences(filter),
    queryFn: () => unwrap(rpc.occurrences(client, filter)),
  }),
};
