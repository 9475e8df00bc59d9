import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { StackContext } from '../context.ts';
import { signJwt } from '../jwt.ts';
import { CommitThenThrow } from './context.ts';
import { badRequest } from './errors.ts';
import { type Db, findUserById, isBanned, type UserRow, userJson } from './users.ts';

/** GoTrue's models.AuthenticationMethod names, as they appear in the `amr` claim. */
export type AuthMethod =
  | 'password'
  | 'otp'
  | 'magiclink'
  | 'email/signup'
  | 'invite'
  | 'recovery'
  | 'anonymous';

export interface SessionResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  expires_at: number;
  refresh_token: string;
  user: Record<string, unknown>;
  weak_password?: { message: string; reasons: string[] };
}

/** crypto.SecureAlphanumeric(12): base32 lowercase without padding, as GoTrue's v1 refresh tokens. */
export function secureAlphanumeric(length = 12): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[bytes[i] & 31];
  return out;
}

export function issuer(ctx: StackContext): string {
  return `${ctx.urls.api}/auth/v1`;
}

function userAgentAndIp(req: IncomingMessage): { userAgent: string | null; ip: string | null } {
  const forwarded = req.headers['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  let ip = first || req.socket.remoteAddress || null;
  if (ip?.startsWith('::ffff:')) ip = ip.slice(7);
  return { userAgent: (req.headers['user-agent'] as string | undefined) ?? null, ip };
}

async function accessToken(
  db: Db,
  ctx: StackContext,
  user: UserRow,
  sessionId: string,
): Promise<{ token: string; expiresAt: number; expiresIn: number }> {
  const { rows } = await db.query<{ authentication_method: string; created_at: Date }>(
    'select authentication_method, created_at from auth.mfa_amr_claims where session_id = $1 order by updated_at desc',
    [sessionId],
  );
  const amr = rows.map((row) => ({
    method: row.authentication_method,
    timestamp: Math.floor(row.created_at.getTime() / 1000),
  }));
  const iat = Math.floor(Date.now() / 1000);
  const expiresIn = ctx.config.auth.jwtExpiry;
  const exp = iat + expiresIn;
  const claims = {
    iss: issuer(ctx),
    sub: user.id,
    aud: user.aud ?? 'authenticated',
    exp,
    iat,
    email: user.email ?? '',
    phone: user.phone ?? '',
    app_metadata: user.raw_app_meta_data ?? {},
    user_metadata: user.raw_user_meta_data ?? {},
    role: user.role ?? 'authenticated',
    aal: 'aal1',
    amr,
    session_id: sessionId,
    is_anonymous: user.is_anonymous,
  };
  return { token: signJwt(claims, ctx.keys.jwtSecret), expiresAt: exp, expiresIn };
}

function sessionResponse(
  user: UserRow,
  access: { token: string; expiresAt: number; expiresIn: number },
  refreshToken: string,
): SessionResponse {
  return {
    access_token: access.token,
    token_type: 'bearer',
    expires_in: access.expiresIn,
    expires_at: access.expiresAt,
    refresh_token: refreshToken,
    user: userJson(user),
  };
}

/** IssueRefreshToken: a new session with its first refresh token, and an access token for it. */
export async function issueSession(
  db: Db,
  ctx: StackContext,
  req: IncomingMessage,
  userId: string,
  method: AuthMethod,
): Promise<SessionResponse> {
  const sessionId = randomUUID();
  const { userAgent, ip } = userAgentAndIp(req);
  await db.query(
    `insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)
     values ($1, $2, now(), now(), 'aal1', $3, $4::inet)`,
    [sessionId, userId, userAgent, ip],
  );
  await db.query(
    `insert into auth.mfa_amr_claims (session_id, created_at, updated_at, authentication_method, id)
     values ($1, now(), now(), $2, gen_random_uuid())`,
    [sessionId, method],
  );
  const refreshToken = secureAlphanumeric(12);
  await db.query(
    `insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
     values ('00000000-0000-0000-0000-000000000000', $1, $2, false, now(), now(), null, $3)`,
    [refreshToken, userId, sessionId],
  );
  await db.query('update auth.users set last_sign_in_at = now(), updated_at = now() where id = $1', [userId]);
  const user = await findUserById(db, userId);
  if (!user) throw badRequest('user_not_found', 'User not found');
  return sessionResponse(user, await accessToken(db, ctx, user, sessionId), refreshToken);
}

/** Logout, or LogoutAllExceptMe when `keep` names the caller's session: ends the user's sessions. */
export async function endSessions(db: Db, userId: string, keep: string | null = null): Promise<void> {
  if (keep) await db.query('delete from auth.sessions where user_id = $1 and id <> $2', [userId, keep]);
  else await db.query('delete from auth.sessions where user_id = $1', [userId]);
}

interface RefreshRow {
  id: string;
  token: string;
  user_id: string;
  revoked: boolean;
  updated_at: Date;
  parent: string | null;
  session_id: string | null;
}

/**
 * RefreshTokenGrant (tokens/service.go): rotates the token; a revoked token whose child is the
 * active one gets the active token again; other revoked tokens work for the reuse interval, after
 * which the whole session's family is revoked and 400 refresh_token_already_used answers.
 */
export async function refreshSession(
  db: Db,
  ctx: StackContext,
  refreshToken: string,
): Promise<SessionResponse> {
  const found = await db.query<RefreshRow>(
    'select id::text, token, user_id, revoked, updated_at, parent, session_id from auth.refresh_tokens where token = $1 for update',
    [refreshToken],
  );
  const token = found.rows[0];
  if (!token) throw badRequest('refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found');
  const user = await findUserById(db, token.user_id);
  if (!user) throw badRequest('refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found');
  if (isBanned(user)) throw badRequest('user_banned', 'Invalid Refresh Token: User Banned');
  const session = token.session_id
    ? (
        await db.query<{ id: string; not_after: Date | null }>(
          'select id, not_after from auth.sessions where id = $1 for update',
          [token.session_id],
        )
      ).rows[0]
    : undefined;
  if (!session) {
    await db.query('delete from auth.refresh_tokens where id = $1', [token.id]);
    throw badRequest('session_not_found', 'Invalid Refresh Token: No Valid Session Found');
  }
  if (session.not_after && session.not_after.getTime() < Date.now()) {
    throw badRequest('session_expired', 'Invalid Refresh Token: Session Expired');
  }
  let issued: string | null = null;
  if (token.revoked) {
    const active = await db.query<{ token: string; parent: string | null }>(
      'select token, parent from auth.refresh_tokens where session_id = $1 and revoked = false order by id desc limit 1',
      [session.id],
    );
    if (active.rows[0] && active.rows[0].parent === token.token) {
      issued = active.rows[0].token;
    } else {
      const reuseUntil = token.updated_at.getTime() + ctx.config.auth.refreshTokenReuseInterval * 1000;
      if (Date.now() > reuseUntil) {
        if (ctx.config.auth.enableRefreshTokenRotation) {
          await db.query(
            'update auth.refresh_tokens set revoked = true, updated_at = now() where session_id = $1 and revoked = false',
            [session.id],
          );
        }
        throw new CommitThenThrow(
          badRequest('refresh_token_already_used', 'Invalid Refresh Token: Already Used'),
        );
      }
    }
  }
  if (!issued) {
    await db.query('update auth.refresh_tokens set revoked = true, updated_at = now() where id = $1', [
      token.id,
    ]);
    issued = secureAlphanumeric(12);
    await db.query(
      `insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
       values ('00000000-0000-0000-0000-000000000000', $1, $2, false, now(), now(), $3, $4)`,
      [issued, user.id, token.token, session.id],
    );
  }
  await db.query('update auth.sessions set refreshed_at = now(), updated_at = now() where id = $1', [
    session.id,
  ]);
  return sessionResponse(user, await accessToken(db, ctx, user, session.id), issued);
}
