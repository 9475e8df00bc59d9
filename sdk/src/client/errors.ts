/**
 * The one error type of the client core. RPC failures arrive as PostgREST errors
 * (`{ code, message, details, hint }` with an HTTP status) or as a request that never reached the
 * server; {@link toDispatchError} sorts them into a few codes an app can act on, keeping the original.
 */

/**
 * What went wrong, for an app to branch on:
 * - `not_signed_in`: no user session (the RPCs are for signed-in users only);
 * - `forbidden`: signed in, but not allowed (admin-only RPCs);
 * - `invalid_argument`: the RPC rejected an argument (SQLSTATE class 22, e.g. an unknown event);
 * - `not_installed`: the RPC does not exist (the supadispatch migration is not applied);
 * - `network`: the request did not reach the server or got no answer;
 * - `unknown`: anything else.
 */
export type DispatchErrorCode =
  | 'not_signed_in'
  | 'forbidden'
  | 'invalid_argument'
  | 'not_installed'
  | 'network'
  | 'unknown';

/** Details of a failed call, as PostgREST reported them. */
export interface DispatchErrorDetails {
  /** The RPC that failed, e.g. `dispatch_mark_read`. */
  fn: string;
  /** SQLSTATE or PostgREST code (`42501`, `22023`, `PGRST202`), when there is one. */
  pgCode?: string;
  /** HTTP status; 0 when the request never reached the server. */
  status?: number;
  details?: string;
  hint?: string;
  /** The error as it was received (a `PostgrestError`, a thrown exception). */
  cause?: unknown;
}

/** A failed supadispatch call. `message` is the server's (e.g. `dispatch: unknown event x`). */
export class DispatchError extends Error {
  override readonly name = 'DispatchError';
  readonly code: DispatchErrorCode;
  readonly fn: string;
  readonly pgCode: string | undefined;
  readonly status: number | undefined;
  readonly details: string | undefined;
  readonly hint: string | undefined;

  constructor(code: DispatchErrorCode, message: string, details: DispatchErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.fn = details.fn;
    this.pgCode = details.pgCode;
    this.status = details.status;
    this.details = details.details;
    this.hint = details.hint;
  }
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function codeOf(pgCode: string | undefined, status: number | undefined, message: string): DispatchErrorCode {
  if (status === 0) return 'network';
  // 42501 is both "dispatch: not signed in" and PostgREST's "permission denied" (401 for anon).
  if (pgCode === '42501')
    return status === 401 || message.startsWith('dispatch: not signed in') ? 'not_signed_in' : 'forbidden';
  if (pgCode?.startsWith('PGRST3') || status === 401) return 'not_signed_in'; // JWT missing, invalid, expired
  if (pgCode?.startsWith('22')) return 'invalid_argument';
  if (pgCode === 'PGRST202' || pgCode === '42883') return 'not_installed';
  if (status === 403) return 'forbidden';
  return 'unknown';
}

/**
 * A {@link DispatchError} from what an RPC call gave back: the `error` of its response (with the
 * response's HTTP `status`) or an exception it threw.
 */
export function toDispatchError(fn: string, error: unknown, status?: number): DispatchError {
  if (error instanceof DispatchError) return error;
  if (error && typeof error === 'object') {
    const e = error as Record<string, unknown>;
    const message = text(e.message) ?? `${fn} failed`;
    const pgCode = text(e.code);
    return new DispatchError(codeOf(pgCode, status, message), message, {
      fn,
      pgCode,
      status,
      details: text(e.details),
      hint: text(e.hint),
      cause: error,
    });
  }
  const message = text(error) ?? `${fn} failed`;
  return new DispatchError(codeOf(undefined, status, message), message, { fn, status, cause: error });
}
