import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LocalService, StackContext } from '../context.ts';
import { sendJson } from '../http.ts';
import { AuthApi } from './api.ts';
import { AuthError, sendAuthError } from './errors.ts';
import type { HookOptions } from './hook.ts';
import { createMailer, type Mailer } from './mailer.ts';
import { type AuthSettings, loadAuthSettings } from './settings.ts';

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
  let api: AuthApi | null = null;
  let mailer: Mailer | null = null;

  const route = async (req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> => {
    const a = api!;
    const method = req.method ?? 'GET';
    const adminUser = /^\/admin\/users\/([^/]+)\/?$/.exec(path);
    const key = `${method} ${path.replace(/\/+$/, '') || '/'}`;
    switch (key) {
      case 'POST /signup':
        return a.signup(req, res, url);
      case 'POST /token':
        return a.token(req, res, url);
      case 'GET /user':
        return a.getUser(req, res);
      case 'PUT /user':
        return a.updateUser(req, res, url);
      case 'POST /logout':
        return a.logout(req, res, url);
      case 'POST /recover':
        return a.recover(req, res, url);
      case 'POST /otp':
        return a.otp(req, res, url);
      case 'POST /resend':
        return a.resend(req, res, url);
      case 'GET /verify':
        return a.verifyGet(req, res, url);
      case 'POST /verify':
        return a.verifyPost(req, res, url);
      case 'POST /invite':
        return a.invite(req, res, url);
      case 'GET /settings':
        sendJson(res, 200, a.settingsJson());
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
        return a.adminListUsers(req, res, url);
      case 'POST /admin/users':
        return a.adminCreateUser(req, res);
      case 'POST /admin/generate_link':
        return a.generateLink(req, res, url);
    }
    if (adminUser) {
      const id = decodeURIComponent(adminUser[1]);
      if (method === 'GET') return a.adminGetUser(req, res, id);
      if (method === 'PUT') return a.adminUpdateUser(req, res, id);
      if (method === 'DELETE') return a.adminDeleteUser(req, res, id);
    }
    throw new AuthError(404, 'not_found', `${method} ${path} is not supported by the local Auth service`);
  };

  return {
    name: 'auth',
    async start(context) {
      ctx = context;
      const settings = { ...loadAuthSettings(context), ...options.settings };
      mailer = createMailer(context, settings, options.hook);
      api = new AuthApi(context, settings, mailer);
    },
    async stop() {
      mailer?.close();
      mailer = null;
      api = null;
    },
    http: {
      prefix: '/auth/v1',
      async handle(req, res, path) {
        const url = new URL(req.url ?? '/', 'http://auth.local');
        try {
          if (!api || !ctx) throw new AuthError(503, 'unexpected_failure', 'Auth service is not started');
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
