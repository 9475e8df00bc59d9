/**
 * What the live client needs of supabase-js, written as structural types so the `supadispatch`
 * package does not depend on supabase-js: auth events, the Realtime client behind
 * `supabase.channel()`, and `rpc`. A supabase-js `SupabaseClient` has all of it; an object with
 * only `rpc` (enough for the RPCs, queries and mutations) cannot `start()`.
 */
import type { RpcClient } from '../types.ts';

/** The part of a supabase-js `Session` the live client reads. */
export interface SessionLike {
  access_token: string;
  user: { id: string };
}

/** `supabase.auth`: its state-change events (INITIAL_SESSION, SIGNED_IN, SIGNED_OUT, TOKEN_REFRESHED, …). */
export interface AuthLike {
  onAuthStateChange(callback: (event: string, session: SessionLike | null) => void): {
    data: { subscription: { unsubscribe(): void } };
  };
}

/** A Realtime broadcast as realtime-js hands it to a `broadcast` listener. */
export interface BroadcastMessage {
  event: string;
  payload: unknown;
}

/** realtime-js's subscribe statuses. */
export type ChannelStatus = 'SUBSCRIBED' | 'CHANNEL_ERROR' | 'TIMED_OUT' | 'CLOSED';

/** A realtime-js `RealtimeChannel`, as far as the live client uses it. */
export interface ChannelLike {
  on(
    type: 'broadcast',
    filter: { event: string },
    callback: (message: BroadcastMessage) => void,
  ): ChannelLike;
  subscribe(callback?: (status: ChannelStatus, error?: Error) => void): ChannelLike;
}

/** `supabase.realtime`: where a new access token goes. */
export interface RealtimeLike {
  setAuth(token?: string | null): Promise<void>;
}

/** A supabase-js client with what the live client needs: auth, Realtime channels and `rpc`. */
export interface LiveSupabaseClient extends RpcClient {
  auth: AuthLike;
  realtime: RealtimeLike;
  channel(name: string, options?: { config?: { private?: boolean } }): ChannelLike;
  removeChannel(channel: ChannelLike): Promise<unknown>;
}

/** The client as a {@link LiveSupabaseClient}, or null when it lacks auth or Realtime. */
export function asLiveSupabase(client: RpcClient): LiveSupabaseClient | null {
  const c = client as Partial<LiveSupabaseClient>;
  const ok =
    typeof c.auth?.onAuthStateChange === 'function' &&
    typeof c.realtime?.setAuth === 'function' &&
    typeof c.channel === 'function' &&
    typeof c.removeChannel === 'function';
  return ok ? (client as LiveSupabaseClient) : null;
}
