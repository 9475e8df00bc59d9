import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import nodemailer, { type Transporter } from 'nodemailer';
import type { StackContext } from '../context.ts';
import { AuthError, internal } from './errors.ts';
import { type HookOptions, invokeHttpHook } from './hook.ts';
import type { AuthSettings } from './settings.ts';
import { type UserRow, userJson } from './users.ts';

/** Email action types, as GoTrue names them in links and in the Send Email Hook payload. */
export type EmailActionType =
  | 'signup'
  | 'invite'
  | 'magiclink'
  | 'recovery'
  | 'email_change'
  | 'reauthentication';

export interface EmailParams {
  type: EmailActionType;
  /** The OTP (for email_change with secure change on: the OTP of the current address). */
  otp: string;
  /** email_change only: the OTP sent to the new address. */
  otpNew?: string;
  /** The token hash the link carries (for email_change: the new address's). */
  tokenHash: string;
  /** email_change only: the current address's token hash. */
  tokenHashCurrent?: string;
  redirectTo: string;
}

const defaultSubjects: Record<EmailActionType, string> = {
  invite: "You've been invited",
  signup: 'Confirm your email address',
  recovery: 'Reset your password',
  magiclink: 'Your sign-in link',
  email_change: 'Confirm your new email address',
  reauthentication: '{{ .Token }} is your verification code',
};

// GoTrue's default bodies (internal/mailer/templatemailer), plus the one-time code, which the
// hosted defaults leave out, so that OTP flows can be tested from the mail catcher.
const code = '\n<p>Or enter this code: {{ .Token }}</p>';
const defaultBodies: Record<EmailActionType, string> = {
  invite: `<h2>You've been invited</h2>\n\n<p>You've been invited to create an account. Follow the link below to accept.</p>\n<p><a href="{{ .ConfirmationURL }}">Accept invitation</a></p>${code}`,
  signup: `<h2>Confirm your email address</h2>\n\n<p>Follow the link below to confirm this email address and finish signing up.</p>\n<p><a href="{{ .ConfirmationURL }}">Confirm email address</a></p>${code}`,
  recovery: `<h2>Reset your password</h2>\n\n<p>We received a request to reset your password. Follow the link below to choose a new one.</p>\n<p><a href="{{ .ConfirmationURL }}">Reset password</a></p>\n<p>If you didn't request this, you can safely ignore this email.</p>${code}`,
  magiclink: `<h2>Your sign-in link</h2>\n\n<p>Follow the link below to sign in. This link expires shortly and can only be used once.</p>\n<p><a href="{{ .ConfirmationURL }}">Sign in</a></p>${code}`,
  email_change: `<h2>Confirm your new email address</h2>\n\n<p>Follow the link below to confirm {{ .NewEmail }} as your new email address.</p>\n<p><a href="{{ .ConfirmationURL }}">Confirm new email address</a></p>\n<p>If you didn't request this change, you can safely ignore this email.</p>${code}`,
  reauthentication: `<h2>Your verification code</h2>\n\n<p>Use the code below to verify your identity. It expires shortly.</p>\n<p>{{ .Token }}</p>`,
};

const errorMessages: Record<EmailActionType, string> = {
  signup: 'Error sending confirmation email',
  invite: 'Error sending invite email',
  recovery: 'Error sending recovery email',
  magiclink: 'Error sending magic link email',
  email_change: 'Error sending email change email',
  reauthentication: 'Error sending reauthentication email',
};

/** `{{ .Name }}` and `{{ .Data.key }}` substitution: the part of Go templates auth templates use. */
export function renderTemplate(template: string, data: Record<string, unknown>): string {
  return template.replace(/\{\{\s*\.([A-Za-z_][\w.]*)\s*\}\}/g, (_match, path: string) => {
    let value: unknown = data;
    for (const key of path.split('.')) {
      value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    }
    if (value === undefined || value === null) return '';
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  });
}

