/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): `webhook-signature` is
 * `v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>`, the key being the
 * base64 after `whsec_` in the secret. WebCrypto only, so it runs in Deno and Node alike.
 */

/** The HMAC key of `whsec_<base64>` (also accepted: `v1,whsec_<base64>` and bare base64). */
export function webhookSecretKey(secret: string): Uint8Array {
  let raw = secret.trim();
  if (raw.startsWith('v1,')) raw = raw.slice(3);
  if (raw.startsWith('whsec_')) raw = raw.slice(6);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw)) {
    throw new Error('webhook signing secret is not base64 (expected whsec_<base64>)');
  }
  const binary = atob(raw);
  if (binary.length === 0) throw new Error('webhook signing secret decodes to an empty key');
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/**
 * Imported HMAC keys by secret: importing is most of a signature's cost and a worker signs every
 * request with one or two secrets, so each is imported once per isolate (bounded: a changed secret
 * means a new isolate on hosted Supabase, but tests and previews may use many).
 */
const keys = new Map<string, Promise<CryptoKey>>();
const MAX_KEYS = 16;
const encoder = new TextEncoder();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (key) return key;
  const raw = webhookSecretKey(secret); // throws at once on a malformed secret, nothing cached
  key = crypto.subtle.importKey('raw', raw as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value as string);
  keys.set(secret, key);
  key.catch(() => keys.delete(secret));
  return key;
}

/** `v1,<base64 signature>` of one message. */
export async function signWebhook(
  secret: string,
  id: string,
  timestamp: number,
  body: string,
): Promise<string> {
  const key = await hmacKey(secret);
  const signed = encoder.encode(`${id}.${timestamp}.${body}`);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, signed));
  return `v1,${btoa(String.fromCharCode(...mac))}`;
}

/** The three headers of a signed request. */
export async function webhookHeaders(
  secret: string,
  id: string,
  timestamp: number,
  body: string,
): Promise<Record<string, string>> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': await signWebhook(secret, id, timestamp, body),
  };
}
