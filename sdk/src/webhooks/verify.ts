/**
 * `verifyWebhook()`: checks a Standard Webhooks request (https://www.standardwebhooks.com), as
 * supadispatch's webhook transport sends them, before a receiver trusts it. The three headers must
 * be present, `webhook-timestamp` within the tolerance of now (both ways: replays and clocks far
 * off), and one `v1,` entry of `webhook-signature` must be the HMAC-SHA256 of
 * `<webhook-id>.<webhook-timestamp>.<raw body>` with the secret (`whsec_<base64>`; several secrets
 * while rotating). Signatures are compared in constant time.
 *
 * It never throws: like the client core it resolves to `{ data, error }`, `error` being a
 * {@link WebhookVerificationError} whose `code` says what failed. Pass the raw body, before any
 * JSON parsing: parsing and serialising again changes the signed bytes.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type WebhookVerificationErrorCode =
  /** webhook-id, webhook-timestamp or webhook-signature is absent (`header` names it). */
  | 'missing_header'
  /** webhook-timestamp is not whole Unix seconds. */
  | 'invalid_timestamp'
  /** webhook-timestamp is older than the tolerance allows (a replay, or a very late retry). */
  | 'timestamp_too_old'
  /** webhook-timestamp is further in the future than the tolerance allows. */
  | 'timestamp_too_new'
  /** No v1 signature matches any of the secrets. */
  | 'invalid_signature'
  /** A secret is not `whsec_<base64>` (or bare base64). */
  | 'invalid_secret'
  /** The body is not a string or bytes, or (once verified) not JSON. */
  | 'invalid_payload';

export class WebhookVerificationError extends Error {
  override name = 'WebhookVerificationError';
  constructor(
    readonly code: WebhookVerificationErrorCode,
    message: string,
    /** The header at fault, for `missing_header` and the timestamp codes. */
    readonly header?: 'webhook-id' | 'webhook-timestamp' | 'webhook-signature',
  ) {
    super(message);
  }
}

/** The body supadispatch's webhook transport sends: the event id, when it occurred, its payload. */
export interface DispatchWebhookPayload<D = unknown> {
  type: string;
  /** ISO 8601: when the event occurred. */
  timestamp: string;
  data: D;
}

export interface VerifiedWebhook<P = DispatchWebhookPayload> {
  /** `webhook-id`: the same on every retry of one delivery; drop ids already handled. */
  id: string;
  /** `webhook-timestamp`: when this attempt was sent (Unix seconds). */
  timestamp: number;
  /** The parsed body. */
  payload: P;
}

export type VerifyWebhookResult<P = DispatchWebhookPayload> =
  | { data: VerifiedWebhook<P>; error: null }
  | { data: null; error: WebhookVerificationError };

export interface VerifyWebhookOptions {
  /** Allowed distance of `webhook-timestamp` from now, both ways. Default 300 s, as the reference libraries. */
  toleranceSeconds?: number;
  /** "Now" (tests): a Date, or Unix seconds. Default: the clock. */
  now?: Date | number;
}

export type WebhookHeaders =
  | Headers
  | { get(name: string): string | null }
  | Record<string, string | string[] | undefined>;

export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;

/**
 * Verifies a webhook request.
 *
 * ```ts
 * import { verifyWebhook } from 'supadispatch/webhooks';
 * const { data, error } = verifyWebhook(rawBody, req.headers, process.env.DISPATCH_WEBHOOK_SECRET!);
 * if (error) return res.status(401).end(error.message);
 * if (await alreadyHandled(data.id)) return res.status(200).end();
 * handle(data.payload.type, data.payload.data);
 * ```
 */
export function verifyWebhook<P = DispatchWebhookPayload>(
  payload: string | Uint8Array,
  headers: WebhookHeaders,
  secret: string | readonly string[],
  options: VerifyWebhookOptions = {},
): VerifyWebhookResult<P> {
  const fail = (error: WebhookVerificationError): VerifyWebhookResult<P> => ({ data: null, error });
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
    return fail(
      new WebhookVerificationError(
        'invalid_payload',
        'pass the raw request body (a string or bytes), not parsed JSON',
      ),
    );
  }
  const id = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  for (const [name, value] of [
    ['webhook-id', id],
    ['webhook-timestamp', timestampText],
    ['webhook-signature', signatures],
  ] as const) {
    if (!value) return fail(new WebhookVerificationError('missing_header', `missing ${name} header`, name));
  }
  if (!/^\d{1,15}$/.test(timestampText!)) {
    return fail(
      new WebhookVerificationError(
        'invalid_timestamp',
        'webhook-timestamp is not Unix seconds',
        'webhook-timestamp',
      ),
    );
  }
  const timestamp = Number(timestampText);
  const now =
    options.now instanceof Date
      ? Math.floor(options.now.getTime() / 1000)
      : (options.now ?? Math.floor(Date.now() / 1000));
  const tolerance = options.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
  if (timestamp < now - tolerance) {
    return fail(
      new WebhookVerificationError(
        'timestamp_too_old',
        `webhook-timestamp is ${now - timestamp} s old (tolerance ${tolerance} s)`,
        'webhook-timestamp',
      ),
    );
  }
  if (timestamp > now + tolerance) {
    return fail(
      new WebhookVerificationError(
        'timestamp_too_new',
        `webhook-timestamp is ${timestamp - now} s in the future (tolerance ${tolerance} s)`,
        'webhook-timestamp',
      ),
    );
  }

  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  const given = signatures!
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => Buffer.from(entry.slice(3), 'base64'));
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0)
    return fail(new WebhookVerificationError('invalid_secret', 'no webhook secret given'));
  let matched = false;
  for (const one of secrets) {
    const key = secretKey(one);
    if (key === null) {
      return fail(
        new WebhookVerificationError(
          'invalid_secret',
          'the webhook secret is not whsec_<base64> (or bare base64)',
        ),
      );
    }
    const expected = createHmac('sha256', key)
      .update(`${id}.${timestampText}.`, 'utf8')
      .update(body)
      .digest();
    // Every entry is compared, whatever matched first, so the time taken reveals nothing.
    for (const signature of given) {
      if (signature.length === expected.length && timingSafeEqual(signature, expected)) matched = true;
    }
  }
  if (!matched) {
    return fail(
      new WebhookVerificationError(
        'invalid_signature',
        'no v1 signature in webhook-signature matches',
        'webhook-signature',
      ),
    );
  }
  try {
    return { data: { id: id!, timestamp, payload: JSON.parse(body.toString('utf8')) as P }, error: null };
  } catch {
    return fail(new WebhookVerificationError('invalid_payload', 'the signed body is not JSON'));
  }
}

function secretKey(secret: string): Buffer | null {
  const raw = secret.trim().startsWith('whsec_') ? secret.trim().slice('whsec_'.length) : secret.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw)) return null;
  const key = Buffer.from(raw, 'base64');
  return key.length > 0 ? key : null;
}

function header(headers: WebhookHeaders, name: string): string | null {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name);
  }
  const record = headers as Record<string, string | string[] | undefined>;
  const key = name in record ? name : Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  if (value === undefined) return null;
  // Node joins repeated headers; several webhook-signature lines are several entries.
  return Array.isArray(value) ? value.join(' ') : value;
}
