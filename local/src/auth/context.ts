import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StackContext } from '../context.ts';
import { inTransaction } from '../db/act-as.ts';
import { bearerToken, HttpError, readJson } from '../http.ts';
import { type JwtClaims, verifyJwt } from '../jwt.ts';
import { badRequest, forbidden, unauthorized } from './errors.ts';
import type { Mailer } from './mailer.ts';
import { referrer } from './redirect.ts';
import type { AuthSettings } from './settings.ts';
import { type Db, findUserById, isBanned, type UserRow } from './users.ts';

/**
 * What every endpoint handler of /auth/v1 is given (GoTrue's `*API` receiver): the stack, the
 * settings, the mailer, and the plumbing of a request: its transaction, its JSON body, its
 * redirect target and who is calling (authenticate, requireAdmin).
 * The handlers live one file per endpoint group (signup.ts, token.ts, user.ts, otp.ts, verify.ts,
 * admin.ts, invite.ts, generate-link.ts; GET /settings in settings.ts); index.ts routes to them.
 */
export class AuthContext {
  constructor(
    readonly ctx: StackContext,
    readonly settings: AuthSettings,
    readonly mailer: Mailer,
  ) {}

  /** The `[auth]` section of config.toml. */
  get config() {
    return this.ctx.config.auth;
  }

  /** GoTrue's MAILER_AUTOCONFIRM: users are confirmed on sign-up, no email is sent. */
  get autoconfirm(): boolean {
    return !this.config.enableConfirmations;
  }

  /**
   * One transaction on the stack's admin pool (supabase_admin, where GoTrue has its own
   * supabase_auth_admin). Auth never takes on the caller's role or `request.jwt.claims`: this is
   * not an "act as this JWT" transaction. A `CommitThenThrow` commits, then answers with its error,
   * as GoTrue's storage.Connection.Transaction does: the deferred error leaves `fn` as a success.
   */
  async tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    let deferred: Error | undefined;
    const result = await inTransaction(this.ctx.adminPool, async (client) => {
      try {
        return await fn(client);
      } catch (error) {
        if (!(error instanceof CommitThenThrow)) throw error;
        deferred = error.error;
        return undefined;
      }
    });
    if (deferred) throw deferred;
    return result as T;
  }

  /** The JSON object body; no body is `{}`, anything but an object is GoTrue's `bad_json`. */
  async body(req: IncomingMessage): Promise<Body> {
    let parsed: unknown;
    try {
      parsed = await readJson(req);
    } catch (error) {
      if (error instanceof HttpError && error.status === 400) {
        throw badRequest('bad_json', `Could not parse request body as JSON: ${error.message}`);
      }
      throw error;
    }
    if (parsed === undefined || parsed === null) return {};
    const asObject = obj(parsed);
    if (!asObject) throw badRequest('bad_json', 'Could not parse request body as JSON: expected an object');
    return asObject;
  }

  /** Where links in emails and redirects lead: an allowed `redirect_to`, else the Referer, else site_url. */
  referrer(req: IncomingMessage, url: URL, fromBody?: string): string {
    return referrer(req, url, this.config.siteUrl, this.config.additionalRedirectUrls, fromBody);
  }

  /** requireAuthentication: Bearer user JWT → claims, user and session. */
  async authenticate(req: IncomingMessage, db: Db): Promise<Caller> {
    const claims = this.parseClaims(req);
    if (!claims.sub) throw forbidden('bad_jwt', 'invalid claim: missing sub claim');
    if (!uuidPattern.test(claims.sub)) throw badRequest('bad_jwt', 'invalid claim: sub claim must be a UUID');
    const user = await findUserById(db, claims.sub);
    if (!user) throw forbidden('user_not_found', 'User from sub claim in JWT does not exist');
    let sessionId: string | null = null;
    if (typeof claims.session_id === 'string' && claims.session_id !== '') {
      if (!uuidPattern.test(claims.session_id)) {
        throw forbidden('bad_jwt', 'invalid claim: session_id claim must be a UUID');
      }
      const { rows } = await db.query('select id from auth.sessions where id = $1', [claims.session_id]);
      if (rows.length === 0) {
        throw forbidden('session_not_found', 'Session from session_id claim in JWT does not exist');
      }
      sessionId = claims.session_id;
    }
    if (isBanned(user)) throw forbidden('user_banned', 'User is banned');
    return { claims, user, sessionId };
  }

  /** The verified claims of the Bearer token. */
  parseClaims(req: IncomingMessage): JwtClaims {
    const token = bearerToken(req);
    if (!token) throw unauthorized('no_authorization', 'This endpoint requires a valid Bearer token');
    const result = verifyJwt(token, this.ctx.keys.jwtSecret);
    if (!result.ok) {
      throw forbidden(
        'bad_jwt',
        `invalid JWT: unable to parse or verify signature, ${jwtFailureMessage(result.reason)}`,
      );
    }
    return result.claims;
  }

  /** requireAdmin: a token whose role is service_role or supabase_admin. */
  requireAdmin(req: IncomingMessage): JwtClaims {
    const claims = this.parseClaims(req);
    if (!adminRoles.has(String(claims.role ?? ''))) throw forbidden('not_admin', 'User not allowed');
    return claims;
  }
}

/** An error whose transaction must still commit (GoTrue's storage.NewCommitWithError); see `tx`. */
export class CommitThenThrow extends Error {
  constructor(readonly error: Error) {
    super(error.message);
  }
}

/**
 * An endpoint handler (GoTrue's `apiHandler`), as index.ts routes to it: given the request's URL,
 * or for /admin/users/<id> (`Handler<string>`) the `<id>` of the path.
 */
export type Handler<Param = URL> = (
  auth: AuthContext,
  req: IncomingMessage,
  res: ServerResponse,
  param: Param,
) => Promise<void>;

export type Body = Record<string, unknown>;

/** A body field as GoTrue's Go structs read it: missing or not a string is ''. */
export const str = (value: unknown): string => (typeof value === 'string' ? value : '');
/** A body field that must be a JSON object (metadata), else null. */
export const obj = (value: unknown): Record<string, unknown> | null =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;

export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const adminRoles = new Set(['service_role', 'supabase_admin']);

/** The signed-in caller of an endpoint that requires authentication. */
export interface Caller {
  claims: JwtClaims;
  user: UserRow;
  sessionId: string | null;
}

/** The message golang-jwt gives for each way a token fails, as GoTrue wraps it. */
function jwtFailureMessage(reason: string): string {
  switch (reason) {
    case 'expired':
      return 'token has invalid claims: token is expired';
    case 'bad_signature':
      return 'token signature is invalid: signature is invalid';
    case 'unsupported_alg':
      return 'token is unverifiable: error while executing keyfunc: unrecognized JWT kid <nil> for algorithm';
    default:
      return 'token is malformed: token contains an invalid number of segments';
  }
}
