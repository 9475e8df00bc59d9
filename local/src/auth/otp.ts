import { sendJson } from '../http.ts';
import { type Handler, obj, str } from './context.ts';
import { sendEmail, sendEmailChange } from './emails.ts';
import { badRequest, unprocessable } from './errors.ts';
import { signupEmail } from './signup.ts';
import { findUserByEmail, findUserById, isConfirmed, randomPassword } from './users.ts';
import { validateEmail } from './validate.ts';

/**
 * The emails a client asks for (otp.go, recover.go, resend.go): POST /otp, /recover, /resend.
 * /recover and /resend answer `{}` whether or not the address belongs to a user, so they do not tell.
 *
 * POST /otp: a magic link (and code); an unknown address is signed up first unless `create_user` is false.
 */
export const otp: Handler = async (auth, req, res, url) => {
  const body = await auth.body(req);
  const email = str(body.email);
  const phone = str(body.phone);
  const createUser =
    body.create_user === undefined || body.create_user === null ? true : body.create_user === true;
  const data = obj(body.data) ?? {};
  if (email && phone) {
    throw badRequest('validation_failed', 'Only an email address or phone number should be provided');
  }
  if (email && str(body.channel)) {
    throw badRequest('validation_failed', 'Channel should only be specified with Phone OTP');
  }
  if (!createUser && email) {
    const normalized = validateEmail(email);
    if (!(await findUserByEmail(auth.ctx.adminPool, normalized))) {
      throw unprocessable('otp_disabled', 'Signups not allowed for otp');
    }
  }
  if (phone) throw badRequest('phone_provider_disabled', 'Unsupported phone provider');
  if (!email) throw badRequest('validation_failed', 'One of email or phone must be set');
  if (!auth.settings.emailEnabled)
    throw unprocessable('email_provider_disabled', 'Email logins are disabled');
  const normalized = validateEmail(email);
  const redirectTo = auth.referrer(req, url);
  await auth.tx(async (db) => {
    let user = await findUserByEmail(db, normalized);
    if (!user || !isConfirmed(user)) {
      if (!auth.config.enableSignup)
        throw unprocessable('signup_disabled', 'Signups not allowed for this instance');
      const result = await signupEmail(auth, db, req, {
        email: normalized,
        password: randomPassword(),
        data,
        redirectTo,
      });
      if (!auth.autoconfirm) return;
      // GoTrue's internal sign-up also leaves a session behind, never handed out
      user = (await findUserById(db, result.user.id))!;
    }
    await sendEmail(auth, db, req, user, 'magiclink', redirectTo);
  });
  sendJson(res, 200, {});
};

/** POST /recover: a password recovery link. */
export const recover: Handler = async (auth, req, res, url) => {
  const body = await auth.body(req);
  if (!str(body.email)) throw badRequest('validation_failed', 'Password recovery requires an email');
  const email = validateEmail(body.email);
  const redirectTo = auth.referrer(req, url);
  await auth.tx(async (db) => {
    const user = await findUserByEmail(db, email);
    if (user) await sendEmail(auth, db, req, user, 'recovery', redirectTo);
  });
  sendJson(res, 200, {});
};

/** POST /resend: the confirmation of a sign-up or of an email change, again. */
export const resend: Handler = async (auth, req, res, url) => {
  const body = await auth.body(req);
  const type = str(body.type);
  if (!['signup', 'email_change', 'sms', 'phone_change'].includes(type)) {
    throw badRequest(
      'validation_failed',
      'Missing one of these types: signup, email_change, sms, phone_change',
    );
  }
  if (type === 'sms' || type === 'phone_change') {
    throw badRequest('phone_provider_disabled', 'Unsupported phone provider');
  }
  const email = validateEmail(body.email);
  const redirectTo = auth.referrer(req, url);
  await auth.tx(async (db) => {
    const user = await findUserByEmail(db, email);
    if (!user) return;
    if (type === 'signup' && !isConfirmed(user)) await sendEmail(auth, db, req, user, 'signup', redirectTo);
    if (type === 'email_change' && user.email_change) {
      await sendEmailChange(auth, db, req, user, user.email_change, redirectTo);
    }
  });
  sendJson(res, 200, {});
};
