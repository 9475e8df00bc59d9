/**
 * What a send came to, from the HTTP response (or the error instead of one): sent, retry later, or
 * failed for good. The rules (issue 17, like Svix's): 2xx is sent; 408, 409, 425, 429 and 5xx retry,
 * honouring `Retry-After`; other 4xx (410 included) and 3xx that were not followed are permanent;
 * network errors and timeouts retry; requests the SSRF guard refuses are permanent.
 */
import { RefusedUrlError } from './ssrf.ts';
import type { SendOutcome } from './types.ts';

/** 4xx that mean "not now" rather than "never". */
const RETRYABLE_4XX = new Set([408, 409, 425, 429]);
const EXCERPT_CHARS = 200;
/** A 2xx body is kept on the outcome (for the receipt) only up to this size. */
const MAX_KEPT_BODY_CHARS = 4096;

export interface ClassifyOptions {
  /** The provider's message id from a 2xx body (e.g. Resend's `id`, Twilio's `sid`). */
  messageId?: (body: unknown) => string | undefined;
  /** "Now" in ms since the epoch, for `Retry-After` dates (tests). */
  now?: number;
}

/** Reads the response body (always, so the connection is released) and classifies it. */
export async function classifyResponse(
  response: Response,
  durationMs: number,
  options: ClassifyOptions = {},
): Promise<SendOutcome> {
  const text = await response.text().catch(() => '');
  const status = response.status;
  if (status >= 200 && status < 300) {
    const body = parseJson(text);
    const providerMessageId = body === undefined ? undefined : options.messageId?.(body);
    return {
      status: 'sent',
      httpStatus: status,
      durationMs,
      ...(providerMessageId ? { providerMessageId } : {}),
      ...(body !== undefined && text.length <= MAX_KEPT_BODY_CHARS ? { response: body } : {}),
    };
  }
  const error = describeStatus(response, text);
  if (isRetryableStatus(status)) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), options.now ?? Date.now());
    return {
      status: 'retry',
      error,
      httpStatus: status,
      durationMs,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }
  return { status: 'failed', error, httpStatus: status, durationMs };
}

/** A send that threw before any response: the guard's refusals are permanent, the rest retry. */
export function classifyError(error: unknown, durationMs: number): SendOutcome {
  if (error instanceof RefusedUrlError) return { status: 'failed', error: error.message, durationMs };
  const name = (error as { name?: string } | null)?.name;
  if (name === 'TimeoutError')
    return { status: 'retry', error: `timed out after ${durationMs} ms`, durationMs };
  const message = error instanceof Error ? error.message : String(error);
  return { status: 'retry', error: `network error: ${message}`, durationMs };
}

export function isRetryableStatus(status: number): boolean {
  return status >= 500 || RETRYABLE_4XX.has(status);
}

/**
 * `Retry-After` as milliseconds from now: delay-seconds (`120`) or an HTTP date
 * (`Wed, 21 Oct 2015 07:28:00 GMT`; a date in the past is 0). Anything else is ignored.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** `HTTP 503 Service Unavailable: <start of the body>`. */
function describeStatus(response: Response, body: string): string {
  const head = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  const excerpt = body.replace(/\s+/g, ' ').trim();
  if (excerpt === '') return head;
  return `${head}: ${excerpt.length > EXCERPT_CHARS ? `${excerpt.slice(0, EXCERPT_CHARS)}…` : excerpt}`;
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text.length <= MAX_KEPT_BODY_CHARS ? text : undefined;
  }
}