/** The redirect_to of a link: kept as-is unless it holds `&`, `=` or `#` (encodeRedirectURL). */
function encodeRedirect(url: string): string {
  return /[&=#]/.test(url) ? encodeURIComponent(url).replace(/%20/g, '+') : url;
}

export function externalUrl(ctx: StackContext): string {
  return `${ctx.urls.api}/auth/v1`;
}

/** `<API_EXTERNAL_URL>/verify?token=<hash>&type=<type>&redirect_to=<url>` (getPath). */
export function actionLink(ctx: StackContext, tokenHash: string, type: string, redirectTo: string): string {
  return `${externalUrl(ctx)}/verify?token=${encodeURIComponent(tokenHash)}&type=${encodeURIComponent(type)}&redirect_to=${encodeRedirect(redirectTo)}`;
}

function clientIp(req: IncomingMessage): string {
  const forwarded = req.headers['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  const ip = first || req.socket.remoteAddress || '';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

export interface Mailer {
  send(req: IncomingMessage, user: UserRow, params: EmailParams): Promise<void>;
  close(): void;
}

export function createMailer(
  ctx: StackContext,
  settings: AuthSettings,
  hookOptions: HookOptions = {},
): Mailer {
  const transports = new Map<string, Transporter>();
  const transport = () => {
    const { host, port } = ctx.urls.smtp;
    const key = `${host}:${port}`;
    let existing = transports.get(key);
    if (!existing) {
      existing = nodemailer.createTransport({ host, port, secure: false, ignoreTLS: true });
      transports.set(key, existing);
    }
    return existing;
  };

  const render = (type: EmailActionType, data: Record<string, unknown>) => {
    const custom = settings.templates[type] ?? {};
    return {
      subject: renderTemplate(custom.subject ?? defaultSubjects[type], data),
      html: renderTemplate(custom.body ?? defaultBodies[type], data),
    };
  };

  const smtpSend = async (to: string, type: EmailActionType, data: Record<string, unknown>) => {
    const { subject, html } = render(type, data);
    await transport().sendMail({ from: 'admin@email.com', to, subject, html });
  };

  async function viaHook(
    req: IncomingMessage,
    user: UserRow,
    params: EmailParams,
    hook: { uri: string; secrets: string },
  ) {
    const secure = settings.secureEmailChange && Boolean(user.email);
    const emailData: Record<string, string> = {
      token: params.otp,
      token_hash: params.tokenHash,
      redirect_to: params.redirectTo,
      email_action_type: params.type,
      site_url: externalUrl(ctx),
      token_new: '',
      token_hash_new: '',
      old_email: '',
      old_phone: '',
      provider: '',
      factor_type: '',
    };
    if (params.type === 'email_change') {
      if (secure) {
        // GoTrue pairs the current address's OTP with the new address's hash and vice versa.
        emailData.token_new = params.otpNew ?? '';
        emailData.token_hash_new = params.tokenHashCurrent ?? '';
      } else {
        emailData.token = params.otpNew ?? '';
      }
    }
    const payload = {
      metadata: {
        uuid: randomUUID(),
        time: new Date().toISOString(),
        name: 'send-email',
        ip_address: clientIp(req),
      },
      user: userJson(user),
      email_data: emailData,
    };
    await invokeHttpHook(hook.uri, hook.secrets, payload, hookOptions);
  }

  async function viaSmtp(user: UserRow, params: EmailParams) {
    const base = {
      SiteURL: ctx.config.auth.siteUrl,
      Email: user.email ?? '',
      Data: user.raw_user_meta_data ?? {},
      RedirectTo: params.redirectTo,
    };
    if (params.type === 'email_change') {
      const newEmail = user.email_change ?? '';
      await smtpSend(newEmail, 'email_change', {
        ...base,
        NewEmail: newEmail,
        Token: params.otpNew ?? '',
        TokenHash: params.tokenHash,
        ConfirmationURL: actionLink(ctx, params.tokenHash, 'email_change', params.redirectTo),
      });
      if (settings.secureEmailChange && user.email && params.tokenHashCurrent) {
        await smtpSend(user.email, 'email_change', {
          ...base,
          NewEmail: newEmail,
          Token: params.otp,
          TokenHash: params.tokenHashCurrent,
          ConfirmationURL: actionLink(ctx, params.tokenHashCurrent, 'email_change', params.redirectTo),
        });
      }
      return;
    }
    await smtpSend(user.email ?? '', params.type, {
      ...base,
      Token: params.otp,
      TokenHash: params.tokenHash,
      ConfirmationURL: actionLink(ctx, params.tokenHash, params.type, params.redirectTo),
    });
  }

  return {
    async send(req, user, params) {
      const hook = ctx.config.auth.sendEmailHook;
      if (hook?.enabled) {
        await viaHook(req, user, params, hook);
        return;
      }
      try {
        await viaSmtp(user, params);
      } catch (error) {
        if (error instanceof AuthError) throw error;
        ctx.log('auth', `SMTP ${ctx.urls.smtp.host}:${ctx.urls.smtp.port}: ${(error as Error).message}`);
        throw internal(errorMessages[params.type]);
      }
    },
    close() {
      for (const t of transports.values()) t.close();
      transports.clear();
    },
  };
}
