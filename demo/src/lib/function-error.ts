/** A refusal or failure of an Edge Function, said so that a user knows what happened. */

/** A function's refusal or failure, with its HTTP status and the function's error code. */
export class FunctionError extends Error {
  constructor(
    readonly fn: string,
    readonly status: number | null,
    readonly code: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'FunctionError';
  }
}

/** The error of a function's answer: what the refusal means for the user, with the function's own message. */
export function functionError(fn: string, status: number | null, body: unknown): FunctionError {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof error?.code === 'string' ? error.code : null;
  const detail = typeof error?.message === 'string' ? error.message : null;
  const what =
    status === 403
      ? `${fn}: refused by the server, admins only${detail && detail !== 'admins only' ? ` (${detail})` : ''}`
      : status === 401
        ? `${fn}: sign in first${detail ? ` (${detail})` : ''}`
        : `${fn}: ${detail ?? `failed with HTTP ${status ?? 'error'}`}`;
  return new FunctionError(fn, status, code, what);
}
