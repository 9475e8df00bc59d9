/**
 * `mutationOptions`-shaped factories (`{ mutationKey, mutationFn }`) for TanStack Query, one per
 * write RPC: `useMutation(dispatch.mutations.markRead(supabase))`. The `mutationFn` throws a
 * `DispatchError`, as TanStack expects. Reads and unread counts refresh through the
 * `unread_notifications` counter; preferences broadcast nothing, so invalidate
 * `keys.preferences()` after `setPreference` where a preferences query is shown.
 */
import { type DispatchRpc, dispatchRpc, unwrap } from './rpc.ts';
import type { DispatchSchema, PreferenceChange, PreferenceSet, RpcClient } from './types.ts';

/** What TanStack's `mutationOptions` takes; `mutationFn` rejects with a `DispatchError`. */
export interface DispatchMutationOptions<T, V> {
  mutationKey: readonly ['dispatch', string];
  mutationFn: (variables: V) => Promise<T>;
}

/** The mutation factories typed to a schema; each takes the Supabase client. */
export interface DispatchMutations<S extends DispatchSchema = DispatchSchema> {
  /** Mark notifications read by id; resolves to how many changed. */
  markRead(client: RpcClient): DispatchMutationOptions<number, readonly string[]>;
  /** Mark every notification of the user read; resolves to how many changed. */
  markAllRead(client: RpcClient): DispatchMutationOptions<number, void>;
  /** Turn an event or a category on or off. */
  setPreference(client: RpcClient): DispatchMutationOptions<PreferenceSet, PreferenceChange<S>>;
  /** Admins: fire a failed occurrence again; resolves to the receipts it made. */
  replay(client: RpcClient): DispatchMutationOptions<number, string>;
}

const rpc: DispatchRpc = dispatchRpc;

/** The mutation factories; `bindDispatch(schema).mutations` is the same object, typed to a config. */
export const dispatchMutations: DispatchMutations = {
  markRead: (client) => ({
    mutationKey: ['dispatch', 'mark_read'],
    mutationFn: (ids) => unwrap(rpc.markRead(client, ids)),
  }),
  markAllRead: (client) => ({
    mutationKey: ['dispatch', 'mark_all_read'],
    mutationFn: () => unwrap(rpc.markAllRead(client)),
  }),
  setPreference: (client) => ({
    mutationKey: ['dispatch', 'set_preference'],
    mutationFn: (change) => unwrap(rpc.setPreference(client, change)),
  }),
  replay: (client) => ({
    mutationKey: ['dispatch', 'replay'],
    mutationFn: (occurrenceId) => unwrap(rpc.replay(client, occurrenceId)),
  }),
};
