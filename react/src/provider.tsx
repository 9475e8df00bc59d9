/**
 * `<DispatchProvider>`: one client core per provider (supadispatch's `createDispatchClient`, bound
 * to the app's supabase-js client), handed down through context and started while mounted.
 *
 * Starting is an effect, so on the server nothing starts and nothing touches `window` or
 * `document`. Under StrictMode React mounts, unmounts and mounts again: the effect's cleanup is the
 * `stop` that `start()` returned, so starts and stops pair up and one start is live at a time (the
 * core's start is idempotent, so no topic is ever joined twice).
 */
import { type ReactElement, type ReactNode, useEffect, useMemo } from 'react';
import {
  createDispatchClient,
  type DispatchClient,
  type DispatchSchema,
  type QueryClientLike,
  type RpcClient,
} from 'supadispatch/client';
import { DispatchContext } from './context.ts';

/** The provider makes its client from the app's supabase-js client... */
interface FromSupabase<S extends DispatchSchema, C extends RpcClient> {
  /** The app's supabase-js client; calls act as the user it is signed in as. */
  supabase: C;
  /** The app's TanStack `QueryClient`: counters invalidate its queries; preference hooks use it. */
  queryClient?: QueryClientLike | null;
  /** The generated module's `dispatchSchema` (types names as the config's unions). */
  schema?: S;
  client?: undefined;
  children?: ReactNode;
}

/** ...or takes one the app made itself with `createDispatchClient` (to use it outside React too). */
interface FromClient<S extends DispatchSchema, C extends RpcClient> {
  client: DispatchClient<S, C>;
  supabase?: undefined;
  queryClient?: undefined;
  schema?: undefined;
  children?: ReactNode;
}

/** Props of {@link DispatchProvider}: `supabase` (with `queryClient`, `schema`), or a ready `client`. */
export type DispatchProviderProps<
  S extends DispatchSchema = DispatchSchema,
  C extends RpcClient = RpcClient,
> = FromSupabase<S, C> | FromClient<S, C>;

/**
 * Provides the client core to the hooks below it and follows the signed-in user while mounted.
 * The client is made once per provider, and again only when `supabase`, `queryClient` or `schema`
 * change (then the old one stops and the new one starts).
 *
 * ```tsx
 * <DispatchProvider supabase={supabase} queryClient={queryClient} schema={dispatchSchema}>
 *   <App />
 * </DispatchProvider>
 * ```
 */
export function DispatchProvider<S extends DispatchSchema = DispatchSchema, C extends RpcClient = RpcClient>(
  props: DispatchProviderProps<S, C>,
): ReactElement {
  const { client: given, supabase, queryClient = null, schema, children } = props;
  const client = useMemo(
    () => given ?? createDispatchClient({ supabase: supabase as C, queryClient, schema }),
    [given, supabase, queryClient, schema],
  );
  // start() returns its stop: the effect's cleanup.
  useEffect(() => client.start(), [client]);
  return (
    <DispatchContext.Provider value={client as unknown as DispatchClient<DispatchSchema, RpcClient>}>
      {children}
    </DispatchContext.Provider>
  );
}
