import type { ServerResponse } from 'node:http';
import { fromPgError, RestError } from './errors.ts';
import type { ApiRequest } from './request.ts';

/** How replies leave the service (PostgREST's Response.hs): status, Content-Range, CSV, errors. */

export interface Reply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  contentType?: string;
}

const jsonType = 'application/json; charset=utf-8';
export const csvContentType = 'text/csv; charset=utf-8';

export function contentRange(lower: number, count: number, total: number | null): string {
  const totalText = total === null ? '*' : String(total);
  if (count <= 0) return `*/${totalText}`;
  return `${lower}-${lower + count - 1}/${totalText}`;
}

/** `Accept: application/vnd.pgrst.object+json` with other than one row. */
export function singularityError(n: number): RestError {
  return new RestError(
    406,
    'PGRST116',
    'Cannot coerce the result to a single JSON object',
    `The result contains ${n} rows`,
  );
}

function toCsv(jsonText: string): string {
  const rows = JSON.parse(jsonText) as Record<string, unknown>[];
  if (rows.length === 0) return '';
  const keys = Object.keys(rows[0]);
  const cell = (v: unknown): string => {
    if (v === null || v === undefined) return '';
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [keys.map(cell).join(','), ...rows.map((r) => keys.map((k) => cell(r[k])).join(','))].join('\n');
}

/** A handler's reply as the client gets it: CSV when asked for, and `Preference-Applied`. */
export function finishReply(request: ApiRequest, handled: Reply): Reply {
  let reply = handled;
  // Table reads render CSV in SQL (read.ts); the rest (RPC, writes' representation) from their JSON.
  if (
    reply.body !== undefined &&
    request.accept.csv &&
    reply.contentType === undefined &&
    reply.body.startsWith('[')
  ) {
    reply = { ...reply, body: toCsv(reply.body), contentType: csvContentType };
  }
  const applied = ['return', 'count', 'resolution', 'missing']
    .filter((k) => request.prefer.has(k))
    .map((k) => `${k}=${request.prefer.get(k)}`);
  if (applied.length > 0) reply.headers = { ...reply.headers, 'preference-applied': applied.join(', ') };
  return reply;
}

/**
 * A thrown error as PostgREST answers it: RestErrors as they are, Postgres errors through the
 * SQLSTATE mapping (`authed`: 42501 is 401 for anon, 403 otherwise), anything else a logged 500.
 */
export function errorReply(error: unknown, authed: boolean, logUnexpected: (error: unknown) => void): Reply {
  let restError: RestError;
  if (error instanceof RestError) restError = error;
  else if (error && typeof error === 'object' && 'code' in error && 'severity' in error) {
    restError = fromPgError(error as unknown as { code: string; message: string }, authed);
  } else {
    logUnexpected(error);
    restError = new RestError(500, 'PGRSTX00', (error as Error)?.message ?? 'internal error');
  }
  return {
    status: restError.status,
    body: JSON.stringify(restError.body()),
    headers: { ...restError.headers, 'proxy-status': `PostgREST; error=${restError.code}` },
  };
}

export function sendReply(res: ServerResponse, method: string, reply: Reply): void {
  const headers: Record<string, string> = { ...reply.headers };
  if (reply.body !== undefined) headers['content-type'] = reply.contentType ?? jsonType;
  const payload = reply.body ?? '';
  headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(reply.status, headers);
  res.end(method === 'HEAD' ? undefined : payload);
}
