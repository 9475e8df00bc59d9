import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { StackContext } from '../context.ts';
import type { ProjectConfig } from '../project-config.ts';

/**
 * Auth settings in the shape GoTrue uses them, made from the `[auth]` section that
 * project-config.ts parsed out of `supabase/config.toml` (`[auth.email]` otp_length / otp_expiry /
 * max_frequency / double_confirm_changes / enabled, `[auth] password_requirements`,
 * `[auth.email.template.<type>]` subject / content_path), and GET /settings, which shows them.
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

/** Reads the template bodies `content_path` names (relative to the project root); a missing one is logged. */
export function loadAuthSettings(ctx: StackContext): AuthSettings {
  const { auth } = ctx.config;
  const templates: AuthSettings['templates'] = {};
  for (const [name, entry] of Object.entries(auth.email.templates)) {
    const type = templateNames[name];
    if (!type) continue;
    const template: { subject?: string; body?: string } = {};
    if (entry.subject !== undefined) template.subject = entry.subject;
    if (entry.contentPath !== undefined) {
      const file = isAbsolute(entry.contentPath)
        ? entry.contentPath
        : join(ctx.projectRoot, entry.contentPath);
      if (existsSync(file)) template.body = readFileSync(file, 'utf8');
      else ctx.log('auth', `email template ${name}: ${file} not found, using the default`);
    }
    templates[type] = template;
  }
  return {
    emailEnabled: auth.email.enabled,
    otpLength: auth.email.otpLength,
    otpExpirySeconds: auth.email.otpExpirySeconds,
    maxFrequencySeconds: auth.email.maxFrequencySeconds,
    secureEmailChange: auth.email.doubleConfirmChanges,
    requiredCharacters: requiredCharacterSets(auth.passwordRequirements),
    templates,
  };
}

/** OAuth providers GET /settings lists under `external`; the local stack supports none of them. */
const externalProviders = [
  'apple',
  'azure',
  'bitbucket',
  'discord',
  'facebook',
  'snapchat',
  'figma',
  'fly',
  'github',
  'gitlab',
  'google',
  'keycloak',
  'kakao',
  'linkedin',
  'linkedin_oidc',
  'notion',
  'spotify',
  'slack',
  'slack_oidc',
  'workos',
  'twitch',
  'twitter',
  'zoom',
];

/** GET /settings (settings.go): which sign-in methods this instance offers. */
export function settingsJson(config: ProjectConfig['auth'], settings: AuthSettings): Record<string, unknown> {
  const external: Record<string, boolean> = { anonymous_users: config.enableAnonymousSignIns };
  for (const name of externalProviders) external[name] = false;
  external.email = settings.emailEnabled;
  external.phone = false;
  return {
    external,
    disable_signup: !config.enableSignup,
    mailer_autoconfirm: !config.enableConfirmations,
    phone_autoconfirm: false,
    sms_provider: '',
    saml_enabled: false,
    saml_private_key_next_configured: false,
    passkeys_enabled: false,
  };
}
