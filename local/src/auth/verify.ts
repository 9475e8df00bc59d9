import type { IncomingMessage } from 'node:http';
import { escapeHtml } from '../html.ts';
import { sendJson } from '../http.ts';
import { type AuthContext, type Handler, str } from './context.ts';
import { AuthError, badRequest, forbidden, unprocessable } from './errors.ts';
import { clearOneTimeTokens, tokenHash } from './one-time-tokens.ts';
import { goValuesEncode } from './redirect.ts';
import { type AuthMethod, issueSession, type SessionResponse } from './sessions.ts';
import {
  confirmEmailChange,
  confirmUser,
  type Db,
  findUserByEmail,
  findUserById,
  hashPassword,
  isBanned,
  isConfirmed,
  nilInstanceId,
  randomPassword,
  type UserRow,
  updateProviders,
} from './users.ts';
import { validateEmail } from './validate.ts';

/**
 * GET /verify (the link in an email: redirects with the session in the fragment) and POST
 * /verify (a code or token hash from the client: answers with the session), verify.go.
 * Both find the user by the token's hash, check it has not expired, and then confirm the sign-up,
 * the recovery / magic link or the email change.
 *
 * GET /verify: 303 to the redirect URL, the session (or the error) in its fragment.
 */
export const verifyGet: Handler = async (auth, req, res, url) => {
  const token = url.searchParams.get('token') ?? '';
  const type = url.searchParams.get('type') ?? '';
  const redirectTo = auth.referrer(req, url);
  if (!type) throw badRequest('validation_failed', 'Verify requires a verification type');
  if (!token) throw badRequest('validation_failed', 'Verify requires a token or a token hash');
  let location: string;
  try {
    const session = await auth.tx(async (db) => {
      const found = await verifyTokenHash(auth, db, type, token);
      return runVerification(auth, db, req, found, token, '');
    });
    if (session) {
      const fragment = goValuesEncode({
        access_token: session.access_token,
        token_type: session.token_type,
        expires_in: String(session.expires_in),
        expires_at: String(session.expires_at),
        refresh_token: session.refresh_token,
        sb: '',
        type,
      });
      location = `${redirectTo}#${fragment}`;
    } else {
      location = withFragment(redirectTo, goValuesEncode({ message: emailChangeHalfAccepted, sb: '' }));
    }
  } catch (error) {
    if (!(error instanceof AuthError)) throw error;
    const oauthError: Record<number, string> = {
      400: 'invalid_request',
      401: 'unauthorized_client',
      403: 'access_denied',
      500: 'server_error',
      503: 'temporarily_unavailable',
    };
    const values: Record<string, string> = {
      error_code: error.code,
      error_description: error.message,
      sb: '',
    };
    if (oauthError[error.status]) values.error = oauthError[error.status];
    location = withFragment(redirectTo, goValuesEncode(values));
  }
  res.writeHead(303, { location, 'content-type': 'text/html; charset=utf-8' });
  res.end(`<a href="${escapeHtml(location)}">See Other</a>.\n\n`);
};

/** POST /verify: `token` with `email` (a code), or `token_hash` alone (from a link). */
export const verifyPost: Handler = async (auth, req, res, url) => {
  const body = await auth.body(req);
  const type = str(body.type);
  const token = str(body.token);
  let hash = str(body.token_hash);
  const email = str(body.email);
  const phone = str(body.phone);
  if (!type) throw badRequest('validation_failed', 'Verify requires a verification type');
  if ((token === '' && hash === '') || (token !== '' && hash !== '')) {
    throw badRequest('validation_failed', 'Verify requires either a token or a token hash');
  }
  let normalizedEmail = '';
  if (token) {
    if (phone && !email) throw forbidden('otp_expired', 'Token has expired or is invalid');
    if (!email || phone) {
      throw badRequest(
        'validation_failed',
        'Only an email address or phone number should be provided on verify',
      );
    }
    try {
      normalizedEmail = validateEmail(email);
    } catch {
      throw unprocessable('validation_failed', 'Invalid email format');
    }
    hash = tokenHash(normalizedEmail, token);
  } else if (email || phone || str(body.redirect_to) || url.searchParams.get('redirect_to')) {
    // auth-js puts redirectTo in the query; GoTrue reads it from the form, so both count
    if (email || phone || str(body.redirect_to)) {
      throw badRequest('validation_failed', 'Only the token_hash and type should be provided');
    }
  }
  const result = await auth.tx(async (db) => {
    const found = token
      ? await verifyUserAndToken(auth, db, type, normalizedEmail, hash)
      : await verifyTokenHash(auth, db, type, hash);
    return runVerification(auth, db, req, found, hash, token);
  });
  if (!result) {
    sendJson(res, 200, { msg: emailChangeHalfAccepted, code: '200' });
    return;
  }
  sendJson(res, 200, result);
};

