import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type pg from 'pg';
import type { Logger } from './logger.ts';
import type { StatePaths } from './paths.ts';
import type { StackPorts } from './ports.ts';
import type { ProjectConfig } from './project-config.ts';

/** Secrets generated once per stack (kept in `.supadispatch/secrets.json`) and shown by `local status`. */
export interface StackKeys {
  jwtSecret: string;
  anonKey: string;
  serviceRoleKey: string;
  /** Standard Webhooks secret (`whsec_<base64>`) the webhook sink verifies signatures with. */
  webhookSecret: string;
  /**
   * Shared secret of pg_net → dispatch-worker: Vault `dispatch_worker_secret` and the functions'
   * `DISPATCH_WORKER_SECRET`. Optional only for secrets files written before it existed
   * (loadOrCreateKeys adds it).
   */
  workerSecret?: string;
}

export interface StackUrls {
  /** http://127.0.0.1:54321 — what supabase-js's createClient takes. */
  api: string;
  /** postgresql://postgres:postgres@127.0.0.1:54322/postgres — the non-superuser `postgres` role. */
  db: string;
  /** Superuser `supabase_admin`: for the stack's own internals only, never handed to app code. */
  adminDb: string;
  /**
   * Non-superuser `authenticator` (LOGIN NOINHERIT, member of anon/authenticated/service_role):
   * what PostgREST connects as, and so does the REST stand-in.
   */
  authenticatorDb: string;
  mail: string;
  smtp: { host: string; port: number };
  webhookSink: string;
  functions: string;
}

/** The `authenticator` URL for the database of `adminDbUrl` (the stack's roles share password `postgres`). */
export function authenticatorDbUrl(adminDbUrl: string): string {
  const url = new URL(adminDbUrl);
  url.username = 'authenticator';
  url.password = 'postgres';
  return url.toString();
}

/** Everything a service of the local stack is given when it starts. */
export interface StackContext {
  projectRoot: string;
  paths: StatePaths;
  ports: StackPorts;
  keys: StackKeys;
  urls: StackUrls;
  config: ProjectConfig;
  /** Pool connected as supabase_admin (superuser). Services `set local role` per request. */
  adminPool: pg.Pool;
  log: Logger;
}

/**
 * A part of the stack. HTTP services are mounted by the gateway under `API_URL<prefix>`
 * (the prefix is stripped from `path`, as Kong strips it); services with their own port
 * (mail catcher, webhook sink) open it in `start`.
 */
export interface LocalService {
  readonly name: string;
  start(ctx: StackContext): Promise<void>;
  stop(): Promise<void>;
  http?: {
    prefix: string;
    handle(req: IncomingMessage, res: ServerResponse, path: string): void | Promise<void>;
  };
  upgrade?: {
    prefix: string;
    handle(req: IncomingMessage, socket: Duplex, head: Buffer, path: string): void;
  };
}
