/**
 * `dispatch-auth-email`: the Supabase Auth "Send Email" hook. Auth emails go through the same
 * events, receipts, templates and retries as every other email:
 * 1. the request's Standard Webhooks signature is checked against SEND_EMAIL_HOOK_SECRET (the
 *    `v1,whsec_...` value given to Auth; several may be `|`-separated); anything else gets 401 and
 *    nothing is sent;
 * 2. `email_action_type` names the event (`auth.signup`, `auth.password_reset`, `auth.magic_link`,
 *    `auth.invite`, `auth.email_change`, `auth.reauthentication`; modules/auth.ts), which the config
 *    may restyle;
 * 3. per address (two for a secure email change) one occurrence and one email receipt are created in
 *    SQL (`dispatch.auth_email_receipt`); the verify link and the code travel sealed in the occurrence
 *    and are opened by the worker when it renders the receipt: the email carries the working link, the
 *    stored receipt shows it `[redacted]`, the occurrence only ciphertext.
 * Deploy with `--no-verify-jwt` (Auth signs the request; it sends no user JWT).
 */

import { Buffer } from 'node:buffer';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { defaultDb } from './admin.ts';
import type { WorkerDb } from './delivery/db.ts';
import { json, MAX_BODY_BYTES, readBodyText } from './http.ts';
import { AUTH_EVENTS, HOOK_SECRET_ENV } from './modules/auth.ts';
import { resolveEvent } from './modules/events.ts';
import { seal } from './modules/seal.ts';
import type { Registry } from './registry.ts';

export interface AuthEmailOptions {
  /** Default: the SEND_EMAIL_HOOK_SECRET environment variable. */
  secret?: string;
  db?: WorkerDb;
  /** Base of the verify link (default: `<SUPABASE_URL>/auth/v1`). */
  authUrl?: string;
  /** "Now" in Unix seconds (tests). */
  now?: () => number;
}

const TOLERANCE_SECONDS = 5 * 60;

interface HookPayload {
  user?: { id?: string; email?: string; new_email?: string; user_metadata?: unknown; app_metadata?: unknown };
  email_data?: Record<string, string | undefined>;
}

export function serve(
  registry: Registry,
  options: AuthEmailOptions = {},
): (req: Request) => Promise<Response> {
  return async (req) => {
    const secret = options.secret ?? Deno.env.get(HOOK_SECRET_ENV) ?? '';
    if (secret === '') {
      return hookError(
        500,
        `${HOOK_SECRET_ENV} is not set: set it to the hook secret given to Supabase Auth (v1,whsec_...)`,
      );
    }
    if (req.method !== 'POST') return hookError(405, `method ${req.method}: use POST`);
    const read = await readBodyText(req);
    if ('response' in read) return hookError(413, `request body: larger than ${MAX_BODY_BYTES} bytes`);
    const body = read.text;
    const verified = verifySignature(
      secret,
      req.headers,
      body,
      options.now?.() ?? Math.floor(Date.now() / 1000),
    );
    if (verified !== null) return hookError(401, `invalid hook signature: ${verified}`);

    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return hookError(400, 'request body: not JSON');
    }
    // A signed payload is still checked for shape: anything but the documented strings is a 400,
    // never a crash (the attack suite sends null, arrays, numbers where strings belong).
    if (!isObject(parsed)) return hookError(400, 'request body: not a JSON object');
    const payload = parsed as HookPayload;
    const user = (isObject(payload.user) ? payload.user : {}) as NonNullable<HookPayload['user']>;
    for (const key of ['id', 'email', 'new_email'] as const) {
      if (user[key] !== undefined && user[key] !== null && typeof user[key] !== 'string')
        return hookError(400, `user.${key}: not a string`);
    }
    for (const key of ['email', 'new_email'] as const) {
      // "" means absent (Auth sends it for a phone user); anything else must be one address
      const value = user[key];
      if (typeof value === 'string' && value !== '' && !/^[^\s@,;<>"]+@[^\s@,;<>"]+$/.test(value))
        return hookError(400, `user.${key}: not an email address`);
    }
    const data = Object.fromEntries(
      Object.entries(isObject(payload.email_data) ? payload.email_data : {}).filter(
        ([, v]) => typeof v === 'string',
      ),
    ) as Record<string, string | undefined>;
    const type = data.email_action_type ?? '';
    const eventId = Object.hasOwn(AUTH_EVENTS, type) ? AUTH_EVENTS[type] : undefined;
    if (!eventId)
      return hookError(400, `email_action_type ${JSON.stringify(type)}: not an email this hook sends`);
    const event = resolveEvent(registry, eventId)!;
    const channel = event.channels.find((c) => c.transport === 'email')?.name ?? 'email:user';
    const authUrl = (
      options.authUrl ?? `${(Deno.env.get('SUPABASE_URL') ?? '').replace(/\/+$/, '')}/auth/v1`
    ).replace(/\/+$/, '');

    const emails = recipientsOf(type, user, data);
    if (emails.length === 0) return hookError(400, 'the hook payload names no address to send to');
    const db = options.db ?? defaultDb();
    try {
      for (const email of emails) {
        const confirmationUrl = email.tokenHash
          ? `${authUrl}/verify?token=${encodeURIComponent(email.tokenHash)}&type=${encodeURIComponent(type)}&redirect_to=${encodeURIComponent(data.redirect_to ?? '')}`
          : '';
        const record = {
          user: {
            id: user.id ?? null,
            email: user.email ?? null,
            new_email: user.new_email ?? null,
            user_metadata: user.user_metadata ?? {},
          },
          email_data: {
            email_action_type: type,
            redirect_to: data.redirect_to ?? '',
            site_url: data.site_url ?? '',
          },
          to: email.address,
          sealed: seal({ token: email.token, tokenHash: email.tokenHash, confirmationUrl }, secret),
        };
        await db.query('select dispatch.auth_email_receipt($1, $2, $3::uuid, $4, $5::jsonb)', [
          eventId,
          channel,
          isUuid(user.id) ? user.id : null,
          email.address,
          JSON.stringify(record),
        ]);
      }
    } catch (error) {
      return hookError(500, `dispatch-auth-email: ${(error as Error).message}`);
    }
    return json(200, {});
  };
}

