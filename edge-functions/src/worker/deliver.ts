/**
 * One claimed receipt, from lease to recorded outcome: its content prepared once and stored before
 * the first send (prepare.ts, one call per claim), the send through its transport (at most a few per
 * destination at a time, a deadline on every send), the outcome recorded with the lease token
 * (recorder.ts, in groups). A lost lease (the receipt expired and was claimed again) drops the
 * result: the other holder records it.
 */
import { sqlState } from '../delivery/db.ts';
import type {
  Delivery,
  OccurrenceRecord,
  RenderedContent,
  SendOutcome,
  Transport,
  TransportContext,
} from '../delivery/types.ts';
import { resolveEvent } from '../modules/events.ts';
import { Batcher } from './batcher.ts';
import type { DeliverContext } from './context.ts';
import { type RecordCall, recordCallFor } from './outcome.ts';
import { needsContent, type Prepared } from './prepare.ts';
import { type ClaimedReceipt, deliverInApp } from './queue.ts';

export type DeliveryResult = 'sent' | 'retry' | 'failed' | 'lost';

/**
 * `prepared`: the claim's content, prepared and stored together (prepare.ts); it holds this
 * receipt's answer when its content had to be prepared.
 */
export async function deliverReceipt(
  ctx: DeliverContext,
  receipt: ClaimedReceipt,
  occurrence: OccurrenceRecord | undefined,
  prepared: Promise<Map<string, Prepared>>,
): Promise<DeliveryResult> {
  try {
    if (receipt.transport === 'in_app') {
      await deliverInApp(ctx.db, receipt);
      return 'sent';
    }
    const transport = ctx.transports[receipt.transport];
    // The config's events and the built-in auth.* events (restyled by the config when it has them).
    const event = resolveEvent(ctx.registry, receipt.eventId);
    const stop = (error: string) =>
      record(ctx, receipt, { kind: 'fail', error, httpStatus: null, durationMs: 0 });
    if (!transport) return await stop(`no transport named ${receipt.transport} in this dispatch-worker`);
    if (!event)
      return await stop(`event ${receipt.eventId} is not in this dispatch-worker's registry (gen, deploy)`);
    if (!occurrence) return await stop(`occurrence ${receipt.occurrenceId} not found`);

    const recipient = { userId: receipt.userId, address: receipt.address };
    let content = receipt.content;
    if (needsContent(receipt)) {
      const answer = (await prepared).get(receipt.id);
      switch (answer?.kind) {
        case 'ready':
          content = answer.content;
          break;
        case 'refused':
          return await stop(answer.error);
        case 'failed':
          return await retryOrFail(ctx, receipt, transport, answer.error);
        default:
          ctx.log(`receipt ${receipt.id}: lease lost before its content was stored, result dropped`);
          return 'lost';
      }
    }
    const delivery: Delivery = {
      receiptId: receipt.id,
      idempotencyKey: receipt.idempotencyKey,
      eventId: receipt.eventId,
      channel: receipt.channel,
      transport: receipt.transport,
      recipient,
      content: content as RenderedContent,
      attempt: receipt.attempt,
      occurredAt: occurrence.createdAt,
    };
    const context = transportContext(ctx, transport.name);
    const destination = transport.destination(delivery, context);
    // waiting for the destination's slot may outlast the run: then reschedule instead of sending
    const outcome =
      transport.sendBatch && ctx.now() < ctx.sendUntil
        ? await batcherOf(ctx).add(transport, destination, delivery, context)
        : await ctx.limiter.run(destination, () =>
            ctx.now() >= ctx.sendUntil
              ? Promise.resolve(null)
              : withDeadline(
                  ctx,
                  () => transport.send(delivery, context),
                  (o) => o,
                ),
          );
    if (outcome === null) {
      return await record(ctx, receipt, {
        kind: 'retry',
        error: 'the worker run ended before sending',
        retryAt: new Date(ctx.now()),
        httpStatus: null,
        durationMs: 0,
      });
    }
    return await record(
      ctx,
      receipt,
      recordCallFor(outcome, receipt.attempt, transport.retrySchedule, ctx.now(), ctx.random),
    );
  } catch (error) {
    if (sqlState(error) === '40001') {
      ctx.log(`receipt ${receipt.id}: lease lost, result dropped (${describe(error)})`);
      return 'lost';
    }
    // recording failed (database unreachable): the lease expires and the receipt is tried again
    ctx.log(`receipt ${receipt.id}: ${describe(error)}`);
    return 'lost';
  }
}

function transportContext(ctx: DeliverContext, name: string): TransportContext {
  return {
    secret: ctx.secret,
    // every request has a timeout, also when the transport gives none
    fetch: (url, init) =>
      ctx.fetch(url, {
        ...init,
        timeoutMs: Math.min(init?.timeoutMs ?? ctx.sendTimeoutMs, ctx.sendTimeoutMs),
      }),
    settings: ctx.registry.transports?.[name] ?? {},
    log: (message, detail) => ctx.log(`[${name}] ${message}`, detail),
  };
}

/**
 * The transport's answer, or `retry` (timeout) for every delivery when it has none within the
 * deadline, or `retry` when it throws. `each` turns one outcome into the answer's shape.
 */
async function withDeadline<T>(
  ctx: DeliverContext,
  send: () => Promise<T>,
  each: (outcome: SendOutcome) => T,
): Promise<T> {
  const started = ctx.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // a little longer than the request timeout, so the transport's own timeout normally answers first
  const limitMs = ctx.sendTimeoutMs + 1000;
  const deadline = new Promise<T>((resolve) => {
    timer = setTimeout(
      () =>
        resolve(
          each({ status: 'retry', error: `timeout: no outcome within ${limitMs} ms`, durationMs: limitMs }),
        ),
      limitMs,
    );
  });
  try {
    return await Promise.race([
      send().catch((error) =>
        each({ status: 'retry', error: describe(error), durationMs: ctx.now() - started }),
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const batchers = new WeakMap<DeliverContext, Batcher>();

/** One batcher per run: batches go out under their destination's slot, with the deadline. */
function batcherOf(ctx: DeliverContext): Batcher {
  let batcher = batchers.get(ctx);
  if (!batcher) {
    batcher = new Batcher({
      send: (transport, destination, deliveries, context) =>
        ctx.limiter.run(destination, () =>
          withDeadline(
            ctx,
            () => (transport.sendBatch as NonNullable<Transport['sendBatch']>)(deliveries, context),
            (outcome) => deliveries.map(() => outcome),
          ),
        ),
    });
    batchers.set(ctx, batcher);
  }
  return batcher;
}

async function retryOrFail(
  ctx: DeliverContext,
  receipt: ClaimedReceipt,
  transport: Transport,
  error: string,
): Promise<DeliveryResult> {
  const outcome: SendOutcome = { status: 'retry', error, durationMs: 0 };
  return await record(
    ctx,
    receipt,
    recordCallFor(outcome, receipt.attempt, transport.retrySchedule, ctx.now(), ctx.random),
  );
}

async function record(
  ctx: DeliverContext,
  receipt: ClaimedReceipt,
  call: RecordCall,
): Promise<DeliveryResult> {
  return await ctx.recorder.record(receipt, call);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
