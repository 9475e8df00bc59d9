import type { RealtimeChannel } from '@supabase/realtime-js';
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

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Subscribes; resolves on SUBSCRIBED, rejects with the server's reason on the first error. */
export function subscribe(channel: RealtimeChannel, ms = 10_000): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve, reject) => {
      channel.subscribe((status, error) => {
        if (status === 'SUBSCRIBED') resolve();
        else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT' || status === 'CLOSED') {
          reject(new Error(`${status}: ${error?.message ?? ''}`));
        }
      });
    }),
    ms,
    `subscription to ${channel.topic}`,
  );
}

/** Polls `check` every 10 ms until it returns true, at most `ms`. */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
