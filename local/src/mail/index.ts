import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalService, StackContext } from '../context.ts';
import { bearerToken, corsHeaders, HttpError, readBody, requireLoopbackHost, sendJson } from '../http.ts';
import { IdempotencyCache, messageFromResend, messagesFromResendBatch, ResendApiError } from './resend.ts';
import { startSmtp } from './smtp.ts';
import { type MailMessage, MailStore } from './store.ts';
import { renderPage, UI_CONTENT_SECURITY_POLICY } from './ui.ts';

export type { MailMessage } from './store.ts';

/**
 * Mail catcher: what Inbucket/Mailpit is in `supabase start`, plus a Resend-compatible door.
 *
 * SMTP on ctx.ports.smtp (no TLS, any/no AUTH). HTTP on ctx.ports.mail:
 *   POST   /emails, /emails/batch          Resend API (Bearer <any key>, Idempotency-Key)
 *   GET    /api/messages[?to=a@b][&wait=ms] caught messages, OLDEST FIRST (newest last);
 *                                          `wait` long-polls until one matches (max 30 s)
 *   GET    /api/messages/:id
 *   DELETE /api/messages                   empties the mailbox (and forgets idempotency keys)
 *   DELETE /api/messages/:id
 *   GET    /                               web page (newest first), `/?id=<id>` shows one
 */

export interface MailCatcherOptions {
  /** Messages kept (oldest dropped first). Default 1000. */
  maxMessages?: number;
  /** Upper bound for `wait`. Default 30 000 ms. */
  maxWaitMs?: number;
}

export interface MailCatcher extends LocalService {
  /** Bound HTTP port (after start; useful with port 0). */
  readonly port: number;
  /** Bound SMTP port (after start). */
  readonly smtpPort: number;
  /** http://127.0.0.1:<port> (after start). */
  readonly url: string;
  messages(): MailMessage[];
}

