/**
 * The one place `@supadispatch/react` reaches the live half of the client core (`store`, `start`,
 * `markRead`, ...: `DispatchLive` in `supadispatch/client`). Every hook reads the client through
 * {@link useLiveClient}, so nothing else depends on how the core spells its type.
 */
import type { DispatchClient, DispatchLive, DispatchSchema, RpcClient } from 'supadispatch/client';
import { useDispatchClient } from './context.ts';
import type { RegisteredSchema } from './register.ts';

/** A client core with its live store: RPCs, keys and queries, plus `store` and the live methods. */
export type LiveDispatchClient<
  S extends DispatchSchema = DispatchSchema,
  C extends RpcClient = RpcClient,
> = DispatchClient<S, C> & DispatchLive<S>;

/**
 * `client` as a live client. Throws when the installed `supadispatch` has no live store (a
 * `supadispatch` older than these bindings), rather than failing later on an undefined `store`.
 */
export function liveClient<S extends DispatchSchema, C extends RpcClient>(
  client: DispatchClient<S, C>,
): LiveDispatchClient<S, C> {
  if (!('store' in client))
    throw new Error(
      '@supadispatch/react: this supadispatch client has no live store; install a supadispatch version with the live client core',
    );
  return client as LiveDispatchClient<S, C>;
}

/** The live client of the nearest `<DispatchProvider>`; throws when there is none. */
export function useLiveClient<
  S extends DispatchSchema = RegisteredSchema,
  C extends RpcClient = RpcClient,
>(): LiveDispatchClient<S, C> {
  return liveClient(useDispatchClient<S, C>());
}
