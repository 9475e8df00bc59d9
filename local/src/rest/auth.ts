import type { IncomingMessage } from 'node:http';
import { type JwtClaims, verifyJwt } from '../jwt.ts';
import { RestError } from './errors.ts';

/** The request's JWT → the role it runs as (PostgREST's Auth.hs): no token is `anon`; a bad one is 401. */

export interface RequestAuth {
  role: string;
  claims: JwtClaims;
  /** PostgREST maps 42501 to 401 for the anonymous role and 403 otherwise. */
  authed: boolean;
}

export function authenticate(req: IncomingMessage, secret: string): RequestAuth {
  const header = req.headers.authorization;
  if (header === undefined) return { role: 'anon', claims: { role: 'anon' }, authed: false };
  const match = /^bearer\s*(.*)$/i.exec(header.trim());
  const token = match ? match[1].trim() : '';
  const decodeError = (message: string) =>
    new RestError(401, 'PGRST301', message, null, null, {
      'www-authenticate': `Bearer error="invalid_token", error_description=${JSON.stringify(message)}`,
    });
  if (!match) return { role: 'anon', claims: { role: 'anon' }, authed: false };
  if (token === '') throw decodeError('Empty JWT is sent in Authorization header');
  const parts = token.split('.').length;
  if (parts !== 3) throw decodeError(`Expected 3 parts in JWT; got ${parts}`);
  const result = verifyJwt(token, secret, { skewSeconds: 30 });
  if (!result.ok) {
    if (result.reason === 'expired') {
      throw new RestError(401, 'PGRST303', 'JWT expired', null, null, {
        'www-authenticate': 'Bearer error="invalid_token", error_description="JWT expired"',
      });
    }
    if (result.reason === 'unsupported_alg') throw decodeError('Wrong or unsupported encoding algorithm');
    if (result.reason === 'malformed') throw decodeError("JWT couldn't be decoded");
    throw decodeError('JWT cryptographic operation failed');
  }
  const claims = result.claims;
  if (claims.exp !== undefined && typeof claims.exp !== 'number') {
    throw new RestError(401, 'PGRST303', "The JWT 'exp' claim must be a number");
  }
  const role = typeof claims.role === 'string' && claims.role !== '' ? claims.role : 'anon';
  return { role, claims, authed: role !== 'anon' };
}
