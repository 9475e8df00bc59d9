/**
 * `auth.password_reset` (event module, AshDispatch "level 3"): the demo's own password reset email.
 * Supabase Auth calls the Send Email hook (dispatch-auth-email) with the real token; the hook seals
 * it into the occurrence and the worker opens it here, on the send path only. The preview path uses
 * `sampleData()` and never sees a token.
 */
import { HOOK_SECRET_ENV, openAuthSecrets } from '../supadispatch/modules/auth.ts';
import type { EventModule, ModuleContext } from '../supadispatch/modules/types.ts';

export const id = 'auth.password_reset';

export const subject = 'Reset your Demo Market password';
export const from = 'Demo Market <accounts@demo-market.test>';

/** Recipients come from the hook (one receipt per address), never from an expansion. */
export const recipients: EventModule['recipients'] = () => [];

export const prepareTemplateAssigns: EventModule['prepareTemplateAssigns'] = (ctx: ModuleContext) => {
  const user = (ctx.record.user ?? {}) as Record<string, unknown>;
  const metadata = (user.user_metadata ?? {}) as Record<string, unknown>;
  const email = String(user.email ?? '');
  return { name: String(metadata.display_name ?? email.split('@')[0] ?? ''), email };
};

export const templates = {
  html:
    '<h2>Reset your password</h2>' +
    '<p>Hi {{name}}, someone (hopefully you) asked to reset the password of {{email}} on Demo Market.</p>' +
    '<p><a href="{{confirmationUrl}}" style="display:inline-block;padding:10px 18px;background:#4f46e5;color:#fff;text-decoration:none;border-radius:6px">Choose a new password</a></p>' +
    '<p>Or open this link: {{confirmationUrl}}</p>' +
    '<p>If you did not ask for this, ignore this email: your password stays as it is.</p>',
  text:
    'Hi {{name}},\n\nreset the password of {{email}} on Demo Market here:\n{{confirmationUrl}}\n\n' +
    'If you did not ask for this, ignore this email.\n',
};

/** The preview: a stand-in user and link, clearly not a token. */
export const sampleData: EventModule['sampleData'] = () => ({
  record: {
    user: {
      id: '00000000-0000-4000-8000-000000000001',
      email: 'ada@example.test',
      user_metadata: { display_name: 'Ada' },
    },
    email_data: { email_action_type: 'recovery', redirect_to: 'http://127.0.0.1:5173/reset' },
  },
  variables: {
    token: '000000',
    tokenHash: 'sample-token-hash',
    confirmationUrl: 'http://127.0.0.1:54321/auth/v1/verify?token=sample-token-hash&type=recovery',
  },
});

/** The send path: the real link and code, opened from the occurrence; throws (fails the receipt) when they cannot be. */
export const generateSendVariables: EventModule['generateSendVariables'] = (ctx, vars) => ({
  ...vars,
  ...openAuthSecrets(ctx.record, Deno.env.get(HOOK_SECRET_ENV)),
});

/** Stored `[redacted]` on the receipt; sent as they are. */
export const secret = ['token', 'tokenHash', 'confirmationUrl'];
