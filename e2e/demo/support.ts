/**
 * What the demo's tests share: the stack from the environment (npm test sets it), supabase-js
 * clients signed in as seeded or fresh users, the mail catcher's and webhook sink's APIs, and a
 * bounded wait. The demo's schema and seed come from supabase/ (pushed by the local stack).
 */
import { randomUUID } from 'node:crypto';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import pg from 'pg';
import WebSocket from 'ws';
import { demoPassword } from '../../scripts/demo-server.ts';

export const env = {
  url: process.env.SUPABASE_URL ?? '',
  anonKey: process.env.SUPABASE_ANON_KEY ?? '',
  serviceRoleKey: process.env.SUPABASE_SERVICE_ROLE_KEY ?? '',
  dbUrl: process.env.SUPABASE_DB_URL ?? '',
  mailUrl: process.env.MAIL_URL ?? '',
  sinkUrl: process.env.WEBHOOK_SINK_URL ?? '',
  webhookSecret: process.env.WEBHOOK_SECRET ?? '',
};

/** Why the demo's tests cannot run here, or false. They need the local stack with the demo pushed. */
export async function demoMissing(): Promise<string | false> {
  const missing = Object.entries(env)
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length)
    return `needs the local stack with the demo project (npm test sets it up); missing: ${missing.join(', ')}`;
  const db = new pg.Client({ connectionString: env.dbUrl });
  await db.connect();
  try {
    const { rows } = await db.query(
      `select to_regclass('public.orders') is not null as schema,
              exists (select from auth.users where email = 'buyer1@demo-market.test') as seed`,
    );
    if (!rows[0].schema || !rows[0].seed)
      return 'the database has no demo schema or seed (supabase/migrations and supabase/seed.sql are pushed by the local stack)';
  } finally {
    await db.end();
  }
  return false;
}

// Node 20 has no global WebSocket: supabase-js's Realtime client is given `ws`.
const clientOptions = {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  realtime: { transport: WebSocket as never, logger: () => {} },
};

export function anonClient(): SupabaseClient {
  return createClient(env.url, env.anonKey, clientOptions);
}

export function serviceClient(): SupabaseClient {
  return createClient(env.url, env.serviceRoleKey, clientOptions);
}

/** A supabase-js client signed in with email and password. */
export async function signIn(email: string, password = demoPassword): Promise<SupabaseClient> {
  const client = anonClient();
  const { error } = await client.auth.signInWithPassword({ email, password });
  if (error) throw new Error(`sign in as ${email}: ${error.message}`);
  return client;
}

export interface FreshUser {
  id: string;
  email: string;
  password: string;
}

/**
 * A new user made with the service role: `role` in app_metadata (only the service role writes it;
 * the profile trigger copies it), `region` in user_metadata.
 */
export async function freshUser(
  label: string,
  role: 'buyer' | 'seller' | 'admin',
  region: 'north' | 'south',
): Promise<FreshUser> {
  const slug = label.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  const email = `${slug}-${randomUUID().slice(0, 8)}@demo-test.test`;
  const password = `pw-${randomUUID()}`;
  const { data, error } = await serviceClient().auth.admin.createUser({
    email,
    password,
    email_confirm: true,
    app_metadata: { role },
    user_metadata: { display_name: label, region },
  });
  if (error || !data.user) throw new Error(`create ${email}: ${error?.message}`);
  return { id: data.user.id, email, password };
}

/** Polls `probe` until it returns something other than undefined/false; fails after `timeoutMs`. */
export async function waitFor<T>(
  label: string,
  probe: () => Promise<T | undefined | false | null>,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false && value !== null) return value as T;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${label}${last ? ` (${last})` : ''}`);
}

export interface CaughtMail {
  id: string;
  to: string[];
  subject: string;
  html: string;
  text: string;
  headers: Record<string, string>;
  receivedAt: string;
}

export async function mailTo(address: string): Promise<CaughtMail[]> {
  const res = await fetch(`${env.mailUrl}/api/messages?to=${encodeURIComponent(address)}`);
  if (!res.ok) throw new Error(`mail catcher: HTTP ${res.status}`);
  return (await res.json()) as CaughtMail[];
}

export interface SinkRequest {
  id: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  json: { type: string; timestamp: string; data: Record<string, unknown> } | null;
  signatureValid: boolean | null;
}

export async function sinkRequests(path = '/orders'): Promise<SinkRequest[]> {
  const res = await fetch(`${env.sinkUrl}/api/requests?path=${encodeURIComponent(path)}`);
  if (!res.ok) throw new Error(`webhook sink: HTTP ${res.status}`);
  return (await res.json()) as SinkRequest[];
}

/** A pool as the `postgres` role, for reading the plugin's tables (what an operator sees). */
export function dbPool(): pg.Pool {
  return new pg.Pool({ connectionString: env.dbUrl, max: 3 });
}

/** The value of one counter for the signed-in user, from `dispatch_initial_state()`. */
export async function counterOf(client: SupabaseClient, name: string): Promise<number> {
  const { data, error } = await client.rpc('dispatch_initial_state');
  if (error) throw new Error(`dispatch_initial_state: ${error.message}`);
  const counters = (data as { counters: Record<string, { value: number }> }).counters;
  return counters[name]?.value ?? 0;
}
