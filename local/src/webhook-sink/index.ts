import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalService, StackContext } from '../context.ts';
import { corsHeaders, HttpError, readJson, requireLoopbackHost, sendJson } from '../http.ts';
import { verifyStandardWebhook } from '../standard-webhooks.ts';

/**
 * Webhook sink: records every request to any path outside `/api/`, answers according to per-path
 * behaviours (fail, rate_limit, gone, hang, ok), and verifies Standard Webhooks signatures with
 * `ctx.keys.webhookSecret`. Every path outside `/api/` is a sink; `/api/` is the control API:
 *
 *   GET    /api/requests[?path=/x][&method=POST][&wait=ms]  recorded requests, oldest first
 *   GET    /api/requests/:id
 *   DELETE /api/requests                                    clears requests AND behaviours
 *   GET    /api/behaviours                                  queued behaviours per path
 *   POST   /api/behaviours {path, mode, count?, status?, retryAfter?, delayMs?}
 *   DELETE /api/behaviours[?path=/x]
 *
 * Behaviours queue per path (POST appends; each request consumes the head's count); `path: "*"`
 * applies to paths with no queue of their own. fail → status (default 500) for `count` (default 1)
 * requests; rate_limit → 429 + `Retry-After: <retryAfter, default 1>`; gone → 410 until cleared;
 * hang → hold `delayMs` (default and maximum 60 s) then 200, or until the client disconnects
 * (recorded with `aborted: true`, `response: null`); ok → 200 `{"ok":true}`. Any mode takes an
 * optional `delayMs`. Requests are recorded on arrival, oldest first, the last 1000 kept.
 * `signatureValid` uses the reference libraries' 5-minute timestamp tolerance, so a retry that
 * re-sends an old `webhook-timestamp` shows up as invalid.
 */

export type BehaviourMode = 'ok' | 'fail' | 'rate_limit' | 'gone' | 'hang';

export interface Behaviour {
  id: string;
  /** Exact request path (no query), or `*` for any path without a behaviour of its own. */
  path: string;
  mode: BehaviourMode;
  /**
   * Requests left; null = persistent. fail, rate_limit and hang default to 1; gone is always
   * persistent; ok without count is not queued (it clears the path's queue, 200 being the default).
   */
  remaining: number | null;
  status: number;
  /** Seconds, for rate_limit (the `Retry-After` header). */
  retryAfter: number | null;
  /** Held before answering; for hang the whole point, for others an optional slow answer. */
  delayMs: number;
  createdAt: string;
}

export interface SinkResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RecordedRequest {
  id: string;
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  body: string;
  /** Body bytes received (body above is cut at the record limit). */
  bodyBytes: number;
  json: unknown;
  receivedAt: string;
  /** Standard Webhooks verification with the stack's secret; null when the request was not signed. */
  signatureValid: boolean | null;
  signatureError: string | null;
  /** Which behaviour answered (null = default ok). */
  behaviour: BehaviourMode | null;
  /** What the sink answered; null while the request is still being held, or if the client left first. */
  response: SinkResponse | null;
  respondedAt: string | null;
  /** The client closed the connection before the sink answered (e.g. a timeout during hang). */
  aborted: boolean;
}

export interface WebhookSinkOptions {
  /** Requests kept (oldest dropped first). Default 1000. */
  maxRequests?: number;
  /** Upper bound for hang / delayMs. Default 60 000. */
  maxDelayMs?: number;
  /** Upper bound for `wait` on GET /api/requests. Default 30 000. */
  maxWaitMs?: number;
  /** Body bytes kept per recorded request. Default 1 MiB. */
  maxBodyBytes?: number;
}

export interface WebhookSink extends LocalService {
  /** The bound port (after start; useful with port 0). */
  readonly port: number;
  /** http://127.0.0.1:<port> (after start). */
  readonly url: string;
  requests(): RecordedRequest[];
}

const MODES: readonly BehaviourMode[] = ['ok', 'fail', 'rate_limit', 'gone', 'hang'];

