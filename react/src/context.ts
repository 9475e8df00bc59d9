/**
 * The React context that carries the client core from `<DispatchProvider>` down, and
 * `useDispatchClient()` to read it.
 */
import { createContext, useContext } from 'react';
import type { DispatchClient, DispatchSchema, RpcClient } from 'supadispatch/client';
import type { RegisteredSchema } from './register.ts';

// The context holds a client of any schema; useDispatchClient's caller names the schema it expects.
export const DispatchContext = createContext<DispatchClient<DispatchSchema, RpcClient> | null>(null);
DispatchContext.displayName = 'DispatchContext';

/**
 * The client core of the nearest `<DispatchProvider>`: `rpc` (`{ data, error }` calls), `keys`,
 * `queries` and `mutations` (TanStack options), bound to the provider's supabase client.
 * Typed to the registered schema (see `Register`), or name one: `useDispatchClient<AppDispatchSchema>()`.
 * Throws when there is no provider above.
 */
export function useDispatchClient<
  S extends DispatchSchema = RegisteredSchema,
  C extends RpcClient = RpcClient,
>(): DispatchClient<S, C> {
  const client = useContext(DispatchContext);
  if (!client) throw new Error('useDispatchClient: no <DispatchProvider> above this component');
  return client as unknown as DispatchClient<S, C>;
}
