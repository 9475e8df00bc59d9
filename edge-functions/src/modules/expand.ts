/**
 * Receipts for module events (events whose config has a module and no channels): the core queues
 * their occurrences (sql/core/085_manual_trigger.sql) and the worker calls
 * {@link expandModuleOccurrences} on each round. Channels come from the config or the module's
 * `channels(ctx)`, recipients from `recipients(ctx, channel)`, receipts from
 * `dispatch.create_receipts` (its unique key makes a second expansion create nothing). A module that
 * throws fails the occurrence with the reason (`select dispatch.replay(id)` queues it again).
 */

import { type OccurrenceRow, occurrenceRecord, type WorkerDb } from '../delivery/db.ts';
import type { OccurrenceRecord, Recipient } from '../delivery/types.ts';
import type { Registry, RegistryChannel, RegistryEvent } from '../registry.ts';
import { prepare } from '../templates/prepare.ts';
import { resolveEvent } from './events.ts';
import { eventModule, type ModuleContext, type ModuleRecipient, resolveChannel } from './types.ts';

export interface ExpandOptions {
  /** Occurrences per call (default 100). */
  max?: number;
  log?: (message: string) => void;
}

/** Expands the queued occurrences of module events; returns the number of receipts created. */
export async function expandModuleOccurrences(
  db: WorkerDb,
  registry: Registry,
  options: ExpandOptions = {},
): Promise<number> {
  const rows = await db.query<OccurrenceRow>(
    'select id, event_id, operation, new_record, old_record, actor, created_at from dispatch.module_occurrences_due($1)',
    [options.max ?? 100],
  );
  let created = 0;
  for (const row of rows) {
    try {
      created += await expandOccurrence(db, registry, row, options);
    } catch (error) {
      // e.g. create_receipts refusing a recipient: fail this occurrence (replayable), not every round
      const reason = `expansion: ${(error as Error)?.message ?? String(error)}`;
      options.log?.(`dispatch: occurrence ${row.id} of ${row.event_id}: ${reason}`);
      await db.query('select dispatch.finish_module_occurrence($1, $2)', [row.id, reason]);
    }
  }
  return created;
}

/** Expands one queued occurrence and takes it off the queue; returns the receipts created. */
export async function expandOccurrence(
  db: WorkerDb,
  registry: Registry,
  row: OccurrenceRow,
  options: ExpandOptions = {},
): Promise<number> {
  const occurrence = occurrenceRecord(row);
  let planned: PlannedChannel[];
  try {
    planned = await planReceipts(registry, occurrence);
  } catch (error) {
    const reason = `module: ${(error as Error)?.message ?? String(error)}`;
    options.log?.(`dispatch: occurrence ${row.id} of ${row.event_id}: ${reason}`);
    await db.query('select dispatch.finish_module_occurrence($1, $2)', [row.id, reason]);
    return 0;
  }
  let created = 0;
  for (const { event, channel, recipients } of planned) {
    if (recipients.length === 0) continue;
    const rows = [];
    for (const recipient of recipients) {
      // in_app is delivered inline by create_receipts: its content is rendered now (send path)
      const content =
        channel.transport === 'in_app'
          ? (await prepare({ event, channel, occurrence, recipient, mode: 'send' }, { log: options.log }))
              .content
          : null;
      rows.push({
        occurrence_id: occurrence.id,
        user_id: recipient.userId,
        address: recipient.address,
        content,
      });
    }
    const [result] = await db.query<{ created: number }>(
      `select dispatch.create_receipts($1, $2, $3, $4, make_interval(secs => $5::double precision),
         array(select row((r ->> 'occurrence_id')::uuid, (r ->> 'user_id')::uuid, r ->> 'address',
                          nullif(r -> 'content', 'null'))::dispatch.recipient
               from jsonb_array_elements($6::jsonb) r)) as created`,
      [
        event.id,
        channel.name,
        channel.transport,
        channel.audience,
        channel.delaySeconds,
        JSON.stringify(rows),
      ],
    );
    created += Number(result?.created ?? 0);
  }
  await db.query('select dispatch.finish_module_occurrence($1, null)', [row.id]);
  return created;
}

export interface PlannedChannel {
  event: RegistryEvent;
  channel: RegistryChannel;
  recipients: Recipient[];
}

/** Channels and recipients of one occurrence of a module event; writes nothing (dry runs use it too). */
export async function planReceipts(
  registry: Registry,
  occurrence: OccurrenceRecord,
): Promise<PlannedChannel[]> {
  const event = resolveEvent(registry, occurrence.eventId);
  if (!event)
    throw new Error(
      `event ${occurrence.eventId} is not in the functions' registry (run supadispatch gen and deploy)`,
    );
  const module = eventModule(event.module);
  if (!module?.recipients)
    throw new Error(`event ${event.id}: its module exports no recipients(ctx, channel)`);
  const ctx: ModuleContext = {
    eventId: event.id,
    mode: 'send',
    record: occurrence.newRecord ?? occurrence.oldRecord ?? {},
    old: occurrence.oldRecord,
    actor: occurrence.actor,
    recipient: null,
    variables: {},
  };
  const channels =
    event.channels.length > 0 ? event.channels : ((await module.channels?.(ctx)) ?? []).map(resolveChannel);
  const planned: PlannedChannel[] = [];
  for (const channel of channels) {
    const found = (await module.recipients(ctx, channel)) ?? [];
    planned.push({ event, channel, recipients: found.map(toRecipient).filter((r) => r.userId || r.address) });
  }
  return planned;
}

function toRecipient(r: ModuleRecipient): Recipient {
  return { userId: r.userId ?? null, address: r.address ?? null };
}
