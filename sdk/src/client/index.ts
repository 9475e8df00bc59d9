/**
 * supadispatch's client core (`supadispatch/client`), with no framework in it: typed RPC calls that
 * resolve to `{ data, error }`, TanStack Query keys, `queryOptions` and `mutationOptions` factories,
 * and `bindDispatch`, which types them all to an app's generated `dispatchSchema`.
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
export { type DispatchMutationOptions, type DispatchMutations, dispatchMutations } from './mutations.ts';
export { type DispatchQueries, type DispatchQueryOptions, dispatchQueries } from './queries.ts';
export { callRpc, type DispatchResult, type DispatchRpc, dispatchRpc, rpcArgs, unwrap } from './rpc.ts';
export type * from './state.ts';
export type * from './types.ts';
