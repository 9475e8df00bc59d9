/**
 * Supabase Auth emails as events (dispatch-auth-email): each `email_action_type` of the Auth "Send
 * Email" hook maps to an `auth.*` event. A config event with that id restyles it (its content, or its
 * module); otherwise the built-in event below sends a plain default. The hook's tokens travel sealed
 * in the occurrence (modules/seal.ts) and are opened only on the send path, where they are secret
 * variables: sent in the email, stored `[redacted]` on the receipt.
 */
import type { RegistryEvent } from '../registry.ts';
import { unseal } from './seal.ts';
import type { EventModule, ModuleContext } from './types.ts';

/** GoTrue's `email_action_type` → the event id. `email` is the email OTP sign-in (a magic link). */
export const AUTH_EVENTS: Readonly<Record<string, string>> = {
  signup: 'auth.signup',
  recovery: 'auth.password_reset',
  magiclink: 'auth.magic_link',
  email: 'auth.magic_link',
  invite: 'auth.invite',
  email_change: 'auth.email_change',
  reauthentication: 'auth.reauthentication',
};

/** Env var holding the hook secret (`v1,whsec_...`), also the key of the sealed tokens. */
export const HOOK_SECRET_ENV = 'SEND_EMAIL_HOOK_SECRET';

/** The variables the hook's sealed part opens into; all of them secret. */
export interface AuthSecrets {
  token: string;
  tokenHash: string;
  confirmationUrl: string;
}
export const AUTH_SECRET_NAMES = ['token', 'tokenHash', 'confirmationUrl'] as const;

export function isAuthEvent(eventId: string): boolean {
  return Object.values(AUTH_EVENTS).includes(eventId);
}

const button = (label: string) =>
  `<p><a href="{{confirmationUrl}}" style="display:inline-block;padding:10px 18px;background:#1f6feb;color:#fff;text-decoration:none;border-radius:4px">${label}</a></p>\n<p>Or open this link: {{confirmationUrl}}</p>`;

const DEFAULT_CONTENT: Record<string, { subject: string; html: string; text: string }> = {
  'auth.signup': {
    subject: 'Confirm your signup',
    html: `<h2>Confirm your signup</h2>\n<p>Follow this link to confirm {{user.email}}:</p>\n${button('Confirm your email')}`,
    text: 'Confirm your signup\n\nFollow this link to confirm {{user.email}}:\n{{confirmationUrl}}\n',
  },
  'auth.password_reset': {
    subject: 'Reset your password',
    html: `<h2>Reset your password</h2>\n<p>Follow this link to reset the password of {{user.email}}:</p>\n${button('Reset password')}\n<p>If you did not ask for this, ignore this email.</p>`,
    text: 'Reset your password\n\nFollow this link to reset the password of {{user.email}}:\n{{confirmationUrl}}\n\nIf you did not ask for this, ignore this email.\n',
  },
  'auth.magic_link': {
    subject: 'Your sign-in link',
    html: `<h2>Sign in</h2>\n${button('Sign in')}\n<p>Or enter the code: {{token}}</p>`,
    text: 'Sign in\n\nFollow this link to sign in:\n{{confirmationUrl}}\n\nOr enter the code: {{token}}\n',
  },
  'auth.invite': {
    subject: 'You have been invited',
    html: `<h2>You have been invited</h2>\n<p>Follow this link to accept the invite for {{user.email}}:</p>\n${button('Accept the invite')}`,
    text: 'You have been invited\n\nFollow this link to accept the invite for {{user.email}}:\n{{confirmationUrl}}\n',
  },
  'auth.email_change': {
    subject: 'Confirm your email change',
    html: `<h2>Confirm your email change</h2>\n<p>Follow this link to confirm the change from {{user.email}} to {{user.new_email}}:</p>\n${button('Confirm the change')}`,
    text: 'Confirm your email change\n\nFollow this link to confirm the change from {{user.email}} to {{user.new_email}}:\n{{confirmationUrl}}\n',
  },
  'auth.reauthentication': {
    subject: 'Confirm it is you',
    html: '<h2>Confirm it is you</h2>\n<p>Enter this code: <strong>{{token}}</strong></p>',
    text: 'Confirm it is you\n\nEnter this code: {{token}}\n',
  },
};

/** The opened tokens of an auth occurrence (send path); throws when they cannot be opened. */
export function openAuthSecrets(record: Record<string, unknown>, secret: string | undefined): AuthSecrets {
  if (typeof record.sealed !== 'string') throw new Error('the auth occurrence carries no sealed token');
  if (!secret) throw new Error(`${HOOK_SECRET_ENV} is not set: the sealed token cannot be opened`);
  const opened = unseal(record.sealed, secret) as Partial<AuthSecrets>;
  return {
    token: String(opened.token ?? ''),
    tokenHash: String(opened.tokenHash ?? ''),
    confirmationUrl: String(opened.confirmationUrl ?? ''),
  };
}

/** The built-in module of every auth event: recipients come from the hook, never from an expansion. */
export const authModule: EventModule = {
  recipients: () => [],
  sampleData: () => ({
    record: {
      user: {
        id: '00000000-0000-4000-8000-000000000001',
        email: 'ada@example.test',
        new_email: 'ada.new@example.test',
      },
      email_data: { email_action_type: 'signup', redirect_to: 'https://example.test/welcome' },
    },
    variables: {
      token: '123456',
      tokenHash: 'sample-token-hash',
      confirmationUrl: 'https://example.test/auth/v1/verify?token=sample-token-hash&type=signup',
    },
  }),
  generateSendVariables: (ctx: ModuleContext, vars: Record<string, unknown>) => ({
    ...vars,
    ...openAuthSecrets(ctx.record, Deno.env.get(HOOK_SECRET_ENV)),
  }),
  secret: AUTH_SECRET_NAMES,
};

/** The built-in event for an auth event id (no config event restyles it). */
export function builtinAuthEvent(eventId: string): RegistryEvent {
  return {
    id: eventId,
    table: null,
    operations: [],
    channels: [{ name: 'email:user', transport: 'email', audience: 'user', delaySeconds: 0 }],
    content: { ...DEFAULT_CONTENT[eventId] },
    metadata: { type: 'info', userConfigurable: false, builtin: 'auth' },
    strict: false,
    module: authModule,
  };
}

/**
 * The config's event restyling an auth event: its content over the defaults (its html/text replace
 * both default bodies), the built-in module unless it has its own.
 */
export function restyledAuthEvent(configEvent: RegistryEvent): RegistryEvent {
  const defaults = { ...DEFAULT_CONTENT[configEvent.id] } as Record<string, unknown>;
  const own = configEvent.content ?? {};
  if (own.html !== undefined || own.text !== undefined) {
    delete defaults.html;
    delete defaults.text;
  }
  const channels =
    configEvent.channels.length > 0 ? configEvent.channels : builtinAuthEvent(configEvent.id).channels;
  return {
    ...configEvent,
    channels,
    content: { ...defaults, ...own },
    module: configEvent.module ?? authModule,
  };
}
