/**
 * The webhook transport: a POST of `{ type, timestamp, data }` (the event id, when it occurred, the
 * rendered payload) signed as Standard Webhooks say. `webhook-id` is the receipt's idempotency key,
 * the same on every attempt, so a receiver can drop repeats; `webhook-timestamp` is the time of the
 * attempt (receivers reject old ones). The signing secret is the function secret the registry's
 * `transports.webhook.signingSecret` names (default `DISPATCH_WEBHOOK_SECRET`); `timeoutMs` bounds
 * each request (default: the guarded fetch's).
 */
import type { Delivery, RenderedContent, Transport, TransportContext } from '../../delivery/types.ts';
import { resolveUrl } from '../address.ts';
import { NotSendableError, requireSecret, sendRequest, setting, unlessNotSendable } from '../send.ts';
import { webhookHeaders } from './signature.ts';

export const DEFAULT_SIGNING_SECRET = 'DISPATCH_WEBHOOK_SECRET';

/** The body's `data`: the payload, or the message fields when the event has no payload. */
export function webhookData(content: RenderedContent): unknown {
  if (content.payload !== undefined) return content.payload;
  const { title, message, actionUrl, actionLabel, subject } = content;
  return Object.fromEntries(
    Object.entries({ subject, title, message, actionUrl, actionLabel }).filter(([, v]) => v !== undefined),
  );
}

/**
 * The body, byte for byte the same on every attempt: the first attempt sends the content as it was
 * rendered, a retry the content stored on the receipt (jsonb, which reorders object keys), so keys
 * are written in one order, sorted (found by e2e/chaos/crash-storm.test.ts: a retry's body differed).
 */
export function webhookBody(delivery: Delivery): string {
  return JSON.stringify({
    type: delivery.eventId,
    timestamp: delivery.occurredAt,
    data: sortedKeys(webhookData(delivery.content)),
  });
}

/** `value` with every object's keys in sorted order (arrays keep theirs). */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, sortedKeys(v)]));
}

export function createWebhookTransport(now: () => number = Date.now): Transport {
  return {
    name: 'webhook',
    destination(delivery, context) {
      try {
        return `webhook:${resolveUrl(delivery, context, 'webhook').origin}`;
      } catch {
        return `webhook:${delivery.recipient.address ?? '-'}`;
      }
    },
    send: (delivery: Delivery, context: TransportContext) =>
      unlessNotSendable(async () => {
        const url = resolveUrl(delivery, context, 'webhook');
        const secretName = setting(context, 'signingSecret', DEFAULT_SIGNING_SECRET);
        const secret = requireSecret(context, secretName, 'webhook signing');
        const body = webhookBody(delivery);
        let signature: Record<string, string>;
        try {
          signature = await webhookHeaders(secret, delivery.idempotencyKey, Math.floor(now() / 1000), body);
        } catch (error) {
          throw new NotSendableError(`webhook signing: secret ${secretName}: ${(error as Error).message}`);
        }
        const timeoutMs = context.settings.timeoutMs;
        return sendRequest(context, url.href, {
          method: 'POST',
          ...(typeof timeoutMs === 'number' && timeoutMs > 0 ? { timeoutMs } : {}),
          headers: {
            'content-type': 'application/json',
            'user-agent': 'supadispatch-webhook',
            ...signature,
            ...(delivery.content.test ? { 'x-supadispatch-test': 'true' } : {}),
          },
          body,
        });
      }),
  };
}
