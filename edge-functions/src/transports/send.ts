/**
 * What every transport does around one HTTP request: time it, send it through the guarded fetch,
 * classify the answer; and the permanent failures found before any request (no address, a secret
 * not set), named so an admin knows what to fix.
 */
import { type ClassifyOptions, classifyError, classifyResponse } from '../delivery/classify.ts';
import type { SendOutcome, TransportContext } from '../delivery/types.ts';

/** A delivery that cannot be sent as configured; the receipt fails with this message. */
export class NotSendableError extends Error {
  override name = 'NotSendableError';
}

export async function sendRequest(
  context: TransportContext,
  url: string,
  init: RequestInit & { timeoutMs?: number },
  options: ClassifyOptions = {},
): Promise<SendOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const response = await context.fetch(url, init);
    return await classifyResponse(response, elapsed(), options);
  } catch (error) {
    return classifyError(error, elapsed());
  }
}

/** Runs a send; a {@link NotSendableError} thrown while preparing it becomes a permanent failure. */
export async function unlessNotSendable(send: () => Promise<SendOutcome>): Promise<SendOutcome> {
  try {
    return await send();
  } catch (error) {
    if (error instanceof NotSendableError) return { status: 'failed', error: error.message, durationMs: 0 };
    throw error;
  }
}

/** The value of the function secret `name`; not set is a configuration error. */
export function requireSecret(context: TransportContext, name: string, purpose: string): string {
  const value = context.secret(name);
  if (value === undefined || value === '') {
    throw new NotSendableError(`${purpose}: secret ${name} is not set (supabase secrets set ${name}=...)`);
  }
  return value;
}

/** A string setting of the transport, or the default. */
export function setting(context: TransportContext, key: string, fallback: string): string;
export function setting(context: TransportContext, key: string): string | undefined;
export function setting(context: TransportContext, key: string, fallback?: string): string | undefined {
  const value = context.settings[key];
  return typeof value === 'string' && value !== '' ? value : fallback;
}
