import { createHash, randomInt } from 'node:crypto';
import type { Db } from './db.ts';

/**
 * The one-time tokens behind the emails (crypto.GenerateOtp / GenerateTokenHash and
 * models/one_time_token.go): a code is mailed or handed to an admin, and its hash is kept twice,
 * in the user's token column (with when it was sent) and in auth.one_time_tokens. verify.ts finds
 * the user by that hash; confirming, recovering or a new password clear them all.
 */

export type OneTimeTokenType =
  | 'confirmation_token'
  | 'recovery_token'
  | 'email_change_token_new'
  | 'email_change_token_current'
  | 'reauthentication_token';

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

/** CreateOneTimeToken: one token per (user, type), replacing the previous one. */
export async function saveOneTimeToken(
  db: Db,
  userId: string,
  type: OneTimeTokenType,
  relatesTo: string,
  tokenHash: string,
): Promise<void> {
  await db.query('delete from auth.one_time_tokens where user_id = $1 and token_type = $2', [userId, type]);
  await db.query(
    `insert into auth.one_time_tokens (id, user_id, token_type, token_hash, relates_to, created_at, updated_at)
     values (gen_random_uuid(), $1, $2, $3, $4, now(), now())`,
    [userId, type, tokenHash, relatesTo],
  );
}

/** ClearAllOneTimeTokensForUser. */
export async function clearOneTimeTokens(db: Db, userId: string): Promise<void> {
  await db.query('delete from auth.one_time_tokens where user_id = $1', [userId]);
}

/** The column of auth.users that says when each single token was sent. */
const sentAtColumn = {
  confirmation_token: 'confirmation_sent_at',
  recovery_token: 'recovery_sent_at',
} as const;

export interface IssueOptions {
  /** `updated_at` too: the emails an endpoint sends set it, /admin/generate_link does not. */
  touchUpdatedAt?: boolean;
}

/**
 * A new confirmation (sign-up, invite) or recovery (recovery, magic link) token of the user:
 * its hash and the time it was sent on auth.users (an invite also sets `invited_at`), and its
 * auth.one_time_tokens row for `relatesTo`, the address it was sent to.
 */
export async function issueOneTimeToken(
  db: Db,
  userId: string,
  type: keyof typeof sentAtColumn,
  relatesTo: string,
  hash: string,
  options: IssueOptions & { invited?: boolean } = {},
): Promise<void> {
  const set = [`${type} = $2`, `${sentAtColumn[type]} = now()`];
  if (options.invited) set.push('invited_at = now()');
  if (options.touchUpdatedAt) set.push('updated_at = now()');
  await db.query(`update auth.users set ${set.join(', ')} where id = $1`, [userId, hash]);
  await saveOneTimeToken(db, userId, type, relatesTo, hash);
}

/** A pending change of `email` to `newEmail`, with the hash of the code for each address ('' for none). */
export interface EmailChange {
  email: string;
  newEmail: string;
  current: string;
  next: string;
}

/** The pending email change and its tokens, as issueOneTimeToken does for a single token. */
export async function issueEmailChangeTokens(
  db: Db,
  userId: string,
  change: EmailChange,
  options: IssueOptions = {},
): Promise<void> {
  await db.query(
    `update auth.users set email_change = $2, email_change_token_current = $3, email_change_token_new = $4,
        email_change_sent_at = now(), email_change_confirm_status = 0${options.touchUpdatedAt ? ', updated_at = now()' : ''}
      where id = $1`,
    [userId, change.newEmail, change.current, change.next],
  );
  if (change.current) {
    await saveOneTimeToken(db, userId, 'email_change_token_current', change.email, change.current);
  }
  if (change.next) await saveOneTimeToken(db, userId, 'email_change_token_new', change.newEmail, change.next);
}