/** Who gets which token. A secure email change mails both addresses (GoTrue pairs the new address's OTP with `token_hash`). */
function recipientsOf(
  type: string,
  user: NonNullable<HookPayload['user']>,
  data: Record<string, string | undefined>,
) {
  const out: { address: string; token: string; tokenHash: string }[] = [];
  const add = (address: string | undefined, token: string | undefined, tokenHash: string | undefined) => {
    if (address) out.push({ address, token: token ?? '', tokenHash: tokenHash ?? '' });
  };
  if (type === 'email_change') {
    if (data.token_hash_new) {
      add(user.new_email, data.token_new, data.token_hash);
      add(user.email, data.token, data.token_hash_new);
    } else {
      add(user.new_email ?? user.email, data.token, data.token_hash);
    }
    return out;
  }
  add(user.email, data.token, data.token_hash);
  return out;
}

/** null when a `v1` signature of the request matches one of the secrets, else why not. */
export function verifySignature(secrets: string, headers: Headers, body: string, now: number): string | null {
  const id = headers.get('webhook-id');
  const timestamp = headers.get('webhook-timestamp');
  const signatures = headers.get('webhook-signature');
  if (!id || !timestamp || !signatures)
    return 'webhook-id, webhook-timestamp and webhook-signature are required';
  if (!/^\d{1,12}$/.test(timestamp)) return 'webhook-timestamp is not a number of seconds';
  if (Math.abs(now - Number(timestamp)) > TOLERANCE_SECONDS)
    return 'webhook-timestamp is outside the tolerance';
  for (const secret of secrets.split('|')) {
    const key = secretKey(secret);
    if (!key) continue;
    const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest();
    for (const entry of signatures.split(' ')) {
      const [version, value] = entry.split(',', 2);
      if (version !== 'v1' || !value) continue;
      const given = Buffer.from(value, 'base64');
      if (given.length === expected.length && timingSafeEqual(given, expected)) return null;
    }
  }
  return 'no signature matches';
}

/** The HMAC key of `v1,whsec_<base64>` (or `whsec_<base64>`, or bare base64). */
function secretKey(secret: string): Buffer | null {
  let raw = secret.trim();
  if (raw.startsWith('v1,')) raw = raw.slice(3);
  if (raw.startsWith('whsec_')) raw = raw.slice(6);
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(raw)) return null;
  const key = Buffer.from(raw, 'base64');
  return key.length > 0 ? key : null;
}

/** The error shape Supabase Auth reads from hooks: `{ error: { http_code, message } }`. */
function hookError(status: number, message: string): Response {
  return json(status, { error: { http_code: status, message } });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isUuid(value: unknown): value is string {
  return (
    typeof value === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)
  );
}
