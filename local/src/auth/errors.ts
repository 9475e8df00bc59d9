import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../http.ts';

/**
 * GoTrue's error responses (supabase/auth internal/api/errors.go): clients that send
 * `X-Supabase-Api-Version: 2024-01-01` (auth-js does) get `{code, message}` and the version header
 * echoed; others get the legacy `{code: <status>, error_code, msg}`. `x-sb-error-code` is set on both.
 */
export class AuthError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Password strength failure: 422 `weak_password` with `weak_password.reasons`. */
export class WeakPasswordError extends Error {
  constructor(
    message: string,
    readonly reasons: string[],
  ) {
    super(message);
  }
}

/** OAuth-style error (`{error, error_description}`), e.g. a refresh without a token. */
export class OAuthError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status = 400,
  ) {
    super(description);
  }
}

export const badRequest = (code: string, message: string) => new AuthError(400, code, message);
export const unauthorized = (code: string, message: string) => new AuthError(401, code, message);
export const forbidden = (code: string, message: string) => new AuthError(403, code, message);
export const notFound = (code: string, message: string) => new AuthError(404, code, message);
export const unprocessable = (code: string, message: string) => new AuthError(422, code, message);
export const internal = (message: string) => new AuthError(500, 'unexpected_failure', message);

const apiVersion20240101 = Date.UTC(2024, 0, 1);

/** The API version the request asked for: '2024-01-01' when it names that date or later, else null. */
export function requestApiVersion(req: IncomingMessage): string | null {
  const raw = req.headers['x-supabase-api-version'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value || !/^\d{4}-\d{2}-\d{2}$/.test(value.trim())) return null;
  const time = Date.parse(`${value.trim()}T00:00:00Z`);
  return Number.isFinite(time) && time >= apiVersion20240101 ? '2024-01-01' : null;
}

export function sendAuthError(
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  log: (message: string, extra?: unknown) => void,
): void {
  const version = requestApiVersion(req);
  const headers: Record<string, string> = {};
  if (version) headers['x-supabase-api-version'] = version;
  if (error instanceof WeakPasswordError) {
    const payload = { reasons: error.reasons };
    if (version) {
      sendJson(res, 422, { code: 'weak_password', message: error.message, weak_password: payload }, headers);
    } else {
      headers['x-sb-error-code'] = 'weak_password';
      sendJson(
        res,
        422,
        { code: 422, error_code: 'weak_password', msg: error.message, weak_password: payload },
        headers,
      );
    }
    return;
  }
  if (error instanceof OAuthError) {
    sendJson(res, error.status, { error: error.error, error_description: error.description }, headers);
    return;
  }
  let authError: AuthError;
  if (error instanceof AuthError) {
    authError = error;
  } else {
    log('unexpected error', error);
    authError = new AuthError(500, 'unexpected_failure', 'Unexpected failure, please check server logs');
  }
  const code = authError.code || (authError.status === 500 ? 'unexpected_failure' : 'unknown');
  headers['x-sb-error-code'] = code;
  if (version) {
    sendJson(res, authError.status, { code, message: authError.message }, headers);
  } else {
    sendJson(
      res,
      authError.status,
      { code: authError.status, error_code: code, msg: authError.message },
      headers,
    );
  }
}
