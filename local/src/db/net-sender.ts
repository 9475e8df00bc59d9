import http from 'node:http';
import https from 'node:https';
import pg from 'pg';
import type { LocalService, StackContext } from '../context.ts';
import type { Logger } from '../logger.ts';

/**
 * The worker behind the pg_net stand-in (bootstrap/400_net.sql): what pg_net's background worker
 * does on hosted. It LISTENs on channel `pg_net` (http_get/post/delete NOTIFY it; a NOTIFY is
 * delivered only after COMMIT, and a rolled-back request row never becomes visible), dequeues up
 * to `batchSize` requests at a time (deleted from the queue *before* sending: at most once, like
 * pg_net), performs them with their timeout and writes `net._http_response`. Responses older
 * than `ttlMs` (pg_net.ttl, 6 h) are pruned. On start it drains whatever is queued, and it also
 * polls every `pollIntervalMs` in case a notification was missed (e.g. while reconnecting).
 * Idle when the real pg_net extension is installed.
 */

export interface NetSenderOptions {
  batchSize?: number;
  ttlMs?: number;
  pollIntervalMs?: number;
  pruneIntervalMs?: number;
}

interface QueuedRequest {
  id: string;
  method: string;
  url: string;
  headers: Record<string, unknown> | null;
  body: Buffer | null;
  timeout_milliseconds: number;
}

interface NetResponse {
  status_code: number | null;
  content_type: string | null;
  headers: Record<string, string> | null;
  content: string | null;
  timed_out: boolean | null;
  error_msg: string | null;
}

export const netChannel = 'pg_net';

/** Performs one request the way pg_net's curl worker does and describes the outcome. */
export function performRequest(request: Omit<QueuedRequest, 'id'>): Promise<NetResponse> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (response: NetResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(response);
    };
    const failure = (message: string, timedOut = false): NetResponse => ({
      status_code: null,
      content_type: null,
      headers: null,
      content: null,
      timed_out: timedOut,
      error_msg: message,
    });
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      finish(failure(`URL using bad/illegal format or missing URL: ${request.url}`));
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers ?? {})) {
      headers[name] = typeof value === 'string' ? value : JSON.stringify(value);
    }
    if (request.body && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
      headers['Content-Length'] = String(request.body.length);
    }
    const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
    if (!client) {
      finish(failure(`Unsupported protocol: ${url.protocol}`));
      return;
    }
    const timeoutMs = Math.max(1, request.timeout_milliseconds);
    const req = client.request(url, { method: request.method.toUpperCase(), headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error) => finish(failure(error.message)));
      res.on('end', () => {
        const responseHeaders: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
        }
        finish({
          status_code: res.statusCode ?? null,
          content_type: res.headers['content-type'] ?? null,
          headers: responseHeaders,
          content: Buffer.concat(chunks).toString('utf8'),
          timed_out: false,
          error_msg: null,
        });
      });
    });
    const timer = setTimeout(() => {
      finish(failure(`Timeout of ${timeoutMs} ms reached`, true));
      req.destroy();
    }, timeoutMs);
    req.on('error', (error) => finish(failure(error.message)));
    if (request.body) req.write(request.body);
    req.end();
  });
}

