/**
 * `bindDispatch(dispatchSchema)`: the core's keys, RPCs, queries and mutations typed to one app's
 * config. The generated module calls it once (`export const dispatch = bindDispatch(dispatchSchema)`),
 * so `dispatch.rpc.setPreference(supabase, { eventId: 'order.shiped', … })` is a compile error.
 */
import { type DispatchKeys, dispatchKeys } from './keys.ts';
import { type DispatchMutations, dispatchMutations } from './mutations.ts';
import { type DispatchQueries, dispatchQueries } from './queries.ts';
import { type DispatchRpc, dispatchRpc } from './rpc.ts';
import type { DispatchSchema } from './types.ts';

/** The core typed to a schema. Every function takes the Supabase client first. */
export interface DispatchApi<S extends DispatchSchema = DispatchSchema> {
  readonly schema: S;
  readonly keys: DispatchKeys<S>;
  readonly rpc: DispatchRpc<S>;
  readonly queries: DispatchQueries<S>;
  readonly mutations: DispatchMutations<S>;
}

/** The core's API typed to `schema` (the generated module's `dispatchSchema`). */
export function bindDispatch<const S extends DispatchSchema>(schema: S): DispatchApi<S> {
  // One implementation serves every schema: it passes names through as strings, and the server
  // answers with the names of the config it was generated from, so only the types differ.
  return {
    schema,
    keys: dispatchKeys,
    rpc: dispatchRpc,
    queries: dispatchQueries,
    mutations: dispatchMutations,
  } as unknown as DispatchApi<S>;
}
