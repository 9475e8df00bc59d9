/**
 * The email transport: turns a delivery into an {@link EmailMessage} (the event's from/reply-to over
 * the transport's, html and text, a test send marked) and hands it to the provider the registry's
 * `transports.email.provider` names (default `resend`). Batches go to the provider's batch API in
 * chunks it accepts; a delivery that cannot become a message fails alone, and so does one the
 * provider refuses (a refused batch is sent again one by one).
 */
import type { Delivery, SendOutcome, Transport, TransportContext } from '../../delivery/types.ts';
import { resolveAddress } from '../address.ts';
import { NotSendableError, setting, unlessNotSendable } from '../send.ts';
import type { EmailMessage, EmailProvider } from './provider.ts';
import { resend } from './resend.ts';

export type { EmailMessage, EmailProvider } from './provider.ts';

export const emailProviders: Record<string, EmailProvider> = { resend };

export const TEST_SUBJECT_PREFIX = '[Test] ';

export function emailMessage(delivery: Delivery, context: TransportContext): EmailMessage {
  const { content } = delivery;
  const to = resolveAddress(delivery, context, 'email');
  const from = text(content.from) ?? setting(context, 'from');
  if (!from) {
    throw new NotSendableError(
      'email: no sender: set transports.email.from in the config, or from in the event',
    );
  }
  const html = text(content.html);
  let plain = text(content.text);
  if (html === undefined && plain === undefined) {
    plain = [text(content.title), text(content.message), text(content.actionUrl)]
      .filter(Boolean)
      .join('\n\n');
    if (plain === '')
      throw new NotSendableError(`email: event ${delivery.eventId} has no html, text or message`);
  }
  let subject = text(content.subject) ?? text(content.title) ?? delivery.eventId;
  const headers: Record<string, string> = {};
  if (content.test) {
    if (!subject.startsWith(TEST_SUBJECT_PREFIX)) subject = `${TEST_SUBJECT_PREFIX}${subject}`;
    headers['X-Supadispatch-Test'] = 'true';
  }
  const replyTo = text(content.replyTo) ?? setting(context, 'replyTo');
  return {
    from,
    to: [to],
    subject,
    ...(html !== undefined ? { html } : {}),
    ...(plain !== undefined ? { text: plain } : {}),
    ...(replyTo ? { replyTo } : {}),
    ...(Object.keys(headers).length ? { headers } : {}),
    tags: [{ name: 'event', value: delivery.eventId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 256) }],
    idempotencyKey: delivery.idempotencyKey,
  };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The provider refused the request's content (400, 422): the same batch would be refused again. */
function rejectedAsInvalid(outcome: SendOutcome): boolean {
  return outcome.status === 'failed' && (outcome.httpStatus === 400 || outcome.httpStatus === 422);
}

function describe(outcome: SendOutcome): string {
  return outcome.status === 'sent' ? 'sent' : outcome.error;
}

function providerOf(context: TransportContext, providers: Record<string, EmailProvider>): EmailProvider {
  const name = setting(context, 'provider', 'resend');
  const provider = providers[name];
  if (!provider) {
    throw new NotSendableError(
      `email: unknown provider "${name}" (known: ${Object.keys(providers).join(', ')})`,
    );
  }
  return provider;
}

export function createEmailTransport(providers: Record<string, EmailProvider> = emailProviders): Transport {
  return {
    name: 'email',
    destination: (_delivery, context) => `email:${setting(context, 'provider', 'resend')}`,
    send: (delivery, context) =>
      unlessNotSendable(() => providerOf(context, providers).send(emailMessage(delivery, context), context)),
    async sendBatch(deliveries, context) {
      const outcomes: SendOutcome[] = new Array(deliveries.length);
      const ready: { index: number; message: EmailMessage }[] = [];
      let provider: EmailProvider;
      try {
        provider = providerOf(context, providers);
      } catch (error) {
        const failed: SendOutcome = { status: 'failed', error: (error as Error).message, durationMs: 0 };
        return deliveries.map(() => failed);
      }
      deliveries.forEach((delivery, index) => {
        try {
          ready.push({ index, message: emailMessage(delivery, context) });
        } catch (error) {
          if (!(error instanceof NotSendableError)) throw error;
          outcomes[index] = { status: 'failed', error: error.message, durationMs: 0 };
        }
      });
      // Sorted by key, so the same receipts make the same batches, and a batch sent again after a
      // lost answer carries the same derived key and payload: the provider recognises it.
      ready.sort((a, b) => (a.message.idempotencyKey < b.message.idempotencyKey ? -1 : 1));
      const size = provider.sendBatch ? Math.max(1, provider.maxBatchSize ?? 100) : 1;
      for (let start = 0; start < ready.length; start += size) {
        const chunk = ready.slice(start, start + size);
        let results =
          chunk.length > 1 && provider.sendBatch
            ? await provider.sendBatch(
                chunk.map((c) => c.message),
                context,
              )
            : [await provider.send(chunk[0].message, context)];
        if (chunk.length > 1 && results.every(rejectedAsInvalid)) {
          // A batch is validated whole: one bad message refuses all, and nothing was sent. One by
          // one, only the bad ones fail.
          context.log(
            `email: batch of ${chunk.length} refused (${describe(results[0])}); sending one by one`,
          );
          results = [];
          for (const c of chunk) results.push(await provider.send(c.message, context));
        }
        chunk.forEach((c, i) => {
          outcomes[c.index] = results[i];
        });
      }
      return outcomes;
    },
  };
}
