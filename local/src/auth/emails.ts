import { createHash, randomInt } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AuthContext } from './context.ts';
import { AuthError } from './errors.ts';
import { type Db, saveOneTimeToken, type UserRow } from './users.ts';

/**
 * The emails GoTrue sends on a user's behalf (mail.go): each makes a one-time code, mails it
 * with its hash in the link, and stores the hash on the user and in auth.one_time_tokens,
 * where verify.ts looks it up. sendConfirmation: the sign-up confirmation.
 */
export async function sendConfirmation(
  auth: AuthContext,
  db: Db,
  req: IncomingMessage,
  user: UserRow,
  redirectTo: string,
): Promise<void> {
  checkFrequency(auth, user.confirmation_sent_at);
  const otp = generateOtp(auth.settings.otpLength);
  const hash = tokenHash(user.email ?? '', otp);
  await auth.mailer.send(
    req,
    { ...user, confirmation_token: hash },
    { type: 'signup', otp, tokenHash: hash, redirectTo },
  );
  await db.query(
    'update auth.users set confirmation_token = $2, confirmation_sent_at = now(), updated_at = now() where id = $1',
    [user.id, hash],
  );
  await saveOneTimeToken(db, user.id, 'confirmation_token', user.email ?? '', hash);
}

export async function sendInvite(
  auth: AuthContext,
  db: Db,
  req: IncomingMessage,
  user: UserRow,
  redirectTo: string,
): Promise<void> {
  const otp = generateOtp(auth.settings.otpLength);
  const hash = tokenHash(user.email ?? '', otp);
  await auth.mailer.send(req, user, { type: 'invite', otp, tokenHash: hash, redirectTo });
  await db.query(
    `update auth.users set confirmation_token = $2, confirmation_sent_at = now(), invited_at = now(), updated_at = now()
      where id = $1`,
    [user.id, hash],
  );
  await saveOneTimeToken(db, user.id, 'confirmation_token', user.email ?? '', hash);
}

export async function sendRecoveryOrMagicLink(
  auth: AuthContext,
  db: Db,
  req: IncomingMessage,
  user: UserRow,
  type: 'recovery' | 'magiclink',
  redirectTo: string,
): Promise<void> {
  checkFrequency(auth, user.recovery_sent_at);
  const otp = generateOtp(auth.settings.otpLength);
  const hash = tokenHash(user.email ?? '', otp);
  await auth.mailer.send(req, user, { type, otp, tokenHash: hash, redirectTo });
  await db.query(
    'update auth.users set recovery_token = $2, recovery_sent_at = now(), updated_at = now() where id = $1',
    [user.id, hash],
  );
  await saveOneTimeToken(db, user.id, 'recovery_token', user.email ?? '', hash);
}

/** With secure email change on, a code goes to the current address as well as the new one. */
export async function sendEmailChange(
  auth: AuthContext,
  db: Db,
  req: IncomingMessage,
  user: UserRow,
  newEmail: string,
  redirectTo: string,
): Promise<void> {
  checkFrequency(auth, user.email_change_sent_at);
  const otpNew = generateOtp(auth.settings.otpLength);
  const hashNew = tokenHash(newEmail, otpNew);
  let otpCurrent = '';
  let hashCurrent = '';
  if (auth.settings.secureEmailChange && user.email) {
    otpCurrent = generateOtp(auth.settings.otpLength);
    hashCurrent = tokenHash(user.email, otpCurrent);
  }
  await auth.mailer.send(
    req,
    { ...user, email_change: newEmail },
    {
      type: 'email_change',
      otp: otpCurrent,
      otpNew,
      tokenHash: hashNew,
      tokenHashCurrent: hashCurrent,
      redirectTo,
    },
  );
  await db.query(
    `update auth.users set email_change = $2, email_change_token_new = $3, email_change_token_current = $4,
        email_change_sent_at = now(), email_change_confirm_status = 0, updated_at = now()
      where id = $1`,
    [user.id, newEmail, hashNew, hashCurrent],
  );
  if (hashCurrent)
    await saveOneTimeToken(db, user.id, 'email_change_token_current', user.email ?? '', hashCurrent);
  await saveOneTimeToken(db, user.id, 'email_change_token_new', newEmail, hashNew);
}

/** hex(SHA-224(email + otp)), GoTrue's crypto.GenerateTokenHash. */
export function tokenHash(emailOrPhone: string, otp: string): string {
  return createHash('sha224')
    .update(emailOrPhone + otp)
    .digest('hex');
}

export function generateOtp(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += String(randomInt(10));
  return out;
}

/** `[auth.email] max_frequency`: 429 when the last email of this kind went out too recently. */
function checkFrequency(auth: AuthContext, sentAt: Date | null): void {
  if (!sentAt) return;
  const waitMs = sentAt.getTime() + auth.settings.maxFrequencySeconds * 1000 - Date.now();
  if (waitMs > 0) {
    throw new AuthError(
      429,
      'over_email_send_rate_limit',
      `For security purposes, you can only request this after ${Math.ceil(waitMs / 1000)} seconds.`,
    );
  }
}
