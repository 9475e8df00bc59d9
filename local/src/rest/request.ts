import type { IncomingMessage } from 'node:http';
import { HttpError, readBody } from '../http.ts';
import { authenticate, type RequestAuth } from './auth.ts';
import { invalidBody, RestError } from './errors.ts';

/**
 * An HTTP request read the way PostgREST's ApiRequest does: the role from the JWT, the schema from
 * Accept-Profile/Content-Profile, the `Prefer` and `Accept` headers, and the JSON body. Query
 * parameters stay raw here; read, write and rpc parse those they use (parse/).
 */

export interface ApiRequest {
  method: string;
  /** The path below /rest/v1, e.g. `/todos` or `/rpc/fn`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  prefer: Map<string, string>;
  /** The exposed schema the request is for. */
  schema: string;
  auth: RequestAuth;
  accept: { single: boolean; stripNulls: boolean; csv: boolean };
  /** The JSON body of POST, PATCH and PUT (undefined when empty or for other methods). */
  body: unknown;
  /** When the request arrived: a schema cache loaded since then is fresh enough to retry a miss. */
  started: number;
}

export async function readRequest(
  req: IncomingMessage,
  path: string,
  options: { method: string; started: number; schemas: string[]; jwtSecret: string },
): Promise<ApiRequest> {
  const { method, schemas } = options;
  const url = new URL(req.url ?? '/', 'http://rest');
  const auth = authenticate(req, options.jwtSecret);
  const profileHeader = (
    method === 'GET' || method === 'HEAD' ? req.headers['accept-profile'] : req.headers['content-profile']
  ) as string | undefined;
  const schema = profileHeader ?? schemas[0] ?? 'public';
  if (!schemas.includes(schema)) {
    throw new RestError(
      406,
      'PGRST106',
      `Invalid schema: ${schema}`,
      null,
      `Only the following schemas are exposed: ${schemas.join(', ')}`,
    );
  }
  const prefer = parsePrefer(req.headers.prefer);
  if (prefer.get('handling') === 'strict') checkStrictPreferences(prefer);
  const accept = parseAccept(req.headers.accept);
  const needsBody = method === 'POST' || method === 'PATCH' || method === 'PUT';
  return {
    method,
    path: path || '/',
    query: url.searchParams,
    headers: req.headers,
    prefer,
    schema,
    auth,
    accept,
    body: needsBody ? await readBodyJson(req) : undefined,
    started: options.started,
  };
}

/** The `Prefer` header(s): `return=…, count=exact` → map. */
export function parsePrefer(headers: string | string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  const list = Array.isArray(headers) ? headers : headers ? [headers] : [];
  for (const header of list) {
    for (const part of header.split(',')) {
      const [k, ...v] = part.trim().split('=');
      if (k) out.set(k.trim().toLowerCase(), v.join('=').trim());
    }
  }
  return out;
}

/** `handling=strict`: a preference PostgREST does not know, or a value it does not take, is PGRST122. */
function checkStrictPreferences(prefer: Map<string, string>): void {
  const valid: Record<string, (v: string) => boolean> = {
    return: (v) => ['minimal', 'representation', 'headers-only'].includes(v),
    count: (v) => ['exact', 'planned', 'estimated'].includes(v),
    resolution: (v) => ['merge-duplicates', 'ignore-duplicates'].includes(v),
    missing: (v) => ['default', 'null'].includes(v),
    handling: (v) => ['strict', 'lenient'].includes(v),
    tx: (v) => ['commit', 'rollback'].includes(v),
    'max-affected': (v) => /^\d+$/.test(v),
    timezone: () => true,
  };
  const invalid = [...prefer].filter(([k, v]) => !valid[k]?.(v)).map(([k, v]) => (v ? `${k}=${v}` : k));
  if (invalid.length > 0) {
    throw new RestError(
      400,
      'PGRST122',
      'Invalid preferences given with handling=strict',
      `Invalid preferences: ${invalid.join(', ')}`,
    );
  }
}

/** `Prefer: count=…`: whether the reply carries a total. */
export function countWanted(request: ApiRequest): boolean {
  const count = request.prefer.get('count');
  return count === 'exact' || count === 'planned' || count === 'estimated';
}

function parseAccept(header: string | undefined): ApiRequest['accept'] {
  const accept = { single: false, stripNulls: false, csv: false };
  if (!header) return accept;
  const types = header.split(',').map((t) => t.trim().toLowerCase());
  for (const type of types) {
    const [base, ...params] = type.split(';').map((p) => p.trim());
    const stripped = params.includes('nulls=stripped');
    if (base === 'application/vnd.pgrst.object+json' || base === 'application/vnd.pgrst.object') {
      return { single: true, stripNulls: stripped, csv: false };
    }
    if (base === 'text/csv') return { single: false, stripNulls: false, csv: true };
    if (
      [
        'application/json',
        'application/vnd.pgrst.array+json',
        'application/vnd.pgrst.array',
        '*/*',
        'application/*',
      ].includes(base)
    ) {
      return { single: false, stripNulls: stripped, csv: false };
    }
  }
  throw new RestError(406, 'PGRST107', `None of these media types are available: ${types.join(', ')}`);
}

async function readBodyJson(req: IncomingMessage): Promise<unknown> {
  const raw = await readBody(req).catch((error: unknown) => {
    if (error instanceof HttpError) throw new RestError(error.status, 'PGRST102', error.message);
    throw error;
  });
  const text = raw.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw invalidBody('Empty or invalid json');
  }
}