export function createNetSender(options: NetSenderOptions = {}): LocalService {
  const batchSize = options.batchSize ?? 200;
  const ttlMs = options.ttlMs ?? 6 * 60 * 60 * 1000;
  const pollIntervalMs = options.pollIntervalMs ?? 2000;
  const pruneIntervalMs = options.pruneIntervalMs ?? 60_000;

  let ctx: StackContext | undefined;
  let log: Logger = () => {};
  let listener: pg.Client | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let pruneTimer: NodeJS.Timeout | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let stopped = true;
  let draining: Promise<void> | undefined;
  let again = false;
  const inFlight = new Set<Promise<unknown>>();

  const drainOnce = async (pool: pg.Pool): Promise<number> => {
    const { rows } = await pool.query<QueuedRequest>(
      `delete from net.http_request_queue
       where id in (select id from net.http_request_queue order by id limit $1 for update skip locked)
       returning id, method, url, headers, body, timeout_milliseconds`,
      [batchSize],
    );
    if (rows.length === 0) return 0;
    await Promise.all(
      rows.map(async (request) => {
        const response = await performRequest(request);
        await pool.query(
          `insert into net._http_response (id, status_code, content_type, headers, content, timed_out, error_msg)
           values ($1, $2, $3, $4, $5, $6, $7)`,
          [
            request.id,
            response.status_code,
            response.content_type,
            response.headers === null ? null : JSON.stringify(response.headers),
            response.content,
            response.timed_out,
            response.error_msg,
          ],
        );
        if (response.error_msg)
          log('pg_net', `request ${request.id} ${request.method} ${request.url}: ${response.error_msg}`);
      }),
    );
    return rows.length;
  };

  const drain = (): Promise<void> => {
    if (draining) {
      again = true;
      return draining;
    }
    const pool = ctx?.adminPool;
    if (!pool || stopped) return Promise.resolve();
    const run = (async () => {
      try {
        do {
          again = false;
          while (!stopped && (await drainOnce(pool)) > 0) {}
        } while (again && !stopped);
      } catch (error) {
        if (!stopped) log('pg_net', 'sender: draining the queue failed', error);
      } finally {
        draining = undefined;
      }
    })();
    draining = run;
    inFlight.add(run);
    void run.finally(() => inFlight.delete(run));
    return run;
  };

  const prune = async (): Promise<void> => {
    if (!ctx || stopped) return;
    try {
      await ctx.adminPool.query(
        `delete from net._http_response where created < now() - make_interval(secs => $1)`,
        [ttlMs / 1000],
      );
    } catch (error) {
      if (!stopped) log('pg_net', 'sender: pruning responses failed', error);
    }
  };

  const connectListener = async (): Promise<void> => {
    if (!ctx || stopped) return;
    const client = new pg.Client({ connectionString: ctx.urls.adminDb });
    client.on('notification', () => void drain());
    client.on('error', (error) => {
      if (stopped) return;
      log('pg_net', `sender: listener connection lost (${error.message}); reconnecting`);
      scheduleReconnect();
    });
    client.on('end', () => {
      if (!stopped && listener === client) scheduleReconnect();
    });
    try {
      await client.connect();
      await client.query(`listen ${netChannel}`);
      listener = client;
      void drain();
    } catch (error) {
      void client.end().catch(() => {});
      if (!stopped) {
        log('pg_net', `sender: cannot listen (${(error as Error).message}); retrying`);
        scheduleReconnect();
      }
    }
  };

  const scheduleReconnect = (): void => {
    const old = listener;
    listener = undefined;
    if (old) void old.end().catch(() => {});
    if (reconnectTimer || stopped) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      void connectListener();
    }, 1000);
  };

  return {
    name: 'pg_net',
    async start(context) {
      ctx = context;
      log = context.log;
      const { rows } = await context.adminPool.query<{ real: boolean; standin: boolean }>(
        `select exists (select from pg_extension where extname = 'pg_net') as real,
                to_regclass('net.http_request_queue') is not null as standin`,
      );
      if (rows[0]?.real || !rows[0]?.standin) {
        log('pg_net', rows[0]?.real ? 'real pg_net installed: sender idle' : 'no net schema: sender idle');
        return;
      }
      stopped = false;
      await connectListener();
      await drain();
      await prune();
      pollTimer = setInterval(() => void drain(), pollIntervalMs);
      pruneTimer = setInterval(() => void prune(), pruneIntervalMs);
      log('pg_net', 'sender listening');
    },
    async stop() {
      stopped = true;
      if (pollTimer) clearInterval(pollTimer);
      if (pruneTimer) clearInterval(pruneTimer);
      if (reconnectTimer) clearTimeout(reconnectTimer);
      pollTimer = pruneTimer = reconnectTimer = undefined;
      const client = listener;
      listener = undefined;
      if (client) await client.end().catch(() => {});
      await Promise.allSettled([...inFlight]);
      ctx = undefined;
    },
  };
}
