import { randomBytes } from 'node:crypto';
import type { RealtimeChannel } from '@supabase/realtime-js';
import { createClient, type Session, type SupabaseClient } from '@supabase/supabase-js';
import pg from 'pg';
import WebSocket from 'ws';
import type { TestTarget } from './env.ts';

/**
 * Shared pieces of the conformance suite (`local/test/conformance/`): it reaches its target only
 * through what a hosted Supabase project offers (URL, anon key, service-role key, and the
 * non-superuser `postgres` DB URL), so the same files run against the local stack and a real
 * project. Everything a run creates is named after `run` and removed in `after()`.
 */

/** A per-run name: lower-case, starts with a letter, safe as an unquoted identifier. */
export function runId(): string {
  return `conf_${randomBytes(4).toString('hex')}`;
}

export function newClient(target: TestTarget, key: string): SupabaseClient {
  return createClient(target.url, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket as never, logger: () => {} },
  });
}

export interface TestUser {
  id: string;
  email: string;
  password: string;
  /** Signed in with the password; REST and Realtime carry the user's access token. */
  client: SupabaseClient;
  session: Session;
}

/** Users made through the admin API (confirmed, so it works whatever the project's auto-confirm). */
export class Users {
  private readonly made: string[] = [];
  private readonly clients: SupabaseClient[] = [];
  constructor(
    private readonly target: TestTarget,
    private readonly run: string,
  ) {}

  email(label: string): string {
    return `${this.run}-${label}-${randomBytes(3).toString('hex')}@example.com`.replaceAll('_', '-');
  }

  /** Remembers a user made some other way (sign-up) so `cleanup` deletes it. */
  remember(id: string): void {
    this.made.push(id);
  }

  track(client: SupabaseClient): SupabaseClient {
    this.clients.push(client);
    return client;
  }

  async create(label: string): Promise<TestUser> {
    const admin = newClient(this.target, this.target.serviceRoleKey);
    const email = this.email(label);
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const created = await admin.auth.admin.createUser({ email, password, email_confirm: true });
    if (created.error || !created.data.user) throw new Error(`admin.createUser: ${created.error?.message}`);
    this.made.push(created.data.user.id);
    const client = this.track(newClient(this.target, this.target.anonKey));
    const signed = await client.auth.signInWithPassword({ email, password });
    if (signed.error || !signed.data.session) throw new Error(`signInWithPassword: ${signed.error?.message}`);
    // Private channels need the user's token on the socket before the first join (Supabase's docs).
    await client.realtime.setAuth(signed.data.session.access_token);
    return { id: created.data.user.id, email, password, client, session: signed.data.session };
  }

  async cleanup(): Promise<void> {
    // realtime-js's disconnect leaves a 10 s timer behind (the process lingers that long after a
    // disconnect), so only clients that used Realtime disconnect, all at once.
    await Promise.all(
      this.clients
        .filter((c) => c.getChannels().length > 0 || c.realtime.isConnected())
        .map((c) => c.removeAllChannels().catch(() => {})),
    );
    const admin = newClient(this.target, this.target.serviceRoleKey);
    for (const id of this.made) await admin.auth.admin.deleteUser(id).catch(() => {});
  }
}

/** The `postgres` (non-superuser) pool the suite creates and drops its objects with. */
export function dbPool(target: TestTarget): pg.Pool {
  return new pg.Pool({ connectionString: target.dbUrl, max: 3 });
}

/** Runs `sql` in one transaction as `postgres`. */
export async function inTransaction<T>(db: pg.Pool, work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await db.connect();
  try {
    await c.query('begin');
    const result = await work(c);
    await c.query('commit');
    return result;
  } catch (error) {
    await c.query('rollback').catch(() => {});
    throw error;
  } finally {
    c.release();
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Polls `check` every 20 ms until it is true, at most `ms`. */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Polls an async `check` every 100 ms until it is true, at most `ms`. */
export async function waitForAsync(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Subscribes; resolves on SUBSCRIBED, rejects with `STATUS: reason` on the first failure. */
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

/** The claims of a JWT (no verification: the server did that). */
export function jwtClaims(token: string): Record<string, unknown> {
  const [, payload] = token.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
}
