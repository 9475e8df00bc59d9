import type { IncomingMessage } from 'node:http';
import type { AuthContext } from './context.ts';
import { AuthError } from './errors.ts';
import { generateOtp, issueEmailChangeTokens, issueOneTimeToken, tokenHash } from './one-time-tokens.ts';
import type { Db, UserRow } from './users.ts';

/**
 * The emails GoTrue sends on a user's behalf (mail.go): each makes a one-time code, mails it
 * with its hash in the link, and issues the hash as the user's token (one-time-tokens.ts),
 * where verify.ts looks it up.
 */

/**
 * The emails of a single code, to the user's address (GoTrue's sendConfirmation, sendInvite,
 * sendPasswordRecovery, sendMagicLink): the token each issues, and the time its
 * `[auth.email] max_frequency` counts from (invites have none). A magic link is a recovery with
 * another template, so the two share the token and its rate limit.
 */
const singleCodeEmails = {
  signup: { token: 'confirmation_token', sentAt: 'confirmation_sent_at' },
  invite: { token: 'confirmation_token', sentAt: null },
  recovery: { token: 'recovery_token', sentAt: 'recovery_sent_at' },
  magiclink: { token: 'recovery_token', sentAt: 'recovery_sent_at' },
} as const;

/** Sends one of the single-code emails; an invite also marks the user invited. */
export async function sendEmail(
  auth: AuthContext,
  db: Db,
  req: IncomingMessage,
  user: UserRow,
  type: keyof typeof singleCodeEmails,
  redirectTo: string,
): Promise<void> {
  const { token, sentAt } = singleCodeEmails[type];
  if (sentAt) checkFrequency(auth, user[sentAt]);
  const email = user.email ?? '';
  const otp = generateOtp(auth.settings.otpLength);
  const hash = tokenHash(email, otp);
  await auth.mailer.send(req, user, { type, otp, tokenHash: hash, redirectTo });
  await issueOneTimeToken(db, user.id, token, email, hash, {
    invited: type === 'invite',
    touchUpdatedAt: true,
  });
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
  await issueEmailChangeTokens(
    db,
    user.id,
    { email: user.email ?? '', newEmail, current: hashCurrent, next: hashNew },
    { touchUpdatedAt: true },
  );
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
