import type pg from 'pg';
import { inTransaction, type JwtSession, switchTo } from '../db/act-as.ts';
import { type JwtClaims, verifyJwt } from '../jwt.ts';

/**
 * Token checks and private-channel authorization as Supabase Realtime does them
 * (shared/facts/realtime.md §3, §5, §8).
 */

export type TokenCheck = { ok: true; claims: JwtClaims; token: string } | { ok: false; reason: string };

/** The join error reasons Realtime gives for a bad token (`<Code>: <message>`). */
export function checkToken(token: string, secret: string): TokenCheck {
  const result = verifyJwt(token, secret);
  if (result.ok) {
    const { claims } = result;
    if (typeof claims.role !== 'string' || typeof claims.exp !== 'number') {
      return { ok: false, reason: 'InvalidJWTToken: Fields `role` and `exp` are required in JWT' };
    }
    return { ok: true, claims, token };
  }
  switch (result.reason) {
    case 'expired': {
      const ago = Math.floor(Date.now() / 1000) - Number(decodeExp(token) ?? 0);
      return { ok: false, reason: `InvalidJWTToken: Token has expired ${ago} seconds ago` };
    }
    case 'malformed':
      return { ok: false, reason: 'MalformedJWT: The token provided is not a valid JWT' };
    case 'unsupported_alg':
      return { ok: false, reason: `InvalidJWTToken: ${result.message}` };
    default:
      return { ok: false, reason: 'JwtSignatureError: Failed to validate JWT signature' };
  }
}

function decodeExp(token: string): number | null {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
    return typeof claims.exp === 'number' ? claims.exp : null;
  } catch {
    return null;
  }
}

/** The text after `Code: ` in a reason, as system messages carry it. */
export const reasonMessage = (reason: string): string => reason.replace(/^[A-Za-z]+: /, '');

export interface ReadAccess {
  broadcast: boolean;
  presence: boolean;
}

export class AuthorizationError extends Error {}

/**
 * Whether the token's role is one the API may act as: a role `authenticator` is a member of
 * (anon, authenticated, service_role, or one granted to it). The probes run on the superuser pool,
 * where `set_config('role', …)` would accept any role (postgres, supabase_admin); a token naming
 * such a role is treated as having no access, so the join fails with Realtime's Unauthorized reason.
 */
async function roleUsable(client: pg.PoolClient, role: unknown): Promise<boolean> {
  if (typeof role !== 'string' || role === '') return false;
  const result = await client.query<{ ok: boolean }>(
    `select exists (select from pg_roles r where r.rolname = $1
       and pg_has_role('authenticator', r.oid, 'member')) as ok`,
    [role],
  );
  return result.rows[0]?.ok === true;
}

/**
 * The session Realtime evaluates policies in: the token's role and claims, `realtime.topic`,
 * `request.jwt.claim.sub/role` and empty `request.headers`.
 */
function userSession(topic: string, claims: JwtClaims): JwtSession {
  const role = String(claims.role);
  return {
    role,
    claims,
    claim: { sub: typeof claims.sub === 'string' ? claims.sub : '', role },
    settings: { 'realtime.topic': topic, 'request.headers': '{}' },
  };
}

/**
 * Read check at join (§8): as admin insert probe rows for `broadcast` (and `presence` when
 * enabled), switch to the user, SELECT them back, roll everything back. A visible probe grants
 * read for its extension.
 */
export function checkReadAccess(
  pool: pg.Pool,
  topic: string,
  claims: JwtClaims,
  presenceEnabled: boolean,
): Promise<ReadAccess> {
  return inTransaction(
    pool,
    async (client) => {
      try {
        if (!(await roleUsable(client, claims.role))) return { broadcast: false, presence: false };
        const extensions = presenceEnabled ? ['broadcast', 'presence'] : ['broadcast'];
        const probes = await client.query<{ id: string; extension: string }>(
          `insert into realtime.messages (topic, extension, private)
           select $1, e, true from unnest($2::text[]) as e returning id, extension`,
          [topic, extensions],
        );
        await switchTo(client, userSession(topic, claims));
        const visible = await client.query<{ extension: string }>(
          'select extension from realtime.messages where id = any($1::uuid[])',
          [probes.rows.map((r) => r.id)],
        );
        const seen = new Set(visible.rows.map((r) => r.extension));
        return { broadcast: seen.has('broadcast'), presence: seen.has('presence') };
      } catch (error) {
        throw new AuthorizationError((error as Error).message);
      }
    },
    { end: 'rollback' },
  );
}

/**
 * Write check (§8): an INSERT as the user inside a savepoint; `insufficient_privilege` (42501,
 * which is also what an RLS WITH CHECK violation raises) means denied. Always rolled back.
 */
export function checkWriteAccess(
  pool: pg.Pool,
  topic: string,
  claims: JwtClaims,
  extension: 'broadcast' | 'presence',
): Promise<boolean> {
  return inTransaction(
    pool,
    async (client) => {
      if (!(await roleUsable(client, claims.role))) return false;
      await switchTo(client, userSession(topic, claims));
      await client.query('savepoint probe');
      try {
        await client.query(
          `insert into realtime.messages (topic, extension, private) values ($1, $2, true)`,
          [topic, extension],
        );
        return true;
      } catch (error) {
        if ((error as { code?: string }).code === '42501') return false;
        throw new AuthorizationError((error as Error).message);
      }
    },
    { end: 'rollback' },
  );
}