export function createMailCatcher(options: MailCatcherOptions = {}): MailCatcher {
  const store = new MailStore(options.maxMessages ?? 1000);
  const maxWaitMs = options.maxWaitMs ?? 30_000;
  const idempotency = new IdempotencyCache();
  let ctx: StackContext | null = null;
  let http: Server | null = null;
  let smtp: { port: number; close(): Promise<void> } | null = null;
  let httpPort = 0;
  let stopping = new AbortController();

  const sendResend = async (req: IncomingMessage, res: ServerResponse, batch: boolean): Promise<void> => {
    if (!bearerToken(req)) {
      throw new ResendApiError(
        401,
        'missing_api_key',
        'Missing API key in the authorization header. Include the following header `Authorization: Bearer YOUR_API_KEY` in the request.',
      );
    }
    const rawKey = req.headers['idempotency-key'];
    const key = IdempotencyCache.checkKey(Array.isArray(rawKey) ? rawKey[0] : rawKey);
    const raw = await readBody(req);
    let payload: unknown;
    try {
      payload = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new ResendApiError(422, 'validation_error', 'Invalid JSON in the request body.');
    }
    const endpoint = batch ? '/emails/batch' : '/emails';
    if (key !== null) {
      const previous = idempotency.replay(endpoint, key, payload);
      if (previous !== undefined) return sendJson(res, 200, previous);
    }
    const messages = batch ? messagesFromResendBatch(payload, key) : [messageFromResend(payload, key)];
    for (const message of messages) {
      store.add(message);
      ctx?.log('mail', `api: "${message.subject}" to ${message.to.join(', ')}`);
    }
    const response = batch ? { data: messages.map((m) => ({ id: m.id })) } : { id: messages[0].id };
    if (key !== null) idempotency.remember(endpoint, key, payload, response);
    sendJson(res, 200, response);
  };

  const api = async (req: IncomingMessage, res: ServerResponse, url: URL, path: string): Promise<void> => {
    const method = req.method ?? 'GET';
    if (path === '/api/messages') {
      if (method === 'GET') {
        const to = url.searchParams.get('to');
        const waitRaw = url.searchParams.get('wait');
        const wait = waitRaw === null || waitRaw === '' ? 0 : Number(waitRaw);
        if (!Number.isFinite(wait) || wait < 0)
          throw new HttpError(400, { message: 'wait must be milliseconds >= 0' });
        const gone = new AbortController();
        const onClose = () => gone.abort();
        req.socket.once('close', onClose);
        stopping.signal.addEventListener('abort', onClose, { once: true });
        try {
          const list = await store.waitFor({ to }, Math.min(Math.floor(wait), maxWaitMs), gone.signal);
          if (!res.destroyed) sendJson(res, 200, list, corsHeaders);
        } finally {
          req.socket.off('close', onClose);
          stopping.signal.removeEventListener('abort', onClose);
        }
        return;
      }
      if (method === 'DELETE') {
        const cleared = store.clear();
        idempotency.clear();
        return sendJson(res, 200, { cleared }, corsHeaders);
      }
    }
    const one = /^\/api\/messages\/([^/]+)$/.exec(path);
    if (one) {
      const id = decodeURIComponent(one[1]);
      if (method === 'GET') {
        const message = store.get(id);
        if (!message) throw new HttpError(404, { message: `no message ${id}` });
        return sendJson(res, 200, message, corsHeaders);
      }
      if (method === 'DELETE') {
        if (!store.delete(id)) throw new HttpError(404, { message: `no message ${id}` });
        return sendJson(res, 200, { deleted: id }, corsHeaders);
      }
    }
    throw new HttpError(404, { message: `no endpoint ${method} ${path}` });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://mail.local');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    try {
      if (method === 'OPTIONS') {
        res.writeHead(204, corsHeaders);
        res.end();
        return;
      }
      if (method === 'POST' && (path === '/emails' || path === '/emails/batch')) {
        await sendResend(req, res, path === '/emails/batch');
        return;
      }
      if (path === '/api/messages' || path.startsWith('/api/')) {
        await api(req, res, url, path);
        return;
      }
      if (path === '/' && (method === 'GET' || method === 'HEAD')) {
        const to = url.searchParams.get('to');
        const id = url.searchParams.get('id');
        const html = renderPage(store.list({ to }), id ? (store.get(id) ?? null) : null, to);
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-length': Buffer.byteLength(html),
          'content-security-policy': UI_CONTENT_SECURITY_POLICY,
          'x-content-type-options': 'nosniff',
          'x-frame-options': 'DENY',
          'referrer-policy': 'no-referrer',
          'cache-control': 'no-store',
        });
        res.end(method === 'HEAD' ? undefined : html);
        return;
      }
      if (path === '/emails' || path === '/emails/batch') {
        throw new ResendApiError(405, 'method_not_allowed', 'Method is not allowed for the requested path.');
      }
      throw new HttpError(404, { message: `no endpoint ${method} ${path}` });
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof ResendApiError) return sendJson(res, error.statusCode, error.toJSON());
      if (error instanceof HttpError) {
        return sendJson(res, error.status, error.body, { ...corsHeaders, ...error.headers });
      }
      ctx?.log('mail', 'request failed', error);
      sendJson(res, 500, { message: (error as Error).message }, corsHeaders);
    }
  };

  return {
    name: 'mail',
    get port() {
      return httpPort;
    },
    get smtpPort() {
      return smtp?.port ?? 0;
    },
    get url() {
      return `http://127.0.0.1:${httpPort}`;
    },
    messages: () => store.list(),
    async start(context: StackContext) {
      if (http) throw new Error('mail catcher already started');
      ctx = context;
      stopping = new AbortController();
      const server = createServer((req, res) => {
        if (requireLoopbackHost(req, res)) void handle(req, res);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(context.ports.mail, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      http = server;
      httpPort = (server.address() as AddressInfo).port;
      try {
        smtp = await startSmtp(store, context.ports.smtp, context.log);
      } catch (error) {
        await this.stop();
        throw error;
      }
      context.log('mail', `web ui and api on http://127.0.0.1:${httpPort}, smtp on 127.0.0.1:${smtp.port}`);
    },
    async stop() {
      stopping.abort();
      const server = http;
      const mailServer = smtp;
      http = null;
      smtp = null;
      await Promise.all([
        server
          ? new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            })
          : undefined,
        mailServer?.close(),
      ]);
    },
  };
}
