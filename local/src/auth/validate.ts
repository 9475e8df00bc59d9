import type { AuthContext } from './context.ts';
import { badRequest, unprocessable, WeakPasswordError } from './errors.ts';

/**
 * The checks GoTrue makes on an email address and a new password before it touches the database.
 * validateEmail: a present, well-formed address, lower-cased.
 */
export function validateEmail(email: unknown): string {
  if (typeof email !== 'string' || email === '')
    throw badRequest('validation_failed', 'An email address is required');
  if (email.length > 255) throw badRequest('validation_failed', 'An email address is too long');
  if (!emailPattern.test(email)) {
    throw badRequest('validation_failed', 'Unable to validate email address: invalid format');
  }
  return email.toLowerCase();
}

/** bcrypt's limit, which GoTrue enforces on every password it is given. */
export const maxPasswordLength = 72;

/** checkmail.ValidateFormat's pattern, approximately. */
const emailPattern =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/** checkPasswordStrength: length and required character sets from config.toml; 422 weak_password. */
export function checkPasswordStrength(auth: AuthContext, password: string): void {
  if (password.length > maxPasswordLength) {
    throw badRequest('validation_failed', `Password cannot be longer than ${maxPasswordLength} characters`);
  }
  const messages: string[] = [];
  const reasons: string[] = [];
  const min = auth.config.minimumPasswordLength;
  if (password.length < min) {
    reasons.push('length');
    messages.push(`Password should be at least ${min} characters.`);
  }
  const sets = auth.settings.requiredCharacters;
  if (sets.some((set) => set !== '' && ![...password].some((c) => set.includes(c)))) {
    reasons.push('characters');
    messages.push(`Password should contain at least one character of each: ${sets.join(', ')}.`);
  }
  if (reasons.length > 0) throw new WeakPasswordError(messages.join(' '), reasons);
}

/** 422 email_exists, GoTrue's answer wherever an address already belongs to another user. */
export const emailExists = () =>
  unprocessable('email_exists', 'A user with this email address has already been registered');
