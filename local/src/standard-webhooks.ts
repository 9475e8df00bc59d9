import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks (https://www.standardwebhooks.com) symmetric signatures:
 * `webhook-signature` holds space-separated `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`
 * entries, where key is the base64-decoded part of the secret after `whsec_`.
 * Reproduces the spec's published test vector (see local/test/webhook-sink/standard-webhooks.test.ts).
 */

export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

export interface VerifyOptions {
  /** Allowed distance between `webhook-timestamp` and now, both ways. Default 300 s, as the reference libraries. */
  toleranceSeconds?: number;
  /** "Now" in Unix seconds (tests). Default: the clock. */
  now?: number;
}

export type VerifyResult =
  | { valid: true; id: string; timestamp: number }
  /** Signature headers present but the request does not verify (reason says why). */
  | { valid: false; reason: string }
  /** None of the three signature headers is present: the request was not signed at all. */
  | { valid: null; reason: string };

export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

/** The HMAC key of a secret given as `whsec_<base64>`, `v1,whsec_<base64>` or bare `<base64>`. */
export function decodeWebhookSecret(secret: string): Buffer {
  let raw = secret.trim();
  if (raw.startsWith('v1,')) raw = raw.slice(3);
  if (raw.startsWith('whsec_')) raw = raw.slice(6);
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(raw))
    throw new Error('webhook secret is not base64 (expected whsec_<base64>)');
  const key = Buffer.from(raw, 'base64');
  if (key.length === 0) throw new Error('webhook secret decodes to an empty key');
  return key;
}

/** `v1,<base64 signature>` for one message, as a sender puts it in `webhook-signature`. */
export function signStandardWebhook(
  secret: string,
  id: string,
  timestamp: number | string,
  body: string | Uint8Array,
): string {
  return `v1,${hmac(decodeWebhookSecret(secret), id, String(timestamp), body).toString('base64')}`;
}

/** The three headers a Standard Webhooks sender adds to a request. */
export function standardWebhookHeaders(
  secret: string,
  id: string,
  timestamp: number,
  body: string | Uint8Array,
): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signStandardWebhook(secret, id, timestamp, body),
  };
}

/**
 * Verifies a request against the secret. `valid` is `null` when the request carries none of
 * `webhook-id`, `webhook-timestamp`, `webhook-signature`; `false` (with a reason) when one is missing,
 * the timestamp is outside the tolerance, or no `v1` signature matches; `true` otherwise.
 */
export function verifyStandardWebhook(
  secret: string,
  headers: HeaderSource,
  body: string | Uint8Array,
  options: VerifyOptions = {},
): VerifyResult {
  const id = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (id === null && timestampText === null && signatures === null) {
    return { valid: null, reason: 'no webhook-id, webhook-timestamp or webhook-signature header' };
  }
  if (id === null || id === '') return { valid: false, reason: 'missing webhook-id header' };
  if (timestampText === null || timestampText === '') {
    return { valid: false, reason: 'missing webhook-timestamp header' };
  }
  if (signatures === null || signatures === '') {
    return { valid: false, reason: 'missing webhook-signature header' };
  }
  if (!/^\d{1,12}$/.test(timestampText)) {
    return { valid: false, reason: 'webhook-timestamp is not an integer number of seconds' };
  }
  const timestamp = Number(timestampText);
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (timestamp < now - tolerance) return { valid: false, reason: 'webhook-timestamp is too old' };
  if (timestamp > now + tolerance) return { valid: false, reason: 'webhook-timestamp is in the future' };

  let key: Buffer;
  try {
    key = decodeWebhookSecret(secret);
  } catch (error) {
    return { valid: false, reason: (error as Error).message };
  }
  const expected = hmac(key, id, timestampText, body);
  for (const entry of signatures.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const given = Buffer.from(entry.slice(comma + 1), 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) {
      return { valid: true, id, timestamp };
    }
  }
  return { valid: false, reason: 'no v1 signature in webhook-signature matches' };
}

function hmac(key: Buffer, id: string, timestamp: string, body: string | Uint8Array): Buffer {
  return createHmac('sha256', key)
    .update(`${id}.${timestamp}.`, 'utf8')
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest();
}

function header(headers: HeaderSource, name: string): string | null {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
  const record = headers as Record<string, string | string[] | undefined>;
  let value = record[name];
  if (value === undefined) {
    const key = Object.keys(record).find((k) => k.toLowerCase() === name);
    value = key === undefined ? undefined : record[key];
  }
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(' ') : value;
}
