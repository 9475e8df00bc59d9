/**
 * `createDispatchClient({ supabase, queryClient?, schema? })`: the core's RPCs, queries and
 * mutations bound to one Supabase client, the object `@supadispatch/react`'s provider hands down.
 * It holds no state yet; the counter store and realtime follow-up join it later (issue 18).
 */
import { type DispatchKeys, dispatchKeys } from './keys.ts';
import { type DispatchMutations, dispatchMutations } from './mutations.ts';
import { type DispatchQueries, dispatchQueries } from './queries.ts';
import { type DispatchRpc, dispatchRpc } from './rpc.ts';
import type { DispatchSchema, QueryClientLike, RpcClient } from './types.ts';

/** `api`'s functions with their first argument, the Supabase client, already given. */
export type BoundTo<T> = {
  readonly [K in keyof T]: T[K] extends (client: RpcClient, ...args: infer A) => infer R
    ? (...args: A) => R
    : T[K];
};

function bindTo<T extends object>(api: T, client: RpcClient): BoundTo<T> {
  const bound: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(api))
    bound[name] = (...args: unknown[]) => (fn as (c: RpcClient, ...a: unknown[]) => unknown)(client, ...args);
  return bound as BoundTo<T>;
}

/** Options of {@link createDispatchClient}. */
export interface DispatchClientOptions<S extends DispatchSchema, C extends RpcClient> {
  /** The app's supabase-js client (signed in as the user the calls act for). */
  supabase: C;
  /** The app's TanStack `QueryClient`, if it uses TanStack Query. */
  queryClient?: QueryClientLike | null;
  /** The generated module's `dispatchSchema`: types names as the config's unions. */
  schema?: S;
}

/** The core bound to one Supabase client. */
export interface DispatchClient<S extends DispatchSchema = DispatchSchema, C extends RpcClient = RpcClient> {
  readonly supabase: C;
  readonly queryClient: QueryClientLike | null;
  readonly schema: S | null;
  readonly keys: DispatchKeys<S>;
  /** The RPCs, resolving to `{ data, error }`. */
  readonly rpc: BoundTo<DispatchRpc<S>>;
  /** `queryOptions` for TanStack Query. */
  readonly queries: BoundTo<DispatchQueries<S>>;
  /** `mutationOptions` for TanStack Query. */
  readonly mutations: BoundTo<DispatchMutations<S>>;
}

/** The core bound to `supabase`, typed to `schema` when given. */
export function createDispatchClient<
  const S extends DispatchSchema = DispatchSchema,
  C extends RpcClient = RpcClient,
>(options: DispatchClientOptions<S, C>): DispatchClient<S, C> {
  const { supabase } = options;
  // Typed to S as in bindDispatch: one implementation, the schema narrows only the types.
  return {
    supabase,
    queryClient: options.queryClient ?? null,
    schema: options.schema ?? null,
    keys: dispatchKeys,
    rpc: bindTo(dispatchRpc, supabase),
    queries: bindTo(dispatchQueries, supabase),
    mutations: bindTo(dispatchMutations, supabase),
  } as unknown as DispatchClient<S, C>;
}
