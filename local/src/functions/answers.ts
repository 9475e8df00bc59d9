import type { ServerResponse } from 'node:http';

/**
 * The error answers of the CLI's edge-runtime main worker (supabase/cli
 * internal/functions/serve/templates/main.ts), word for word: see the table in README.md.
 * A response already under way cannot change its status, so it is cut off instead.
 */
export function errorBody(
  res: ServerResponse,
  status: number,
  body: unknown,
  extraHeaders: Record<string, string> = {},
) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain;charset=UTF-8' : 'application/json',
    'content-length': Buffer.byteLength(text),
    ...extraHeaders,
  });
  res.end(text);
}

export const bootError = { code: 'BOOT_ERROR', message: 'Worker failed to boot (please check logs)' };
export const workerError = {
  code: 'WORKER_ERROR',
  message: 'Function exited due to an error (please check logs)',
};
export const workerLimit = {
  code: 'WORKER_LIMIT',
  message: 'Worker failed to respond due to a resource limit (please check logs)',
};
export const internalError = {
  code: 'Internal Server Error',
  message: 'Request failed due to an internal server error',
};
