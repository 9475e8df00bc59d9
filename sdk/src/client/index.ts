/**
 * supadispatch's client core (`supadispatch/client`), with no framework in it: typed RPC calls that
 * resolve to `{ data, error }`, TanStack Query keys, `queryOptions` and `mutationOptions` factories,
 * `bindDispatch`, which types them all to an app's generated `dispatchSchema`, and
 * `createDispatchClient`, whose live half keeps a vanilla zustand store of counters and
 * notifications fed by Realtime.
 */
export { bindDispatch, type DispatchApi } from './bind.ts';
export {
  type BoundTo,
  createDispatchClient,
  type DispatchClient,
  type DispatchClientOptions,
} from './dispatch-client.ts';
export {
  DispatchError,
  type DispatchErrorCode,
  type DispatchErrorDetails,
  toDispatchError,
} from './errors.ts';
export { type DispatchKeys, decodeQueryKey, dispatchKeys } from './keys.ts';
export { INVALIDATION_WINDOW_MS } from './live/invalidation.ts';
export { BATCH_EVENT, type BatchedMessage, broadcastMessages } from './live/messages.ts';
export type { LiveSupabaseClient } from './live/supabase.ts';
export { type DispatchMutationOptions, type DispatchMutations, dispatchMutations } from './mutations.ts';
export { type DispatchQueries, type DispatchQueryOptions, dispatchQueries } from './queries.ts';
export { callRpc, type DispatchResult, type DispatchRpc, dispatchRpc, rpcArgs, unwrap } from './rpc.ts';
export type * from './state.ts';
export type * from './types.ts';
