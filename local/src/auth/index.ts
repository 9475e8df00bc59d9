import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LocalService, StackContext } from '../context.ts';
import { sendJson } from '../http.ts';
import { adminCreateUser, adminDeleteUser, adminGetUser, adminListUsers, adminUpdateUser } from './admin.ts';
import { AuthContext } from './context.ts';
import { AuthError, sendAuthError } from './errors.ts';
import { generateLink } from './generate-link.ts';
import type { HookOptions } from './hook.ts';
import { invite } from './invite.ts';
import { createMailer, type Mailer } from './mailer.ts';
import { otp, recover, resend } from './otp.ts';
import { type AuthSettings, loadAuthSettings, settingsJson } from './settings.ts';
import { signup } from './signup.ts';
import { token } from './token.ts';
import { getUser, logout, updateUser } from './user.ts';
import { verifyGet, verifyPost } from './verify.ts';

/**
 * /auth/v1: the subset of GoTrue (supabase/auth) that supabase-js's auth client and the plugin use,
 * over the real auth.users / identities / sessions / refresh_tokens tables.
 */
export interface AuthServiceOptions {
  /** Overrides of the settings read from config.toml (tests). */
  settings?: Partial<AuthSettings>;
  /** Send Email Hook timing (tests shorten the 5 s timeout and 2 s back-off). */
  hook?: HookOptions;
}

export const authVersion = 'v2.180.0-supadispatch-local';

export function createAuthService(options: AuthServiceOptions = {}): LocalService {
  let ctx: StackContext | null = null;
  let auth: AuthContext | null = null;
  let mailer: Mailer | null = null;

  /** One handler per GoTrue endpoint, each in the file of its endpoint group. */
  const route = async (req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> => {
    const a = auth!;
    const method = req.method ?? 'GET';
    const adminUser = /^\/admin\/users\/([^/]+)\/?$/.exec(path);
    const key = `${method} ${path.replace(/\/+$/, '') || '/'}`;
    switch (key) {
      case 'POST /signup':
        return signup(a, req, res, url);
      case 'POST /token':
        return token(a, req, res, url);
      case 'GET /user':
        return getUser(a, req, res, url);
      case 'PUT /user':
        return updateUser(a, req, res, url);
      case 'POST /logout':
        return logout(a, req, res, url);
      case 'POST /recover':
        return recover(a, req, res, url);
      case 'POST /otp':
        return otp(a, req, res, url);
      case 'POST /resend':
        return resend(a, req, res, url);
      case 'GET /verify':
        return verifyGet(a, req, res, url);
      case 'POST /verify':
        return verifyPost(a, req, res, url);
      case 'POST /invite':
        return invite(a, req, res, url);
      case 'GET /settings':
        sendJson(res, 200, settingsJson(a.config, a.settings));
        return;
      case 'GET /health':
        sendJson(res, 200, {
          version: authVersion,
          name: 'GoTrue',
          description: 'GoTrue is a user registration and authentication API',
        });
        return;
      case 'GET /.well-known/jwks.json':
        sendJson(res, 200, { keys: [] });
        return;
      case 'GET /admin/users':
        return adminListUsers(a, req, res, url);
      case 'POST /admin/users':
        return adminCreateUser(a, req, res, url);
      case 'POST /admin/generate_link':
        return generateLink(a, req, res, url);
    }
    if (adminUser) {
      const id = decodeURIComponent(adminUser[1]);
      if (method === 'GET') return adminGetUser(a, req, res, id);
      if (method === 'PUT') return adminUpdateUser(a, req, res, id);
      if (method === 'DELETE') return adminDeleteUser(a, req, res, id);
    }
    throw new AuthError(404, 'not_found', `${method} ${path} is not supported by the local Auth service`);
  };

  return {
    name: 'auth',
    async start(context) {
      ctx = context;
      const settings = { ...loadAuthSettings(context), ...options.settings };
      mailer = createMailer(context, settings, options.hook);
      auth = new AuthContext(context, settings, mailer);
    },
    async stop() {
      mailer?.close();
      mailer = null;
      auth = null;
    },
    http: {
      prefix: '/auth/v1',
      async handle(req, res, path) {
        const url = new URL(req.url ?? '/', 'http://auth.local');
        try {
          if (!auth || !ctx) throw new AuthError(503, 'unexpected_failure', 'Auth service is not started');
          await route(req, res, path, url);
        } catch (error) {
          if (res.headersSent) {
            res.destroy();
            return;
          }
          sendAuthError(req, res, error, (message, extra) => ctx?.log('auth', message, extra));
        }
      },
    },
  };
}
