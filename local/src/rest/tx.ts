import type pg from 'pg';
import { actAs } from '../db/act-as.ts';
import type { RestContext } from './context.ts';
import { ident } from './query/fragment.ts';
import type { ApiRequest } from './request.ts';

/**
 * The role/claims transaction (PostgREST's Query.hs): each request is one transaction as the JWT's
 * role, with `request.jwt.claims` (and the legacy `request.jwt.claim.sub/role/email/aud`),
 * `request.method`, `request.path`, `request.headers`, `request.cookies`, `search_path`, and the
 * role's own `alter role … set` values, all transaction-local, so RLS is Postgres's. The pool is
 * `authenticator`'s, so a role it may not become fails with 42501.
 */
export function requestTransaction<T>(
  rest: RestContext,
  request: ApiRequest,
  readOnly: boolean,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const searchPath = [request.schema, ...rest.api.extraSearchPath.filter((s) => s !== request.schema)]
    .map(ident)
    .join(', ');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.headers)) {
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  const cookies: Record<string, string> = {};
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) cookies[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  const { role, claims } = request.auth;
  const claimText = (v: unknown) => (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));
  return actAs(
    rest.db(),
    {
      role,
      claims: { ...claims, role },
      claim: { sub: claimText(claims.sub), role, email: claimText(claims.email), aud: claimText(claims.aud) },
      settings: {
        search_path: searchPath,
        'request.method': request.method,
        'request.path': request.path,
        'request.headers': JSON.stringify(headers),
        'request.cookies': JSON.stringify(cookies),
      },
      roleSettings: rest.schemaCache.current?.roleSettings.get(role),
    },
    fn,
    { readOnly },
  );
}
