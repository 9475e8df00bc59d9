/** PostgREST-shaped errors: `{code, message, details, hint}` plus the HTTP status PostgREST gives. */
export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
    readonly hint: unknown = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): Record<string, unknown> {
    return { code: this.code, details: this.details, hint: this.hint, message: this.message };
  }
}

/** PGRST100: a query parameter PostgREST could not parse. */
export const parseError = (message: string, details: string): RestError =>
  new RestError(400, 'PGRST100', message, details);

export const invalidBody = (message: string): RestError => new RestError(400, 'PGRST102', message);

/** Marks errors where re-reading the schema cache might help (a migration may have just landed). */
export class CacheMissError extends RestError {}

interface PgErrorLike {
  code?: string;
  message: string;
  detail?: string;
  hint?: string;
}

/** PostgREST's SQLSTATE → HTTP mapping (Error.hs mapSQLtoHTTP). `authed` is false for the anon role. */
export function statusForSqlState(code: string, message: string, authed: boolean): number {
  if (code.startsWith('08')) return 503;
  if (code.startsWith('09')) return 500;
  if (code.startsWith('0L') || code.startsWith('0P')) return 403;
  if (code === '23503' || code === '23505') return 409;
  if (code === '25006') return 405;
  if (code === '21000') return message.endsWith('requires a WHERE clause') ? 400 : 500;
  if (code === '22023') return message.startsWith('role') && message.endsWith('does not exist') ? 401 : 400;
  if (/^(25|2D|38|39|3B|40)/.test(code)) return 500;
  if (code.startsWith('28')) return 403;
  if (code === '53400') return 500;
  if (code.startsWith('53')) return 503;
  if (/^(54|55)/.test(code)) return 500;
  if (code === '57P01') return 503;
  if (/^(57|58|F0|HV|XX)/.test(code)) return 500;
  if (code === 'P0001') return 400;
  if (code.startsWith('P0')) return 500;
  if (code === '42883') return message.startsWith('function xmlagg(') ? 406 : 404;
  if (code === '42P01') return 404;
  if (code === '42P17') return 500;
  if (code === '42501') return authed ? 403 : 401;
  if (code.startsWith('PT')) {
    const n = Number(code.slice(2));
    return Number.isInteger(n) && n >= 100 && n <= 599 ? n : 500;
  }
  return 400;
}

/** Converts an error thrown by node-postgres into the PostgREST error response. */
export function fromPgError(error: PgErrorLike, authed: boolean): RestError {
  const code = error.code ?? 'XX000';
  if (code === 'PGRST') {
    // RAISE SQLSTATE 'PGRST' USING MESSAGE = '{"code":..,"message":..}', DETAIL = '{"status":..,"headers":{}}'
    try {
      const msg = JSON.parse(error.message) as Record<string, unknown>;
      const det = JSON.parse(error.detail ?? '') as { status: number; headers?: Record<string, string> };
      return new RestError(
        det.status,
        String(msg.code),
        String(msg.message),
        msg.details ?? null,
        msg.hint ?? null,
        det.headers ?? {},
      );
    } catch {
      return new RestError(500, 'PGRST121', 'Could not parse JSON in the "RAISE SQLSTATE \'PGRST\'" error');
    }
  }
  const status = statusForSqlState(code, error.message, authed);
  return new RestError(
    status,
    code,
    error.message,
    error.detail ?? null,
    error.hint ?? null,
    status === 401 ? { 'www-authenticate': 'Bearer' } : {},
  );
}
