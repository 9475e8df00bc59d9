import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { sendJson } from '../http.ts';
import { type AuthContext, type Body, type Handler, obj, str } from './context.ts';
import { sendEmail } from './emails.ts';
import { badRequest, unprocessable } from './errors.ts';
import { issueSession, type SessionResponse } from './sessions.ts';
import {
  confirmUser,
  type Db,
  emailAppMetadata,
  findUserByEmail,
  findUserById,
  hashPassword,
  insertEmailUser,
  insertUser,
  isConfirmed,
  type UserRow,
  userJson,
} from './users.ts';
import { checkPasswordStrength, validateEmail } from './validate.ts';

/** POST /signup (signup.go): email and password, or an anonymous user when neither is given. */
export const signup: Handler = async (auth, req, res, url) => {
  if (!auth.config.enableSignup)
    throw unprocessable('signup_disabled', 'Signups not allowed for this instance');
  const body = await auth.body(req);
  const email = str(body.email);
  const phone = str(body.phone);
  const password = str(body.password);
  const data = obj(body.data) ?? {};
  if (!email && !phone) {
    if (!auth.config.enableAnonymousSignIns) {
      throw unprocessable('anonymous_provider_disabled', 'Anonymous sign-ins are disabled');
    }
    const session = await auth.tx(async (db) => {
      const id = await insertUser(db, {
        email: null,
        passwordHash: null,
        userMetadata: data,
        appMetadata: {},
        isAnonymous: true,
      });
      return issueSession(db, auth.ctx, req, id, 'anonymous');
    });
    sendJson(res, 200, session);
    return;
  }
  if (password === '') throw badRequest('validation_failed', 'Signup requires a valid password');
  checkPasswordStrength(auth, password);
  if (email && phone) {
    throw badRequest(
      'validation_failed',
      'Only an email address or phone number should be provided on signup.',
    );
  }
  if (phone) throw badRequest('phone_provider_disabled', 'Phone signups are disabled');
  if (!auth.settings.emailEnabled) throw badRequest('email_provider_disabled', 'Email signups are disabled');
  const normalized = validateEmail(email);
  const redirectTo = auth.referrer(req, url);
  const result = await auth.tx((db) =>
    signupEmail(auth, db, req, { email: normalized, password, data, redirectTo }),
  );
  if (result.fake) sendJson(res, 200, result.fake);
  else if (result.session) sendJson(res, 200, result.session);
  else sendJson(res, 200, userJson(result.user));
};

/**
 * The email half of Signup, also behind POST /otp for a new address: creates or reuses an
 * unconfirmed user, then confirms it (autoconfirm) or mails a confirmation. An address that is
 * already confirmed gets, with confirmations on, a made-up user, so the answer does not tell.
 */
export async function signupEmail(
  auth: AuthContext,
  db: Db,
  req: IncomingMessage,
  params: { email: string; password: string; data: Body; redirectTo: string },
): Promise<{ user: UserRow; session: SessionResponse | null; fake?: Record<string, unknown> }> {
  let user = await findUserByEmail(db, params.email);
  if (user && isConfirmed(user)) {
    if (auth.autoconfirm) throw unprocessable('user_already_exists', 'User already registered');
    const now = new Date().toISOString();
    return {
      user,
      session: null,
      fake: {
        ...userJson(user),
        id: randomUUID(),
        role: '',
        created_at: now,
        updated_at: now,
        confirmation_sent_at: now,
        email_confirmed_at: undefined,
        confirmed_at: undefined,
        last_sign_in_at: undefined,
        identities: [],
        user_metadata: params.data,
        app_metadata: emailAppMetadata(),
      },
    };
  }
  if (!user) {
    const passwordHash = await hashPassword(db, params.password);
    user = await insertEmailUser(
      db,
      { email: params.email, passwordHash, userMetadata: params.data, appMetadata: emailAppMetadata() },
      params.data,
    );
  }
  if (auth.autoconfirm) {
    await confirmUser(db, user);
    return { user, session: await issueSession(db, auth.ctx, req, user.id, 'password') };
  }
  await sendEmail(auth, db, req, user, 'signup', params.redirectTo);
  return { user: (await findUserById(db, user.id))!, session: null };
}