export function createWebhookSink(options: WebhookSinkOptions = {}): WebhookSink {
  const maxRequests = options.maxRequests ?? 1000;
  const maxDelayMs = options.maxDelayMs ?? 60_000;
  const maxWaitMs = options.maxWaitMs ?? 30_000;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;

  let server: Server | null = null;
  let ctx: StackContext | null = null;
  let boundPort = 0;
  const recorded: RecordedRequest[] = [];
  const behaviours = new Map<string, Behaviour[]>();
  const waiters = new Set<() => void>();
  const timers = new Set<NodeJS.Timeout>();

  const notify = () => {
    for (const wake of [...waiters]) wake();
  };

  const record = (entry: RecordedRequest) => {
    recorded.push(entry);
    if (recorded.length > maxRequests) recorded.splice(0, recorded.length - maxRequests);
    notify();
  };

  /** Takes the behaviour that answers this request, consuming one of its counted uses. */
  const takeBehaviour = (path: string): Behaviour | null => {
    for (const key of [path, '*']) {
      const queue = behaviours.get(key);
      if (!queue || queue.length === 0) continue;
      const head = queue[0];
      if (head.remaining !== null) {
        head.remaining -= 1;
        if (head.remaining <= 0) queue.shift();
        if (queue.length === 0) behaviours.delete(key);
      }
      return { ...head };
    }
    return null;
  };

  const filterRequests = (url: URL): RecordedRequest[] => {
    const path = url.searchParams.get('path');
    const method = url.searchParams.get('method');
    return recorded.filter(
      (r) => (path === null || r.path === path) && (method === null || r.method === method.toUpperCase()),
    );
  };

  const handleControl = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      res.writeHead(204, corsHeaders);
      res.end();
      return;
    }
    if (path === '/api/requests') {
      if (method === 'GET') {
        const wait = parseWait(url.searchParams.get('wait'), maxWaitMs);
        let list = filterRequests(url);
        if (list.length === 0 && wait > 0) {
          await waitFor(() => filterRequests(url).length > 0, wait, req);
          list = filterRequests(url);
        }
        return sendJson(res, 200, list, corsHeaders);
      }
      if (method === 'DELETE') {
        const cleared = recorded.length;
        recorded.length = 0;
        behaviours.clear();
        return sendJson(res, 200, { cleared }, corsHeaders);
      }
    }
    const one = /^\/api\/requests\/([^/]+)$/.exec(path);
    if (one && method === 'GET') {
      const found = recorded.find((r) => r.id === decodeURIComponent(one[1]));
      if (!found) throw new HttpError(404, { error: `no recorded request ${one[1]}` });
      return sendJson(res, 200, found, corsHeaders);
    }
    if (path === '/api/behaviours') {
      if (method === 'GET') return sendJson(res, 200, [...behaviours.values()].flat(), corsHeaders);
      if (method === 'POST') {
        const behaviour = normaliseBehaviour(await readJson(req), maxDelayMs);
        if (behaviour.mode === 'ok' && behaviour.remaining === null) {
          // A persistent `ok` is the default: it just clears what was queued for the path.
          behaviours.delete(behaviour.path);
        } else {
          const queue = behaviours.get(behaviour.path) ?? [];
          queue.push(behaviour);
          behaviours.set(behaviour.path, queue);
        }
        return sendJson(res, 201, behaviour, corsHeaders);
      }
      if (method === 'DELETE') {
        const only = url.searchParams.get('path');
        if (only === null) behaviours.clear();
        else behaviours.delete(only);
        return sendJson(res, 200, { cleared: true }, corsHeaders);
      }
    }
    throw new HttpError(404, { error: `no control endpoint ${method} ${path}` });
  };

  const handleSink = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const { body, bytes } = await readLimited(req, maxBodyBytes);
    const text = body.toString('utf8');
    let json: unknown = null;
    try {
      json = text.length > 0 ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    const secret = ctx?.keys.webhookSecret ?? '';
    const verification = verifyStandardWebhook(secret, req.headers, body);
    const behaviour = takeBehaviour(url.pathname);
    const entry: RecordedRequest = {
      id: randomUUID(),
      method: req.method ?? 'GET',
      path: url.pathname,
      query: queryObject(url),
      headers: flatHeaders(req),
      body: text,
      bodyBytes: bytes,
      json,
      receivedAt: new Date().toISOString(),
      signatureValid: verification.valid,
      signatureError: verification.valid === true ? null : verification.reason,
      behaviour: behaviour?.mode ?? null,
      response: null,
      respondedAt: null,
      aborted: false,
    };
    const response = responseFor(behaviour);
    const answer = () => {
      if (res.destroyed || res.writableEnded) return;
      entry.response = response;
      entry.respondedAt = new Date().toISOString();
      res.writeHead(response.status, {
        ...response.headers,
        'content-length': Buffer.byteLength(response.body),
      });
      res.end(response.body);
      notify();
    };
    const delay = behaviour?.delayMs ?? 0;
    if (delay <= 0) {
      // Record before answering, so a client that polls right after its response finds it.
      entry.response = response;
      entry.respondedAt = new Date().toISOString();
      record(entry);
      answer();
      return;
    }
    record(entry);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer();
        resolve();
      }, delay);
      timers.add(timer);
      res.on('close', () => {
        if (!res.writableFinished) {
          entry.aborted = true;
          notify();
        }
        clearTimeout(timer);
        timers.delete(timer);
        resolve();
      });
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://sink.local');
    try {
      if (url.pathname === '/api' || url.pathname.startsWith('/api/')) await handleControl(req, res, url);
      else await handleSink(req, res, url);
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
    requests: () => [...recorded],
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
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const wake of [...waiters]) wake();
      if (!current) return;
      await new Promise<void>((resolve) => {
        current.close(() => resolve());
        current.closeAllConnections();
      });
    },
  };

  function waitFor(ready: () => boolean, ms: number, req: IncomingMessage): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
        req.socket.off('close', done);
        resolve();
      };
      const check = () => {
        if (ready() || server === null) done();
      };
      const timer = setTimeout(done, ms);
      waiters.add(check);
      req.socket.once('close', done);
    });
  }
}