type Found = { user: UserRow; type: string };

const emailChangeHalfAccepted =
  'Confirmation link accepted. Please proceed to confirm link sent to the other email';

/** `[auth.email] otp_expiry` counted from when the token was sent. */
function isExpired(auth: AuthContext, sentAt: Date | null): boolean {
  return !sentAt || Date.now() > sentAt.getTime() + auth.settings.otpExpirySeconds * 1000;
}

/** verifyTokenHash: the user whose token of this type has this hash; `email` resolves to signup or magiclink. */
async function verifyTokenHash(auth: AuthContext, db: Db, type: string, hash: string): Promise<Found> {
  let column: string;
  switch (type) {
    case 'email':
      column = '(confirmation_token = $1 or recovery_token = $1)';
      break;
    case 'signup':
    case 'invite':
      column = 'confirmation_token = $1';
      break;
    case 'recovery':
    case 'magiclink':
      column = 'recovery_token = $1';
      break;
    case 'email_change':
      column = '(email_change_token_current = $1 or email_change_token_new = $1)';
      break;
    default:
      throw badRequest('validation_failed', 'Invalid email verification type');
  }
  const { rows } = await db.query<{ id: string }>(
    `select id from auth.users where ${column} limit 1 for update`,
    [hash],
  );
  const user = rows[0] ? await findUserById(db, rows[0].id) : null;
  if (!user) throw forbidden('otp_expired', 'Email link is invalid or has expired');
  if (isBanned(user)) throw forbidden('user_banned', 'User is banned');
  let sentAt: Date | null;
  let resolved = type;
  switch (type) {
    case 'email':
      sentAt = user.confirmation_sent_at;
      resolved = 'signup';
      if (user.recovery_token === hash) {
        sentAt = user.recovery_sent_at;
        resolved = 'magiclink';
      }
      break;
    case 'signup':
    case 'invite':
      sentAt = user.confirmation_sent_at;
      break;
    case 'recovery':
    case 'magiclink':
      sentAt = user.recovery_sent_at;
      break;
    default:
      sentAt = user.email_change_sent_at;
  }
  if (isExpired(auth, sentAt)) throw forbidden('otp_expired', 'Email link is invalid or has expired');
  return { user, type: resolved };
}

