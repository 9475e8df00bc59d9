import { createHmac, timingSafeEqual } from 'node:crypto';

/** HS256 JWTs, as Supabase signs its anon key, service-role key and user access tokens. */
export type JwtClaims = Record<string, unknown> & {
  role?: string;
  sub?: string;
  exp?: number;
  iat?: number;
};

export type JwtVerification =
  | { ok: true; claims: JwtClaims }
  | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' | 'unsupported_alg'; message: string };

const base64url = (input: Buffer | string): string => Buffer.from(input).toString('base64url');

export function signJwt(claims: JwtClaims, secret: string): string {
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify(claims));
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

/** Decodes without verifying: only for reading claims of a token already verified elsewhere. */
export function decodeJwt(token: string): JwtClaims | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as JwtClaims;
  } catch {
    return null;
  }
}

/**
 * Verifies signature and expiry. `skewSeconds` mirrors PostgREST's 30 s clock-skew allowance
 * where a caller wants it; Realtime and GoTrue use none.
 */
export function verifyJwt(
  token: string,
  secret: string,
  options: { nowSeconds?: number; skewSeconds?: number } = {},
): JwtVerification {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'malformed', message: 'token is malformed' };
  let header: { alg?: string };
  let claims: JwtClaims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed', message: 'token is malformed' };
  }
  if (header.alg !== 'HS256') {
    return { ok: false, reason: 'unsupported_alg', message: `signing method ${header.alg} is invalid` };
  }
  const expected = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'bad_signature', message: 'signature is invalid' };
  }
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (typeof claims.exp === 'number' && claims.exp + (options.skewSeconds ?? 0) < now) {
    return { ok: false, reason: 'expired', message: `token has expired ${now - claims.exp} seconds ago` };
  }
  return { ok: true, claims };
}
