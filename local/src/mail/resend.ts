import { createHash, randomUUID } from 'node:crypto';
import type { MailAttachmentInfo, MailMessage } from './store.ts';

/**
 * The subset of Resend's email API (https://resend.com/docs/api-reference) the mail catcher answers:
 * `POST /emails`, `POST /emails/batch`, with `Idempotency-Key`. Errors have Resend's shape
 * `{ statusCode, name, message }`:
 * - 401 `missing_api_key` without `Authorization: Bearer <key>` (any non-empty key is accepted);
 * - 422 `missing_required_field` when `from`, `to`, `subject`, or both `html` and `text` are absent;
 * - 422 `validation_error` naming the field when a field has the wrong shape;
 * - 400 `invalid_idempotency_key` when the key is not 1-256 characters;
 * - 409 `invalid_idempotent_request` when a key seen in the last 24 h comes with a different payload.
 */

export interface ResendError {
  statusCode: number;
  name: string;
  message: string;
}

export class ResendApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errorName: string,
    message: string,
  ) {
    super(message);
  }

  toJSON(): ResendError {
    return { statusCode: this.statusCode, name: this.errorName, message: this.message };
  }
}

const MAX_TO = 50;
const MAX_BATCH = 100;
const TAG_PART = /^[A-Za-z0-9_-]{1,256}$/;
const BARE = /^[^\s@<>(),;:"[\]]+@[^\s@<>(),;:"[\]]+$/;
const NAMED = /^\s*(?:"(?:[^"\\]|\\.)*"|[^<>"]*?)\s*<([^<>]+)>\s*$/;

/** `a@b.c` or `Name <a@b.c>` / `"Name, Inc" <a@b.c>`. */
export function isEmailAddress(value: string): boolean {
  if (BARE.test(value.trim())) return true;
  const named = NAMED.exec(value);
  return named !== null && BARE.test(named[1].trim());
}

const invalidAddress = (field: string) =>
  new ResendApiError(
    422,
    'validation_error',
    `Invalid \`${field}\` field. The email address needs to follow the \`email@example.com\` or \`Name <email@example.com>\` format.`,
  );

function addressList(
  body: Record<string, unknown>,
  field: string,
  required: boolean,
  max?: number,
): string[] {
  const value = body[field];
  if (value === undefined || value === null) {
    if (required) throw new ResendApiError(422, 'missing_required_field', `Missing \`${field}\` field.`);
    return [];
  }
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'string')) {
    throw new ResendApiError(
      422,
      'validation_error',
      `Invalid \`${field}\` field. Expected a string or an array of strings.`,
    );
  }
  if (required && list.length === 0)
    throw new ResendApiError(422, 'missing_required_field', `Missing \`${field}\` field.`);
  if (max !== undefined && list.length > max) {
    throw new ResendApiError(
      422,
      'validation_error',
      `Invalid \`${field}\` field. At most ${max} recipients are allowed.`,
    );
  }
  for (const address of list as string[]) if (!isEmailAddress(address)) throw invalidAddress(field);
  return (list as string[]).map((a) => a.trim());
}

function optionalString(body: Record<string, unknown>, field: string): string | null {
  const value = body[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') {
    throw new ResendApiError(422, 'validation_error', `Invalid \`${field}\` field. Expected a string.`);
  }
  return value;
}

