import { sendJson } from '../http.ts';
import { adminRoles, type Handler, obj, str } from './context.ts';
import { sendEmailChange } from './emails.ts';
import { badRequest, forbidden, unprocessable } from './errors.ts';
import { clearOneTimeTokens } from './one-time-tokens.ts';
import { endSessions } from './sessions.ts';
import {
  checkPassword,
  confirmEmailChange,
  findUserById,
  hashPassword,
  isDuplicatedEmail,
  mergeMetadata,
  userJson,
} from './users.ts';
import { checkPasswordStrength, emailExists, validateEmail } from './validate.ts';

/** The signed-in user (user.go, logout.go): GET /user answers with the caller's row; PUT /user, POST /logout below. */
export const getUser: Handler = async (auth, req, res) => {
  const { user } = await auth.authenticate(req, auth.ctx.adminPool);
  sendJson(res, 200, userJson(user));
};

/**
 * PUT /user: password, metadata and email. A new password ends the user's other sessions; a
 * new email is mailed for confirmation, except an anonymous user's under autoconfirm, which
 * takes it at once.
 */
export const updateUser: Handler = async (auth, req, res, url) => {
  const body = await auth.body(req);
  const redirectTo = auth.referrer(req, url);
  const result = await auth.tx(async (db) => {
    const { user, claims, sessionId } = await auth.authenticate(req, db);
    let email = str(body.email);
    if (email) email = validateEmail(email);
    const password = typeof body.password === 'string' ? body.password : null;
    if (password !== null && password !== '') checkPasswordStrength(auth, password);
    if (
      body.app_metadata !== undefined &&
      body.app_metadata !== null &&
      !adminRoles.has(String(claims.role))
    ) {
      throw forbidden('not_admin', 'Updating app_metadata requires admin privileges');
    }
    if (user.is_anonymous && password && !email && !str(body.phone)) {
      throw unprocessable(
        'validation_failed',
        'Updating password of an anonymous user without an email or phone is not allowed',
      );
    }
    if (
      email &&
      email !== (user.email ?? '') &&
      (await isDuplicatedEmail(db, email, user.aud ?? 'authenticated', user.id))
    ) {
      throw emailExists();
    }
    if (str(body.phone) && str(body.phone) !== (user.phone ?? '')) {
      throw badRequest('phone_provider_disabled', 'Unsupported phone provider');
    }
    if (password !== null) {
      if (password !== '' && (await checkPassword(db, user, password))) {
        throw unprocessable('same_password', 'New password should be different from the old password.');
      }
      const hash = password === '' ? '' : await hashPassword(db, password);
      await db.query(
        `update auth.users set encrypted_password = $2, confirmation_token = '', confirmation_sent_at = null,
            recovery_token = '', recovery_sent_at = null, email_change_token_current = '', email_change_token_new = '',
            email_change_sent_at = null, phone_change_token = '', phone_change_sent_at = null,
            reauthentication_token = '', reauthentication_sent_at = null, updated_at = now()
          where id = $1`,
        [user.id, hash],
      );
      await clearOneTimeTokens(db, user.id);
      await endSessions(db, user.id, sessionId);
    }
    const data = obj(body.data);
    if (data) {
      await db.query('update auth.users set raw_user_meta_data = $2, updated_at = now() where id = $1', [
        user.id,
        JSON.stringify(mergeMetadata(user.raw_user_meta_data, data)),
      ]);
    }
    const appData = obj(body.app_metadata);
    if (appData) {
      await db.query('update auth.users set raw_app_meta_data = $2, updated_at = now() where id = $1', [
        user.id,
        JSON.stringify(mergeMetadata(user.raw_app_meta_data, appData)),
      ]);
    }
    if (email && email !== (user.email ?? '')) {
      const current = (await findUserById(db, user.id))!;
      if (current.is_anonymous && auth.autoconfirm) {
        await confirmEmailChange(db, { ...current, email_change: email });
      } else {
        await sendEmailChange(auth, db, req, current, email, redirectTo);
      }
    }
    return (await findUserById(db, user.id))!;
  });
  sendJson(res, 200, userJson(result));
};

/** POST /logout?scope=global|local|others (global by default). */
export const logout: Handler = async (auth, req, res, url) => {
  const scope = url.searchParams.get('scope') ?? '';
  if (!['', 'global', 'local', 'others'].includes(scope)) {
    throw badRequest('validation_failed', `Unsupported logout scope "${scope}"`);
  }
  await auth.tx(async (db) => {
    const { user, sessionId } = await auth.authenticate(req, db);
    if (sessionId && scope === 'local') {
      await db.query('delete from auth.sessions where id = $1', [sessionId]);
    } else if (sessionId && scope === 'others') {
      await endSessions(db, user.id, sessionId);
    } else {
      await endSessions(db, user.id);
      await db.query('delete from auth.refresh_tokens where user_id = $1', [user.id]);
    }
  });
  res.writeHead(204);
  res.end();
};
