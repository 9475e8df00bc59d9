import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

/** Helpers for driving the official client against the Realtime stand-in, every wait bounded. */

export type Vsn = '1.0.0' | '2.0.0';

/**
 * A supabase-js client; with a user token it is set on Realtime before returning, as Supabase's
 * docs ask for private channels (`await supabase.realtime.setAuth()`), so the first join carries it.
 */
export async function client(
  url: string,
  apiKey: string,
  options: { token?: string; vsn?: Vsn } = {},
): Promise<SupabaseClient> {
  const { token, vsn } = options;
  const c = createClient(url, apiKey, {
    ...(token ? { accessToken: async () => token } : {}),
    auth: token ? undefined : { persistSession: false, autoRefreshToken: false },
    realtime: {
      transport: WebSocket as never,
      ...(vsn ? { vsn } : {}),
      // Keep the test's sockets quiet: the client logs to console otherwise.
      logger: () => {},
    },
  });
  if (token) await c.realtime.setAuth();
  return c;
}

// The bounded waits are the conformance suite's: one implementation for every realtime test.
export { sleep, subscribe, waitFor, withTimeout } from '../support/conformance.ts';
