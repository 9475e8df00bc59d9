import { sendJson } from '../http.ts';
import { type Handler, obj, str } from './context.ts';
import { badRequest, notFound } from './errors.ts';
import { actionLink } from './mailer.ts';
import { generateOtp, issueEmailChangeTokens, issueOneTimeToken, tokenHash } from './one-time-tokens.ts';
import { isRedirectUrlValid } from './redirect.ts';
import {
  emailAppMetadata,
  findUserByEmail,
  findUserById,
  hashPassword,
  insertEmailUser,
  isConfirmed,
  isDuplicatedEmail,
  mergeMetadata,
  randomPassword,
  userJson,
} from './users.ts';
import { checkPasswordStrength, emailExists, validateEmail } from './validate.ts';

/**
 * POST /admin/generate_link (mail.go adminGenerateLink): the link and code an email of this
 * `type` would carry, stored as if sent, but returned to the admin instead of mailed.
 * A magic link for an unknown address signs it up (with a random password) first.
 */
export const generateLink: Handler = async (auth, req, res, url) => {
  auth.requireAdmin(req);
  const body = await auth.body(req);
  const email = validateEmail(body.email);
  let type = str(body.type);
  let password = str(body.password);
  const data = obj(body.data) ?? {};
  let redirectTo = auth.referrer(req, url);
  const bodyRedirect = str(body.redirect_to);
  if (isRedirectUrlValid(auth.config.siteUrl, auth.config.additionalRedirectUrls, bodyRedirect)) {
    redirectTo = bodyRedirect;
  }
  const existing = await findUserByEmail(auth.ctx.adminPool, email);
  if (!existing) {
    if (type === 'magiclink') {
      type = 'signup';
      password = randomPassword();
    } else if (['recovery', 'email_change_current', 'email_change_new'].includes(type)) {
      throw notFound('user_not_found', 'User with this email not found');
    }
  }
  if (type === 'signup' && !existing) {
    if (!password) throw badRequest('validation_failed', 'Signup requires a valid password');
    checkPasswordStrength(auth, password);
  }
  const otp = generateOtp(auth.settings.otpLength);
  const hash = tokenHash(email, otp);
  const result = await auth.tx(async (db) => {
    let user = existing ? await findUserById(db, existing.id, true) : null;
    const create = (passwordHash: string | null) =>
      insertEmailUser(
        db,
        { email, passwordHash, userMetadata: data, appMetadata: emailAppMetadata() },
        type === 'signup' ? data : {},
      );
    let linkToken = hash;
    let linkType = type;
    switch (type) {
      case 'magiclink':
      case 'recovery':
        await issueOneTimeToken(db, user!.id, 'recovery_token', email, hash);
        break;
      case 'invite':
        if (user && isConfirmed(user)) throw emailExists();
        if (!user) user = await create(null);
        await issueOneTimeToken(db, user.id, 'confirmation_token', email, hash, { invited: true });
        break;
      case 'signup':
        if (user) {
          if (isConfirmed(user)) throw emailExists();
          await db.query('update auth.users set raw_user_meta_data = $2 where id = $1', [
            user.id,
            JSON.stringify(mergeMetadata(user.raw_user_meta_data, data)),
          ]);
        } else {
          user = await create(await hashPassword(db, password));
        }
        await issueOneTimeToken(db, user.id, 'confirmation_token', email, hash);
        break;
      case 'email_change_current':
      case 'email_change_new': {
        if (!auth.settings.secureEmailChange && type === 'email_change_current') {
          throw badRequest(
            'validation_failed',
            'Enable secure email change to generate link for current email',
          );
        }
        const newEmail = validateEmail(body.new_email);
        if (await isDuplicatedEmail(db, newEmail, user!.aud ?? 'authenticated', user!.id))
          throw emailExists();
        const current = type === 'email_change_current' ? hash : (user!.email_change_token_current ?? '');
        const next =
          type === 'email_change_new' ? tokenHash(newEmail, otp) : (user!.email_change_token_new ?? '');
        await issueEmailChangeTokens(db, user!.id, { email, newEmail, current, next });
        linkToken = type === 'email_change_current' ? current : next;
        linkType = 'email_change';
        break;
      }
      default:
        throw badRequest('validation_failed', `Invalid email action link type requested: ${type}`);
    }
    return { user: (await findUserById(db, user!.id))!, linkToken, linkType };
  });
  sendJson(res, 200, {
    ...userJson(result.user),
    action_link: actionLink(auth.ctx, result.linkToken, result.linkType, redirectTo),
    email_otp: otp,
    hashed_token: hash,
    verification_type: type,
    redirect_to: redirectTo,
  });
};
