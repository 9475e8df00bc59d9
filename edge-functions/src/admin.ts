/**
 * What dispatch-preview and dispatch-trigger share: the admin check and their database handle.
 *
 * The admin check asks PostgREST, with the caller's own Authorization header, for
 * `public.dispatch_is_admin()` (the core's rule: `dispatch.admins`, `app_metadata.role`, or the
 * config's admin audience). Why PostgREST and not our own JWT check: on hosted Supabase the platform
 * verifies the token there (signature with the project's keys, legacy secret or the new asymmetric
 * signing keys, expiry, role), and the function needs no JWT secret, which hosted does not hand to
 * functions. Verifying it ourselves and then `set local role authenticated` over SUPABASE_DB_URL would
 * need that secret and would drift from the platform's rules.
 */
import { connectWorkerDb, type WorkerDb } from './delivery/db.ts';
import { problem } from './http.ts';
import type { RegistryEvent } from './registry.ts';

/** Is the caller (this Authorization header) an admin? */
export type AdminCheck = (authorization: string) => Promise<boolean>;

/** The default check: `POST <SUPABASE_URL>/rest/v1/rpc/dispatch_is_admin` as the caller. */
export const adminViaPostgrest: AdminCheck = async (authorization) => {
  const url = Deno.env.get('SUPABASE_URL');
  const apikey = Deno.env.get('SUPABASE_ANON_KEY');
  if (!url || !apikey) throw new Error('SUPABASE_URL and SUPABASE_ANON_KEY must be set (hosted sets both)');
  const response = await fetch(`${url.replace(/\/+$/, '')}/rest/v1/rpc/dispatch_is_admin`, {
    method: 'POST',
    headers: { apikey, authorization, 'content-type': 'application/json' },
    body: '{}',
    signal: AbortSignal.timeout(10_000),
  });
  const body = await response.text();
  // anon and bad tokens get 401/403 from PostgREST (no EXECUTE, invalid JWT): not an admin
  return response.status === 200 && body.trim() === 'true';
};

/** The caller's own email address, from its access token (null when it carries none). */
export type CallerEmail = (authorization: string) => string | null;

/**
 * The `email` claim of the bearer token. Read without verifying the signature, so only after
 * `refuseNonAdmin` let the same header through: PostgREST has verified that token (signature,
 * expiry) to answer `dispatch_is_admin()`, so its claims are the platform's.
 */
export const emailFromToken: CallerEmail = (authorization) => {
  const payload = authorization.replace(/^bearer\s+/i, '').split('.')[1];
  if (!payload) return null;
  try {
    const binary = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    const email = (JSON.parse(json) as { email?: unknown }).email;
    return typeof email === 'string' && email !== '' ? email : null;
  } catch {
    return null;
  }
};

/** null when the caller is an admin, else the 401/403 to answer. */
export async function refuseNonAdmin(req: Request, check: AdminCheck): Promise<Response | null> {
  const authorization = req.headers.get('authorization') ?? '';
  if (!/^bearer\s+\S+/i.test(authorization)) {
    return problem(401, 'unauthorized', 'header Authorization: Bearer <access token of an admin> is missing');
  }
  let admin: boolean;
  try {
    admin = await check(authorization);
  } catch (error) {
    return problem(500, 'admin_check_failed', `admin check: ${(error as Error).message}`);
  }
  return admin ? null : problem(403, 'forbidden', 'admins only');
}

let pool: WorkerDb | null = null;

/**
 * The functions' database (SUPABASE_DB_URL, the postgres role), one small pool per instance, opened
 * at the first query (so a missing URL is an error of that query, answered like any other).
 */
export function defaultDb(): WorkerDb {
  return {
    async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
      if (!pool) {
        const url = Deno.env.get('SUPABASE_DB_URL');
        if (!url) throw new Error('SUPABASE_DB_URL is not set (hosted sets it for every function)');
        pool = connectWorkerDb(url, { max: 3, applicationName: 'supadispatch-admin' });
      }
      return pool.query<T>(sql, params);
    },
  };
}

/** A request the function refuses: answered as `{ error: { code, message } }` with `status`. */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The row `recordId` names in the event's table, or the 400/404 that says why there is none. */
export async function recordById(
  db: WorkerDb,
  event: RegistryEvent,
  recordId: unknown,
): Promise<Record<string, unknown>> {
  if (typeof recordId !== 'string' && typeof recordId !== 'number') {
    throw new RequestError(400, 'invalid_request', 'recordId: a string or a number');
  }
  if (!event.table) {
    throw new RequestError(
      400,
      'invalid_request',
      `event ${event.id} has no table: pass the record itself as "record"`,
    );
  }
  const record = await readRecord(db, event.table, String(recordId));
  if (!record) throw new RequestError(404, 'record_not_found', `${event.table}: no row with id ${recordId}`);
  return record;
}

/** Quotes `schema.table` from the registry as an SQL name. */
export function qualifiedTable(name: string): string {
  const [schema, table] = name.includes('.') ? name.split('.', 2) : ['public', name];
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A row of an event's table as JSON, by its `id` column; null when there is none. */
export async function readRecord(
  db: WorkerDb,
  table: string,
  recordId: string,
): Promise<Record<string, unknown> | null> {
  const rows = await db.query<{ record: Record<string, unknown> }>(
    `select to_jsonb(t) as record from ${qualifiedTable(table)} t where t.id::text = $1 limit 1`,
    [recordId],
  );
  return rows[0]?.record ?? null;
}

/** Admin UIs call preview and trigger from the browser. */
export const cors: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'authorization, x-client-info, apikey, content-type',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
};

export function withCors(response: Response): Response {
  for (const [k, v] of Object.entries(cors)) response.headers.set(k, v);
  return response;
}
