import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { errorBody, workerError, workerLimit } from './answers.ts';
import { type FunctionProcess, functionErrorHeader } from './runtime.ts';

/** Headers about one connection, not the message: never forwarded in either direction. */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export interface ProxyLimits {
  /** The mount point, sent as `x-forwarded-prefix`. */
  prefix: string;
  /** No status and headers within this → 546 WORKER_LIMIT. */
  requestTimeoutMs: number;
  /** The whole exchange, body included, within this → 546 WORKER_LIMIT (or cut off once streaming). */
  wallClockLimitMs: number;
  log: (message: string, extra?: unknown) => void;
}

/**
 * One request to a function's Deno process and its response back, both streamed, with the
 * `x-forwarded-*` headers a proxy adds. An uncaught error in the handler (flagged by the
 * bootstrap's error header) is logged with its stack and answered 500 WORKER_ERROR.
 */
export async function proxyToFunction(
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  upstreamPath: string,
  proc: FunctionProcess,
  limits: ProxyLimits,
): Promise<void> {
  const { prefix, requestTimeoutMs, wallClockLimitMs, log } = limits;
  const headers: OutgoingHttpHeaders = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined && !hopByHop.has(key)) headers[key] = value;
  }
  const remote = req.socket.remoteAddress ?? '127.0.0.1';
  const forwardedFor = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = forwardedFor ? `${forwardedFor}, ${remote}` : remote;
  headers['x-forwarded-proto'] ??= 'http';
  if (req.headers.host) headers['x-forwarded-host'] ??= req.headers.host;
  headers['x-forwarded-prefix'] ??= prefix;

  const untrack = proc.track();
  await new Promise<void>((done) => {
    let finished = false;
    const end = () => {
      if (finished) return;
      finished = true;
      untrack();
      clearTimeout(headerTimer);
      clearTimeout(wallTimer);
      done();
    };
    const upstream = http.request({
      host: '127.0.0.1',
      port: proc.port!,
      method: req.method,
      path: upstreamPath,
      headers,
      agent: proc.agent,
    });
    const headerTimer = setTimeout(() => {
      log(`[${name}] no response within ${requestTimeoutMs} ms`);
      upstream.destroy();
      errorBody(res, 546, workerLimit);
      end();
    }, requestTimeoutMs);
    const wallTimer = setTimeout(() => {
      log(`[${name}] request exceeded the wall-clock limit of ${wallClockLimitMs} ms`);
      upstream.destroy();
      errorBody(res, 546, workerLimit);
      end();
    }, wallClockLimitMs);
    headerTimer.unref();
    wallTimer.unref();

    upstream.on('response', (answer) => {
      clearTimeout(headerTimer);
      if (answer.headers[functionErrorHeader]) {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          let stack = '';
          try {
            stack = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { stack?: string }).stack ?? '';
          } catch {
            stack = Buffer.concat(chunks).toString('utf8');
          }
          const error = new Error(`uncaught error in ${req.method} ${upstreamPath}`);
          error.stack = stack || error.message;
          log(`[${name}] function threw`, error);
          errorBody(res, 500, workerError);
          end();
        });
        answer.on('error', () => {
          errorBody(res, 500, workerError);
          end();
        });
        return;
      }
      const raw: string[] = [];
      for (let i = 0; i < answer.rawHeaders.length; i += 2) {
        if (!hopByHop.has(answer.rawHeaders[i].toLowerCase()))
          raw.push(answer.rawHeaders[i], answer.rawHeaders[i + 1]);
      }
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, raw);
      res.flushHeaders();
      answer.pipe(res);
      answer.on('end', end);
      answer.on('error', () => {
        res.destroy();
        end();
      });
    });
    upstream.on('error', (error) => {
      if (finished) return;
      log(`[${name}] request to the function failed: ${error.message}${proc.alive ? '' : ' (process died)'}`);
      errorBody(res, 500, workerError);
      end();
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
      end();
    });
    req.on('error', () => upstream.destroy());
    req.pipe(upstream);
  });
}
