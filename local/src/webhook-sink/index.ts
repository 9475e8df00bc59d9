import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StackContext } from '../context.ts';
import { corsHeaders, HttpError, requireLoopbackHost, sendJson } from '../http.ts';
import { BehaviourQueues } from './behaviours.ts';
import { type ControlApi, handleControl } from './control-api.ts';
import { RequestLog } from './request-log.ts';
import { handleSink, type Sink } from './sink.ts';
import type { WebhookSink, WebhookSinkOptions } from './types.ts';

export type {
  Behaviour,
  BehaviourMode,
  RecordedRequest,
  SinkResponse,
  WebhookSink,
  WebhookSinkOptions,
} from './types.ts';

/**
 * Webhook sink: records every request to any path outside `/api/`, answers according to per-path
 * behaviours (fail, rate_limit, gone, hang, ok), and verifies Standard Webhooks signatures with
 * `ctx.keys.webhookSecret`. Every path outside `/api/` is a sink (sink.ts); `/api/` is the control
 * API (control-api.ts):
 *
 *   GET    /api/requests[?path=/x][&method=POST][&wait=ms]  recorded requests, oldest first
 *   GET    /api/requests/:id
 *   DELETE /api/requests                                    clears requests AND behaviours
 *   GET    /api/behaviours                                  queued behaviours per path
 *   POST   /api/behaviours {path, mode, count?, status?, retryAfter?, delayMs?}
 *   DELETE /api/behaviours[?path=/x]
 *
 * Behaviours (behaviours.ts) queue per path (POST appends; each request consumes the head's count);
 * `path: "*"` applies to paths with no queue of their own. fail → status (default 500) for `count`
 * (default 1) requests; rate_limit → 429 + `Retry-After: <retryAfter, default 1>`; gone → 410 until
 * cleared; hang → hold `delayMs` (default and maximum 60 s) then 200, or until the client disconnects
 * (recorded with `aborted: true`, `response: null`); ok → 200 `{"ok":true}`. Any mode takes an
 * optional `delayMs`. Requests are recorded on arrival, oldest first, the last 1000 kept
 * (request-log.ts). `signatureValid` uses the reference libraries' 5-minute timestamp tolerance, so
 * a retry that re-sends an old `webhook-timestamp` shows up as invalid.
 * This module keeps the service's lifecycle, routing and error answers.
 */
export function createWebhookSink(options: WebhookSinkOptions = {}): WebhookSink {
  let server: Server | null = null;
  let ctx: StackContext | null = null;
  let boundPort = 0;
  const requests = new RequestLog(options.maxRequests ?? 1000);
  const behaviours = new BehaviourQueues();
  const control: ControlApi = {
    requests,
    behaviours,
    maxDelayMs: options.maxDelayMs ?? 60_000,
    maxWaitMs: options.maxWaitMs ?? 30_000,
    stopped: () => server === null,
  };
  const sink: Sink = {
    requests,
    behaviours,
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    secret: () => ctx?.keys.webhookSecret ?? '',
    timers: new Set(),
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://sink.local');
    try {
      if (url.pathname === '/api' || url.pathname.startsWith('/api/'))
        await handleControl(control, req, res, url);
      else await handleSink(sink, req, res, url);
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        const body = error.body;
        const payload =
          typeof body === 'object' && body !== null && 'error' in body ? body : { error: error.message };
        sendJson(res, error.status, payload, { ...corsHeaders, ...error.headers });
        return;
      }
      ctx?.log('webhook-sink', 'request failed', error);
      sendJson(res, 500, { error: (error as Error).message }, corsHeaders);
    }
  };

  return {
    name: 'webhook-sink',
    get port() {
      return boundPort;
    },
    get url() {
      return `http://127.0.0.1:${boundPort}`;
    },
    requests: () => requests.all(),
    async start(context: StackContext) {
      if (server) throw new Error('webhook sink already started');
      ctx = context;
      const created = createServer((req, res) => {
        // Only the control API is guarded: sink paths must accept whatever Host a sender uses.
        if (!req.url?.startsWith('/api/') || requireLoopbackHost(req, res)) void handle(req, res);
      });
      await new Promise<void>((resolve, reject) => {
        created.once('error', reject);
        created.listen(context.ports.webhookSink, '127.0.0.1', () => {
          created.off('error', reject);
          resolve();
        });
      });
      server = created;
      boundPort = (created.address() as AddressInfo).port;
      context.log('webhook-sink', `listening on http://127.0.0.1:${boundPort}`);
    },
    async stop() {
      const current = server;
      server = null;
      for (const timer of sink.timers) clearTimeout(timer);
      sink.timers.clear();
      // Long polls see the sink stopped and end.
      requests.changed();
      if (!current) return;
      await new Promise<void>((resolve) => {
        current.close(() => resolve());
        current.closeAllConnections();
      });
    },
  };
}
