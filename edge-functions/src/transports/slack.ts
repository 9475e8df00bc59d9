/**
 * Slack incoming webhooks (https://api.slack.com/messaging/webhooks): a POST of `{ text, blocks }`
 * to the hook's URL, which is a credential, so the address is usually `secret:<NAME>` (or the
 * transport's `defaultUrlSecret`). A JSON object payload is sent as the message itself; otherwise the
 * message is built from title, message and an absolute actionUrl (a button).
 */
import type { Delivery, RenderedContent, Transport } from '../delivery/types.ts';
import { resolveUrl } from './address.ts';
import { absoluteActionUrl, field, objectPayload, TEST_PREFIX, truncate } from './message.ts';
import { NotSendableError, sendRequest, unlessNotSendable } from './send.ts';

/** Slack's mrkdwn needs only these three escaped. */
const escapeMrkdwn = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function slackMessage(delivery: Delivery): Record<string, unknown> {
  const content: RenderedContent = delivery.content;
  const own = objectPayload(content);
  if (own && (typeof own.text === 'string' || Array.isArray(own.blocks))) return own;
  const title = field(content, 'title') ?? field(content, 'subject');
  const message =
    field(content, 'message') ?? (typeof content.payload === 'string' ? content.payload : undefined);
  const link = absoluteActionUrl(content);
  const label = field(content, 'actionLabel') ?? 'Open';
  const test = content.test ? TEST_PREFIX : '';
  const lines = [
    title ? `*${escapeMrkdwn(test + title)}*` : test.trim(),
    message ? escapeMrkdwn(message) : undefined,
  ].filter((line): line is string => Boolean(line));
  if (lines.length === 0 && !link) {
    throw new NotSendableError(`slack: event ${delivery.eventId} has no title, message or payload`);
  }
  const text = [...lines, ...(link ? [`<${link}|${escapeMrkdwn(label)}>`] : [])].join('\n');
  const blocks: Record<string, unknown>[] = [];
  if (lines.length)
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(lines.join('\n'), 3000) } });
  if (link) {
    blocks.push({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: truncate(label, 75) }, url: link }],
    });
  }
  return { text: truncate(text, 40_000), blocks };
}

export const slack: Transport = {
  name: 'slack',
  destination(delivery, context) {
    try {
      return `slack:${resolveUrl(delivery, context, 'slack').origin}`;
    } catch {
      return 'slack';
    }
  },
  send: (delivery, context) =>
    unlessNotSendable(() =>
      sendRequest(context, resolveUrl(delivery, context, 'slack').href, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(slackMessage(delivery)),
      }),
    ),
};
