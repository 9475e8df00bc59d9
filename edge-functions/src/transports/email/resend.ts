/**
 * Resend (https://resend.com/docs/api-reference): `POST /emails` and `POST /emails/batch` with
 * `Authorization: Bearer <key>` and `Idempotency-Key`. The base URL is `RESEND_API_URL` (default
 * https://api.resend.com; the local stack points it at its mail catcher), the key the secret the
 * registry's `transports.email.apiKeySecret` names (default `RESEND_API_KEY`).
 */
import { FUNCTION_ENV, type SendOutcome, type TransportContext } from '../../delivery/types.ts';
import { requireSecret, sendRequest, setting, unlessNotSendable } from '../send.ts';
import type { EmailMessage, EmailProvider } from './provider.ts';

export const RESEND_DEFAULT_URL = 'https://api.resend.com';
export const RESEND_DEFAULT_KEY_SECRET = 'RESEND_API_KEY';
/** Resend's limit per batch request. */
export const RESEND_MAX_BATCH = 100;

/** One message as Resend's API takes it. */
export function resendPayload(message: EmailMessage): Record<string, unknown> {
  return {
    from: message.from,
    to: message.to,
    subject: message.subject,
    ...(message.html !== undefined ? { html: message.html } : {}),
    ...(message.text !== undefined ? { text: message.text } : {}),
    ...(message.replyTo ? { reply_to: message.replyTo } : {}),
    ...(message.headers && Object.keys(message.headers).length ? { headers: message.headers } : {}),
    ...(message.tags?.length ? { tags: message.tags } : {}),
  };
}

/**
 * The key of a batch request: derived from its messages' keys, so the same batch sent again is
 * recognised. A batch made up differently is a different request (Resend compares payloads).
 */
export async function batchIdempotencyKey(messages: EmailMessage[]): Promise<string> {
  const keys = new TextEncoder().encode(messages.map((m) => m.idempotencyKey).join('\n'));
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', keys));
  return `dispatch-batch-${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function endpoint(context: TransportContext, path: string): string {
  const base = context.secret(FUNCTION_ENV.resendApiUrl) || RESEND_DEFAULT_URL;
  return `${base.replace(/\/+$/, '')}${path}`;
}

function headers(context: TransportContext, idempotencyKey: string): Record<string, string> {
  const keySecret = setting(context, 'apiKeySecret', RESEND_DEFAULT_KEY_SECRET);
  return {
    authorization: `Bearer ${requireSecret(context, keySecret, 'email (resend)')}`,
    'content-type': 'application/json',
    'user-agent': 'supadispatch',
    'idempotency-key': idempotencyKey,
  };
}

const emailId = (body: unknown) => {
  const id = (body as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : undefined;
};

/**
 * Resend answers 409 both for "the first request with this key is still in progress" (retry) and for
 * "this key came with another payload" (`invalid_idempotent_request`: retrying cannot help).
 */
function settleConflict(outcome: SendOutcome): SendOutcome {
  if (outcome.status !== 'retry' || outcome.httpStatus !== 409) return outcome;
  if (!outcome.error.includes('invalid_idempotent_request')) return outcome;
  const { retryAfterMs: _ignored, ...rest } = outcome;
  return { ...rest, status: 'failed' };
}

export const resend: EmailProvider = {
  name: 'resend',
  maxBatchSize: RESEND_MAX_BATCH,
  send: async (message, context) =>
    settleConflict(
      await unlessNotSendable(() =>
        sendRequest(
          context,
          endpoint(context, '/emails'),
          {
            method: 'POST',
            headers: headers(context, message.idempotencyKey),
            body: JSON.stringify(resendPayload(message)),
          },
          { messageId: emailId },
        ),
      ),
    ),
  async sendBatch(messages, context) {
    // The batch answers `{ data: [{ id }, ...] }`, one per message, in order.
    let ids: unknown;
    const outcome = await unlessNotSendable(async () =>
      sendRequest(
        context,
        endpoint(context, '/emails/batch'),
        {
          method: 'POST',
          headers: headers(context, await batchIdempotencyKey(messages)),
          body: JSON.stringify(messages.map(resendPayload)),
        },
        {
          messageId: (body) => {
            ids = (body as { data?: unknown } | null)?.data;
            return undefined;
          },
        },
      ),
    );
    if (outcome.status !== 'sent') return messages.map(() => settleConflict(outcome));
    const { response: _whole, ...sent } = outcome;
    return messages.map((_, index): SendOutcome => {
      const id = Array.isArray(ids) ? emailId(ids[index]) : undefined;
      return { ...sent, ...(id ? { providerMessageId: id } : {}) };
    });
  },
};
