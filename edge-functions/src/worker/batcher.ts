/**
 * Batch sending for transports that have it (`Transport.sendBatch`, e.g. an email provider's batch
 * API): deliveries prepared for the same transport and destination within `windowMs` go out in one
 * request of at most `maxBatch`, under one of the destination's slots; each caller gets its own
 * outcome (in order). A batch that throws or answers with the wrong number of outcomes is a `retry`
 * for each of its deliveries.
 */
import type { Delivery, SendOutcome, Transport, TransportContext } from '../delivery/types.ts';

interface Pending {
  delivery: Delivery;
  resolve(outcome: SendOutcome): void;
}

export interface BatcherOptions {
  /** Deliveries per request, at most (default 100: Resend's batch limit). */
  maxBatch?: number;
  /** How long the first delivery of a batch waits for others (default 10 ms). */
  windowMs?: number;
  /** Sends the batch (the caller wraps it in the destination's slot and the deadline). */
  send(
    transport: Transport,
    destination: string,
    deliveries: Delivery[],
    context: TransportContext,
  ): Promise<SendOutcome[]>;
}

export class Batcher {
  private readonly open = new Map<string, { pending: Pending[]; timer: ReturnType<typeof setTimeout> }>();

  constructor(private readonly options: BatcherOptions) {}

  /** This delivery's outcome, sent together with others to the same transport and destination. */
  add(
    transport: Transport,
    destination: string,
    delivery: Delivery,
    context: TransportContext,
  ): Promise<SendOutcome> {
    const key = `${transport.name}\u0000${destination}`;
    return new Promise((resolve) => {
      let batch = this.open.get(key);
      if (!batch) {
        const timer = setTimeout(
          () => this.flush(key, transport, destination, context),
          this.options.windowMs ?? 10,
        );
        batch = { pending: [], timer };
        this.open.set(key, batch);
      }
      batch.pending.push({ delivery, resolve });
      if (batch.pending.length >= (this.options.maxBatch ?? 100)) {
        clearTimeout(batch.timer);
        this.flush(key, transport, destination, context);
      }
    });
  }

  private flush(key: string, transport: Transport, destination: string, context: TransportContext): void {
    const batch = this.open.get(key);
    if (!batch) return;
    this.open.delete(key);
    const deliveries = batch.pending.map((p) => p.delivery);
    const started = Date.now();
    this.options
      .send(transport, destination, deliveries, context)
      .then((outcomes) => {
        if (outcomes.length !== deliveries.length) {
          throw new Error(
            `sendBatch answered ${outcomes.length} outcomes for ${deliveries.length} deliveries`,
          );
        }
        for (const [i, p] of batch.pending.entries()) p.resolve(outcomes[i]);
      })
      .catch((error) => {
        const outcome: SendOutcome = {
          status: 'retry',
          error: `batch: ${error instanceof Error ? error.message : String(error)}`,
          durationMs: Date.now() - started,
        };
        for (const p of batch.pending) p.resolve(outcome);
      });
  }
}
