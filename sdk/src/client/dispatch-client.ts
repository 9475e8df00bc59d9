/**
 * `createDispatchClient({ supabase, queryClient?, schema? })`: the core's RPCs, queries and
 * mutations bound to one Supabase client, and its live half ({@link DispatchLive}: the counter store
 * fed by Realtime, `start()`/`stop()`, mark-read, paging, preferences). It is the object
 * `@supadispatch/react`'s provider hands down.
 */
import { type DispatchKeys, dispatchKeys } from './keys.ts';
import { createLive } from './live/live-client.ts';
import { type DispatchMutations, dispatchMutations } from './mutations.ts';
import { type DispatchQueries, dispatchQueries } from './queries.ts';
import { type DispatchRpc, dispatchRpc } from './rpc.ts';
import type { DispatchLive } from './state.ts';
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
  /**
   * The app's supabase-js client (signed in as the user the calls act for). `start()` follows its
   * auth state and joins the dispatch topics on its Realtime socket; an object with only `rpc`
   * serves the RPCs, queries and mutations but cannot start.
   */
  supabase: C;
  /** The app's TanStack `QueryClient`, if it uses TanStack Query: counters invalidate the keys they name. */
  queryClient?: QueryClientLike | null;
  /** The generated module's `dispatchSchema`: types names as the config's unions. */
  schema?: S;
}

/**
 * The core bound to one Supabase client: its calls, and the live store and methods
 * ({@link DispatchLive}). Make one per app (per provider) and `start()` it where it runs in a browser
 * or a long-lived process; nothing happens until then.
 */
export interface DispatchClient<S extends DispatchSchema = DispatchSchema, C extends RpcClient = RpcClient>
  extends DispatchLive<S> {
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

/**
 * The core bound to `supabase`, typed to `schema` when given.
 *
 * ```ts
 * const dispatch = createDispatchClient({ supabase, queryClient, schema: dispatchSchema });
 * const stop = dispatch.start();
 * dispatch.store.subscribe((s) => console.log(s.counters.unread_notifications?.value));
 * ```
 */
export function createDispatchClient<
  const S extends DispatchSchema = DispatchSchema,
  C extends RpcClient = RpcClient,
>(options: DispatchClientOptions<S, C>): DispatchClient<S, C> {
  const { supabase } = options;
  const queryClient = options.queryClient ?? null;
  // Typed to S as in bindDispatch: one implementation, the schema narrows only the types.
  return {
    ...createLive(supabase, queryClient),
    supabase,
    queryClient,
    schema: options.schema ?? null,
    keys: dispatchKeys,
    rpc: bindTo(dispatchRpc, supabase),
    queries: bindTo(dispatchQueries, supabase),
    mutations: bindTo(dispatchMutations, supabase),
  } as unknown as DispatchClient<S, C>;
}