function responseFor(behaviour: Behaviour | null): SinkResponse {
  const json = (status: number, body: unknown, headers: Record<string, string> = {}): SinkResponse => ({
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body),
  });
  switch (behaviour?.mode ?? 'ok') {
    case 'fail':
      return json(behaviour!.status, { error: 'simulated failure', status: behaviour!.status });
    case 'rate_limit':
      return json(
        429,
        { error: 'rate limited', retryAfter: behaviour!.retryAfter },
        { 'retry-after': String(behaviour!.retryAfter) },
      );
    case 'gone':
      return json(410, { error: 'gone' });
    case 'hang':
      return json(behaviour!.status, { ok: behaviour!.status < 400, held: behaviour!.delayMs });
    default:
      return json(behaviour?.status ?? 200, { ok: true });
  }
}

function normaliseBehaviour(input: unknown, maxDelayMs: number): Behaviour {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new HttpError(400, {
      error: 'body must be a JSON object {path, mode, count?, status?, retryAfter?, delayMs?}',
    });
  }
  const body = input as Record<string, unknown>;
  const path = body.path;
  if (typeof path !== 'string' || !(path === '*' || path.startsWith('/'))) {
    throw new HttpError(400, { error: 'path must be a string starting with "/" (or "*" for any path)' });
  }
  if (path === '/api' || path.startsWith('/api/')) {
    throw new HttpError(400, { error: 'paths under /api/ are the control API, not a sink' });
  }
  const mode = body.mode;
  if (typeof mode !== 'string' || !MODES.includes(mode as BehaviourMode)) {
    throw new HttpError(400, { error: `mode must be one of ${MODES.join(', ')}` });
  }
  const integer = (name: string, min: number, max: number): number | undefined => {
    const value = body[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new HttpError(400, { error: `${name} must be an integer between ${min} and ${max}` });
    }
    return value;
  };
  const count = integer('count', 1, 1_000_000);
  const status = integer('status', 100, 599);
  const retryAfter = integer('retryAfter', 0, 86_400);
  const delayRequested = integer('delayMs', 0, Number.MAX_SAFE_INTEGER);
  const delayMs = Math.min(delayRequested ?? (mode === 'hang' ? maxDelayMs : 0), maxDelayMs);
  const m = mode as BehaviourMode;
  const defaults: Record<BehaviourMode, { status: number; remaining: number | null }> = {
    ok: { status: 200, remaining: count ?? null },
    fail: { status: 500, remaining: count ?? 1 },
    rate_limit: { status: 429, remaining: count ?? 1 },
    gone: { status: 410, remaining: null },
    hang: { status: 200, remaining: count ?? 1 },
  };
  if (m === 'fail' && status !== undefined && status < 400) {
    throw new HttpError(400, { error: 'status for fail must be 400-599' });
  }
  return {
    id: randomUUID(),
    path,
    mode: m,
    remaining: defaults[m].remaining,
    status: m === 'rate_limit' || m === 'gone' ? defaults[m].status : (status ?? defaults[m].status),
    retryAfter: m === 'rate_limit' ? (retryAfter ?? 1) : null,
    delayMs,
    createdAt: new Date().toISOString(),
  };
}

function parseWait(raw: string | null, max: number): number {
  if (raw === null || raw === '') return 0;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new HttpError(400, { error: 'wait must be milliseconds >= 0' });
  return Math.min(Math.floor(value), max);
}

async function readLimited(req: IncomingMessage, limit: number): Promise<{ body: Buffer; bytes: number }> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let bytes = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    bytes += buffer.length;
    if (kept < limit) {
      const part = buffer.subarray(0, limit - kept);
      chunks.push(part);
      kept += part.length;
    }
  }
  return { body: Buffer.concat(chunks), bytes };
}

function queryObject(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of url.searchParams) {
    const existing = query[key];
    if (existing === undefined) query[key] = value;
    else query[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return query;
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}
