/**
 * `<DispatchProvider>` and `useDispatchClient()`: one client core per provider (supadispatch's
 * `createDispatchClient`, bound to the app's supabase-js client), handed down through context.
 * Nothing here touches `window` or `document`, so it renders on the server as in the browser.
 */
import { createContext, type ReactElement, type ReactNode, useContext, useMemo } from 'react';
import {
  createDispatchClient,
  type DispatchClient,
  type DispatchSchema,
  type QueryClientLike,
  type RpcClient,
} from 'supadispatch/client';

// The context holds a client of any schema; useDispatchClient's caller names the schema it expects.
const DispatchContext = createContext<DispatchClient<DispatchSchema, RpcClient> | null>(null);
DispatchContext.displayName = 'DispatchContext';

/** Props of {@link DispatchProvider}. */
export interface DispatchProviderProps<
  S extends DispatchSchema = DispatchSchema,
  C extends RpcClient = RpcClient,
> {
  /** The app's supabase-js client; calls act as the user it is signed in as. */
  supabase: C;
  /** The app's TanStack `QueryClient`, if it uses TanStack Query. */
  queryClient?: QueryClientLike | null;
  /** The generated module's `dispatchSchema` (types names as the config's unions). */
  schema?: S;
  children?: ReactNode;
}

/**
 * Provides the client core to `useDispatchClient()` below it. The client is made once per
 * provider and again only when `supabase`, `queryClient` or `schema` change.
 *
 * ```tsx
 * <DispatchProvider supabase={supabase} queryClient={queryClient} schema={dispatchSchema}>
 *   <App />
 * </DispatchProvider>
 * ```
 */
export function DispatchProvider<S extends DispatchSchema = DispatchSchema, C extends RpcClient = RpcClient>({
  supabase,
  queryClient = null,
  schema,
  children,
}: DispatchProviderProps<S, C>): ReactElement {
  const client = useMemo(
    () => createDispatchClient({ supabase, queryClient, schema }),
    [supabase, queryClient, schema],
  );
  return (
    <DispatchContext.Provider value={client as unknown as DispatchClient<DispatchSchema, RpcClient>}>
      {children}
    </DispatchContext.Provider>
  );
}

/**
 * The client core of the nearest {@link DispatchProvider}: `rpc` (`{ data, error }` calls), `keys`,
 * `queries` and `mutations` (TanStack options), bound to the provider's supabase client.
 * Name the schema to get the config's unions: `useDispatchClient<AppDispatchSchema>()`.
 * Throws when there is no provider above.
 */
export function useDispatchClient<
  S extends DispatchSchema = DispatchSchema,
  C extends RpcClient = RpcClient,
>(): DispatchClient<S, C> {
  const client = useContext(DispatchContext);
  if (!client) throw new Error('useDispatchClient: no <DispatchProvider> above this component');
  return client as unknown as DispatchClient<S, C>;
}
