/**
 * The content of a claim's receipts, prepared before their first send and stored in ONE call for
 * the whole claim (`public.dispatch_worker_store_content`), not one per receipt. A receipt that has
 * stored content is sent with it, unless secrets were redacted from it: then it is prepared anew.
 * Receipts that will not be sent (in_app, an unknown transport or event, no occurrence) are left to
 * deliver.ts, which records why.
 */
import { sqlState } from '../delivery/db.ts';
import { ContentError, type OccurrenceRecord, type RenderedContent } from '../delivery/types.ts';
import { resolveEvent } from '../modules/events.ts';
import type { RegistryChannel } from '../registry.ts';
import type { DeliverContext } from './context.ts';
import { type ClaimedReceipt, type ContentToStore, storeContents } from './queue.ts';

/** Stored content whose secrets were replaced cannot be sent again as is: prepare it anew. */
const REDACTED = '[redacted]';

/** What a receipt's preparation came to. */
export type Prepared =
  | { kind: 'ready'; content: RenderedContent }
  /** The module refused (ContentError): the receipt fails with this reason. */
  | { kind: 'refused'; error: string }
  /** A module or the database failed for now: another attempt may succeed. */
  | { kind: 'failed'; error: string }
  /** The lease was lost before the content was stored: drop this receipt. */
  | { kind: 'lost' };

/** Whether this receipt's content must be prepared (and stored) before it is sent. */
export function needsContent(receipt: ClaimedReceipt): boolean {
  return receipt.content === null || JSON.stringify(receipt.content).includes(REDACTED);
}

/**
 * Prepares every claimed receipt that needs content (concurrently), stores what was prepared in one
 * call, and answers per receipt id. Receipts not in the map need nothing prepared.
 */
export async function prepareClaim(
  ctx: DeliverContext,
  receipts: ClaimedReceipt[],
  occurrences: Map<string, OccurrenceRecord>,
): Promise<Map<string, Prepared>> {
  const answers = new Map<string, Prepared>();
  const toStore: ContentToStore[] = [];
  await Promise.all(
    receipts.map(async (receipt) => {
      if (receipt.transport === 'in_app' || !ctx.transports[receipt.transport] || !needsContent(receipt))
        return;
      const event = resolveEvent(ctx.registry, receipt.eventId);
      const occurrence = occurrences.get(receipt.occurrenceId);
      if (!event || !occurrence) return;
      try {
        const prepared = await ctx.prepareContent({
          event,
          channel: channelOf(event.channels, receipt),
          occurrence,
          recipient: { userId: receipt.userId, address: receipt.address },
          mode: 'send',
        });
        toStore.push({ receipt, content: prepared.content, secrets: prepared.secrets });
      } catch (error) {
        answers.set(
          receipt.id,
          error instanceof ContentError
            ? { kind: 'refused', error: error.message }
            : { kind: 'failed', error: `preparing content: ${describe(error)}` },
        );
      }
    }),
  );
  if (toStore.length > 0) {
    try {
      const stored = await storeContents(ctx.db, toStore);
      for (const item of toStore) {
        answers.set(
          item.receipt.id,
          stored.has(item.receipt.id) ? { kind: 'ready', content: item.content } : { kind: 'lost' },
        );
      }
    } catch (error) {
      if (sqlState(error) === '22023') throw error; // our own bad argument: a bug, not a retry
      for (const item of toStore)
        answers.set(item.receipt.id, { kind: 'failed', error: `storing content: ${describe(error)}` });
    }
  }
  return answers;
}

/** The registry's channel of a receipt; module events' channels may exist only at run time. */
export function channelOf(channels: RegistryChannel[], receipt: ClaimedReceipt): RegistryChannel {
  return (
    channels.find((c) => c.name === receipt.channel) ?? {
      name: receipt.channel,
      transport: receipt.transport,
      audience: receipt.audience ?? '',
      delaySeconds: 0,
    }
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