/** Validates one Resend send-email payload into a caught message (not yet stored). */
export function messageFromResend(input: unknown, idempotencyKey: string | null): MailMessage {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ResendApiError(422, 'validation_error', 'Invalid request body. Expected a JSON object.');
  }
  const body = input as Record<string, unknown>;

  if (body.from === undefined || body.from === null || body.from === '') {
    throw new ResendApiError(422, 'missing_required_field', 'Missing `from` field.');
  }
  if (typeof body.from !== 'string' || !isEmailAddress(body.from)) throw invalidAddress('from');
  const to = addressList(body, 'to', true, MAX_TO);
  if (body.subject === undefined || body.subject === null) {
    throw new ResendApiError(422, 'missing_required_field', 'Missing `subject` field.');
  }
  const subject = optionalString(body, 'subject') ?? '';
  const cc = addressList(body, 'cc', false);
  const bcc = addressList(body, 'bcc', false);
  const replyTo = addressList(body, 'reply_to', false);
  const html = optionalString(body, 'html');
  const text = optionalString(body, 'text');
  if (html === null && text === null) {
    throw new ResendApiError(422, 'missing_required_field', 'Missing `html` or `text` field.');
  }

  const headers: Record<string, string> = {};
  if (body.headers !== undefined && body.headers !== null) {
    if (typeof body.headers !== 'object' || Array.isArray(body.headers)) {
      throw new ResendApiError(
        422,
        'validation_error',
        'Invalid `headers` field. Expected an object of strings.',
      );
    }
    for (const [name, value] of Object.entries(body.headers as Record<string, unknown>)) {
      if (typeof value !== 'string') {
        throw new ResendApiError(
          422,
          'validation_error',
          `Invalid \`headers\` field. Header \`${name}\` must be a string.`,
        );
      }
      headers[name.toLowerCase()] = value;
    }
  }

  const tags: { name: string; value: string }[] = [];
  if (body.tags !== undefined && body.tags !== null) {
    if (!Array.isArray(body.tags)) {
      throw new ResendApiError(
        422,
        'validation_error',
        'Invalid `tags` field. Expected an array of {name, value}.',
      );
    }
    for (const tag of body.tags as unknown[]) {
      const t = tag as { name?: unknown; value?: unknown } | null;
      if (
        typeof t !== 'object' ||
        t === null ||
        typeof t.name !== 'string' ||
        !TAG_PART.test(t.name) ||
        (t.value !== undefined && (typeof t.value !== 'string' || !TAG_PART.test(t.value)))
      ) {
        throw new ResendApiError(
          422,
          'validation_error',
          'Invalid `tags` field. Tag names and values must only contain ASCII letters, numbers, underscores, or dashes (at most 256 characters).',
        );
      }
      tags.push({ name: t.name, value: typeof t.value === 'string' ? t.value : '' });
    }
  }

  const attachments: MailAttachmentInfo[] = [];
  if (body.attachments !== undefined && body.attachments !== null) {
    if (!Array.isArray(body.attachments)) {
      throw new ResendApiError(422, 'validation_error', 'Invalid `attachments` field. Expected an array.');
    }
    for (const a of body.attachments as Record<string, unknown>[]) {
      if (typeof a !== 'object' || a === null || (a.content === undefined && a.path === undefined)) {
        throw new ResendApiError(
          422,
          'invalid_attachment',
          'Attachment must have either a `content` or `path`.',
        );
      }
      attachments.push({
        filename: typeof a.filename === 'string' ? a.filename : null,
        contentType: typeof a.content_type === 'string' ? a.content_type : null,
        size: typeof a.content === 'string' ? Buffer.byteLength(a.content, 'base64') : 0,
      });
    }
  }

  return {
    id: randomUUID(),
    from: body.from.trim(),
    to,
    cc,
    bcc,
    replyTo,
    subject,
    html,
    text,
    headers,
    tags,
    attachments,
    receivedAt: new Date().toISOString(),
    via: 'api',
    idempotencyKey,
    envelope: null,
  };
}

/** Validates a batch (array of 1..100 payloads); an error names the index of the bad email. */
export function messagesFromResendBatch(input: unknown, idempotencyKey: string | null): MailMessage[] {
  if (!Array.isArray(input)) {
    throw new ResendApiError(422, 'validation_error', 'Invalid request body. Expected an array of emails.');
  }
  if (input.length === 0 || input.length > MAX_BATCH) {
    throw new ResendApiError(422, 'validation_error', `A batch must hold between 1 and ${MAX_BATCH} emails.`);
  }
  return input.map((item, index) => {
    try {
      return messageFromResend(item, idempotencyKey);
    } catch (error) {
      if (error instanceof ResendApiError) {
        throw new ResendApiError(error.statusCode, error.errorName, `emails[${index}]: ${error.message}`);
      }
      throw error;
    }
  });
}

interface IdempotentEntry {
  fingerprint: string;
  createdAt: number;
  response: unknown;
}

/**
 * Remembers successful answers per (endpoint, key) for 24 hours, as Resend does: the same key
 * and payload answers the first response again (nothing is stored twice); the same key with a
 * different payload is a 409. Failed requests are not remembered, so a corrected retry goes through.
 */
export class IdempotencyCache {
  private readonly entries = new Map<string, IdempotentEntry>();

  constructor(
    private readonly ttlMs = 24 * 60 * 60 * 1000,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  static checkKey(key: string | undefined): string | null {
    if (key === undefined) return null;
    if (key.length < 1 || key.length > 256) {
      throw new ResendApiError(400, 'invalid_idempotency_key', 'The key must be between 1-256 chars.');
    }
    return key;
  }

  /** The remembered response, or undefined when the key is new (or expired). Throws 409 on a payload mismatch. */
  replay(endpoint: string, key: string, payload: unknown): unknown {
    this.prune();
    const entry = this.entries.get(`${endpoint}\u0000${key}`);
    if (!entry) return undefined;
    if (entry.fingerprint !== fingerprint(payload)) {
      throw new ResendApiError(
        409,
        'invalid_idempotent_request',
        'Same idempotency key used with a different request payload.',
      );
    }
    return entry.response;
  }

  remember(endpoint: string, key: string, payload: unknown, response: unknown): void {
    this.entries.set(`${endpoint}\u0000${key}`, {
      fingerprint: fingerprint(payload),
      createdAt: this.now(),
      response,
    });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  clear(): void {
    this.entries.clear();
  }

  private prune(): void {
    const cutoff = this.now() - this.ttlMs;
    for (const [key, entry] of this.entries) {
      if (entry.createdAt >= cutoff) break; // insertion order = age order
      this.entries.delete(key);
    }
  }
}

/** A hash of the payload independent of key order and whitespace. */
function fingerprint(payload: unknown): string {
  return createHash('sha256').update(canonical(payload)).digest('hex');
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