/** verifyUserAndToken: the user of this email whose token of this type is this code's hash. */
async function verifyUserAndToken(
  auth: AuthContext,
  db: Db,
  type: string,
  email: string,
  hash: string,
): Promise<Found> {
  let user: UserRow | null;
  if (type === 'email_change') {
    const { rows } = await db.query<{ id: string }>(
      `select id from auth.users
        where instance_id = $4 and is_sso_user = false and aud = 'authenticated'
          and ((lower(email) = $1 and email_change_token_current = $2)
            or (email_change = $1 and email_change_token_new = $2)
            or ($3 = false and lower(email) = $1 and email_change_token_new = $2))
        limit 1`,
      [email, hash, auth.settings.secureEmailChange, nilInstanceId],
    );
    user = rows[0] ? await findUserById(db, rows[0].id) : null;
  } else {
    user = await findUserByEmail(db, email);
  }
  if (!user) throw forbidden('otp_expired', 'Token has expired or is invalid');
  if (isBanned(user)) throw forbidden('user_banned', 'User is banned');
  const valid = (expected: string | null, sentAt: Date | null) =>
    Boolean(expected) && !isExpired(auth, sentAt) && (hash === expected || `pkce_${hash}` === expected);
  let ok = false;
  let resolved = type;
  switch (type) {
    case 'email':
      if (valid(user.confirmation_token, user.confirmation_sent_at)) {
        ok = true;
        resolved = 'signup';
      } else if (valid(user.recovery_token, user.recovery_sent_at)) {
        ok = true;
        resolved = 'magiclink';
      }
      break;
    case 'signup':
    case 'invite':
      ok = valid(user.confirmation_token, user.confirmation_sent_at);
      break;
    case 'recovery':
    case 'magiclink':
      ok = valid(user.recovery_token, user.recovery_sent_at);
      break;
    case 'email_change':
      ok =
        valid(user.email_change_token_current, user.email_change_sent_at) ||
        valid(user.email_change_token_new, user.email_change_sent_at);
      break;
    case 'sms':
    case 'phone_change':
      ok = false;
      break;
    default:
      throw badRequest('validation_failed', 'Unsupported verification type');
  }
  if (!ok) throw forbidden('otp_expired', 'Token has expired or is invalid');
  return { user, type: resolved };
}

/** An invited user who never set a password gets one nobody knows. */
async function signupVerify(db: Db, user: UserRow): Promise<void> {
  if (!user.encrypted_password && user.invited_at) {
    await db.query('update auth.users set encrypted_password = $2 where id = $1', [
      user.id,
      await hashPassword(db, randomPassword()),
    ]);
  }
  await confirmUser(db, user);
}

async function recoverVerify(db: Db, user: UserRow): Promise<void> {
  await db.query("update auth.users set recovery_token = '', updated_at = now() where id = $1", [user.id]);
  await clearOneTimeTokens(db, user.id);
  if (!isConfirmed(user)) await confirmUser(db, user);
}

/** emailChangeVerify: null when only the first of two confirmations arrived. */
async function emailChangeVerify(
  auth: AuthContext,
  db: Db,
  user: UserRow,
  hash: string,
  token: string,
): Promise<UserRow | null> {
  if (
    !auth.autoconfirm &&
    auth.settings.secureEmailChange &&
    (user.email_change_confirm_status ?? 0) === 0 &&
    user.email
  ) {
    let current = user.email_change_token_current ?? '';
    let next = user.email_change_token_new ?? '';
    if (token === current || hash === current) current = '';
    else if (token === next || hash === next) next = '';
    await db.query(
      `update auth.users set email_change_confirm_status = 1, email_change_token_current = $2,
          email_change_token_new = $3, updated_at = now() where id = $1`,
      [user.id, current, next],
    );
    return null;
  }
  await confirmEmailChange(db, user);
  return user;
}

/** Runs one verification; returns a session, or null for the first half of a double email change. */
async function runVerification(
  auth: AuthContext,
  db: Db,
  req: IncomingMessage,
  found: Found,
  hash: string,
  token: string,
): Promise<SessionResponse | null> {
  const { user, type } = found;
  switch (type) {
    case 'signup':
    case 'invite':
      await signupVerify(db, user);
      break;
    case 'recovery':
    case 'magiclink':
      await recoverVerify(db, user);
      break;
    case 'email_change':
      if (!(await emailChangeVerify(auth, db, user, hash, token))) return null;
      break;
    default:
      throw badRequest('validation_failed', 'Unsupported verification type');
  }
  await updateProviders(db, user.id);
  const method: AuthMethod = 'otp';
  return issueSession(db, auth.ctx, req, user.id, method);
}

/** url.Parse + setting Fragment: replaces any fragment the redirect URL had. */
function withFragment(url: string, fragment: string): string {
  const hash = url.indexOf('#');
  return `${hash >= 0 ? url.slice(0, hash) : url}#${fragment}`;
}
