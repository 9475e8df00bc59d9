/**
 * Calls of the plugin's admin Edge Functions (`dispatch-preview`, `dispatch-trigger`) through
 * supabase-js, which sends the signed-in user's token: the functions ask the database whether that
 * user is an admin and answer 403 otherwise. Their errors are `{ error: { code, message } }`.
 */
import { FunctionsHttpError } from '@supabase/supabase-js';
import { supabase } from '../supabase.ts';

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

/** The message of a function's error body, or a fallback naming the status. */
export function functionErrorMessage(fn: string, status: number | null, body: unknown): FunctionError {
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

/** Calls function `fn`; resolves to its JSON answer, or throws a {@link FunctionError}. */
export async function callFunction<T>(
  fn: 'dispatch-preview' | 'dispatch-trigger',
  options: { method?: 'GET' | 'POST'; body?: Record<string, unknown> } = {},
): Promise<T> {
  const { data, error } = await supabase.functions.invoke(fn, {
    method: options.method ?? 'POST',
    ...(options.body ? { body: options.body } : {}),
  });
  if (!error) return data as T;
  if (error instanceof FunctionsHttpError) {
    const response = error.context as Response;
    const body = await response.json().catch(() => null);
    throw functionErrorMessage(fn, response.status, body);
  }
  throw new FunctionError(fn, null, null, `${fn}: ${error.message}`);
}
