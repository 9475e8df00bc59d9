/**
 * Discord webhooks (https://discord.com/developers/docs/resources/webhook#execute-webhook): a POST
 * of `{ content, embeds }` to the webhook's URL (a credential: usually `secret:<NAME>`), with
 * `?wait=true` so Discord answers the created message and its id. Mentions in rendered text are
 * never pinged (`allowed_mentions`), since that text comes from app data. A JSON object payload is
 * sent as the message itself.
 */
import type { Delivery, Transport } from '../delivery/types.ts';
import { resolveUrl } from './address.ts';
import { absoluteActionUrl, field, objectPayload, TEST_PREFIX, truncate } from './message.ts';
import { NotSendableError, sendRequest, unlessNotSendable } from './send.ts';

export function discordMessage(delivery: Delivery): Record<string, unknown> {
  const { content } = delivery;
  const own = objectPayload(content);
  if (own && (typeof own.content === 'string' || Array.isArray(own.embeds))) return own;
  const title = field(content, 'title') ?? field(content, 'subject');
  const message =
    field(content, 'message') ?? (typeof content.payload === 'string' ? content.payload : undefined);
  const link = absoluteActionUrl(content);
  const test = content.test ? TEST_PREFIX : '';
  const text = [title ? `**${test}${title}**` : test.trim(), message].filter(Boolean).join('\n');
  if (text === '' && !link) {
    throw new NotSendableError(`discord: event ${delivery.eventId} has no title, message or payload`);
  }
  return {
    content: truncate(text, 2000),
    ...(link
      ? { embeds: [{ title: truncate(field(content, 'actionLabel') ?? 'Open', 256), url: link }] }
      : {}),
    allowed_mentions: { parse: [] },
  };
}

const messageId = (body: unknown) => {
  const id = (body as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : undefined;
};

export const discord: Transport = {
  name: 'discord',
  destination(delivery, context) {
    try {
      return `discord:${resolveUrl(delivery, context, 'discord').origin}`;
    } catch {
      return 'discord';
    }
  },
  send: (delivery, context) =>
    unlessNotSendable(() => {
      const url = resolveUrl(delivery, context, 'discord');
      if (!url.searchParams.has('wait')) url.searchParams.set('wait', 'true');
      return sendRequest(
        context,
        url.href,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(discordMessage(delivery)),
        },
        { messageId },
      );
    }),
};
