import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parse } from 'smol-toml';
import type { StackContext } from '../context.ts';

/**
 * Auth settings beyond the shared ProjectConfig, read from the same `supabase/config.toml`
 * (`[auth.email]` otp_length / otp_expiry / max_frequency / double_confirm_changes / enabled,
 * `[auth] password_requirements`, `[auth.email.template.<type>]` subject / content_path).
 */
export interface AuthSettings {
  emailEnabled: boolean;
  otpLength: number;
  otpExpirySeconds: number;
  maxFrequencySeconds: number;
  secureEmailChange: boolean;
  requiredCharacters: string[];
  templates: Record<string, { subject?: string; body?: string }>;
}

type Table = Record<string, unknown>;
const table = (value: unknown): Table =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Table) : {};

/** Go's time.ParseDuration for the units config.toml uses (e.g. "1s", "1m30s", "500ms"). */
export function parseGoDuration(value: unknown, fallbackSeconds: number): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string' || value.trim() === '') return fallbackSeconds;
  const units: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  let total = 0;
  let rest = value.trim();
  while (rest.length > 0) {
    const match = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!match) return fallbackSeconds;
    total += Number(match[1]) * units[match[2]];
    rest = rest.slice(match[0].length);
  }
  return total;
}

const lower = 'abcdefghijklmnopqrstuvwxyz';
const upper = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const digits = '0123456789';
const symbols = '!@#$%^&*()_+-=[]{};\'\\:"|<>?,./`~';

/** GoTrue's GOTRUE_PASSWORD_REQUIRED_CHARACTERS for the CLI's `password_requirements` names. */
export function requiredCharacterSets(requirement: unknown): string[] {
  switch (requirement) {
    case 'letters_digits':
      return [lower + upper, digits];
    case 'lower_upper_letters_digits':
      return [lower, upper, digits];
    case 'lower_upper_letters_digits_symbols':
      return [lower, upper, digits, symbols];
    default:
      return [];
  }
}

/** Template names as config.toml spells them, mapped to the email action types GoTrue uses. */
const templateNames: Record<string, string> = {
  invite: 'invite',
  confirmation: 'signup',
  recovery: 'recovery',
  magic_link: 'magiclink',
  email_change: 'email_change',
  reauthentication: 'reauthentication',
};

export function loadAuthSettings(ctx: StackContext): AuthSettings {
  const path = join(ctx.projectRoot, 'supabase', 'config.toml');
  let raw: Table = {};
  if (existsSync(path)) {
    try {
      raw = parse(readFileSync(path, 'utf8')) as Table;
    } catch {
      raw = {};
    }
  }
  const auth = table(raw.auth);
  const email = table(auth.email);
  const templates: AuthSettings['templates'] = {};
  for (const [name, value] of Object.entries(table(email.template))) {
    const type = templateNames[name];
    if (!type) continue;
    const entry = table(value);
    const template: { subject?: string; body?: string } = {};
    if (typeof entry.subject === 'string') template.subject = entry.subject;
    if (typeof entry.content_path === 'string') {
      const file = isAbsolute(entry.content_path)
        ? entry.content_path
        : join(ctx.projectRoot, entry.content_path);
      if (existsSync(file)) template.body = readFileSync(file, 'utf8');
      else ctx.log('auth', `email template ${name}: ${file} not found, using the default`);
    }
    templates[type] = template;
  }
  return {
    emailEnabled: email.enabled !== false,
    otpLength: typeof email.otp_length === 'number' ? email.otp_length : 6,
    otpExpirySeconds: typeof email.otp_expiry === 'number' ? email.otp_expiry : 3600,
    maxFrequencySeconds: parseGoDuration(email.max_frequency, 1),
    secureEmailChange: email.double_confirm_changes !== false,
    requiredCharacters: requiredCharacterSets(auth.password_requirements),
    templates,
  };
}
