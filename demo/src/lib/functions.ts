/**
 * Calls of the plugin's admin Edge Functions (`dispatch-preview`, `dispatch-trigger`) through
 * supabase-js, which sends the signed-in user's token: the functions ask the database whether that
 * user is an admin and answer 403 otherwise. Their errors are `{ error: { code, message } }`.
 */
import { FunctionsHttpError } from '@supabase/supabase-js';
import { supabase } from '../supabase.ts';
import { FunctionError, functionError } from './function-error.ts';

export { FunctionError } from './function-error.ts';

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
    throw functionError(fn, response.status, body);
  }
  throw new FunctionError(fn, null, null, `${fn}: ${error.message}`);
}
