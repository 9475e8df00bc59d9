import type { IncomingMessage } from 'node:http';
import { sendJson } from '../http.ts';
import { type AuthContext, type Body, type Handler, str } from './context.ts';
import { badRequest, notFound, OAuthError, unprocessable, WeakPasswordError } from './errors.ts';
import { issueSession, refreshSession, type SessionResponse } from './sessions.ts';
import { checkPassword, findUserByEmail, isBanned, isConfirmed } from './users.ts';
import { checkPasswordStrength } from './validate.ts';

/** POST /token (token.go): `grant_type` password or refresh_token; PKCE flows are never stored here. */
export const token: Handler = async (auth, req, res, url) => {
  const grantType = url.searchParams.get('grant_type');
  const body = await auth.body(req);
  switch (grantType) {
    case 'password':
      sendJson(res, 200, await passwordGrant(auth, req, body));
      return;
    case 'refresh_token': {
      const refreshToken = str(body.refresh_token);
      if (!refreshToken) throw new OAuthError('invalid_request', 'refresh_token required');
      sendJson(res, 200, await auth.tx((db) => refreshSession(db, auth.ctx, refreshToken)));
      return;
    }
    case 'pkce':
      throw notFound('flow_state_not_found', 'invalid flow state, no valid flow state found');
    default:
      throw badRequest('invalid_credentials', 'unsupported_grant_type');
  }
};

/** A correct but weak password still signs in; the session then carries `weak_password`. */
async function passwordGrant(auth: AuthContext, req: IncomingMessage, body: Body): Promise<SessionResponse> {
  const email = str(body.email);
  const phone = str(body.phone);
  const password = str(body.password);
  if (email && phone) {
    throw badRequest(
      'validation_failed',
      'Only an email address or phone number should be provided on login.',
    );
  }
  if (phone) throw unprocessable('phone_provider_disabled', 'Phone logins are disabled');
  if (!email) throw badRequest('validation_failed', 'missing email or phone');
  if (!auth.settings.emailEnabled)
    throw unprocessable('email_provider_disabled', 'Email logins are disabled');
  return auth.tx(async (db) => {
    const user = await findUserByEmail(db, email);
    if (!user) throw badRequest('invalid_credentials', 'Invalid login credentials');
    if (isBanned(user)) throw badRequest('user_banned', 'User is banned');
    const ok = await checkPassword(db, user, password);
    let weak: { message: string; reasons: string[] } | undefined;
    if (ok) {
      try {
        checkPasswordStrength(auth, password);
      } catch (error) {
        if (error instanceof WeakPasswordError) weak = { message: error.message, reasons: error.reasons };
      }
    }
    if (!ok) throw badRequest('invalid_credentials', 'Invalid login credentials');
    if (!isConfirmed(user)) throw badRequest('email_not_confirmed', 'Email not confirmed');
    await db.query(
      "update auth.identities set last_sign_in_at = now(), updated_at = now() where user_id = $1 and provider = 'email'",
      [user.id],
    );
    const session = await issueSession(db, auth.ctx, req, user.id, 'password');
    if (weak) session.weak_password = weak;
    return session;
  });
}
