/**
 * Outcomes recorded in groups: a finished send's {@link RecordCall} waits here at most `flushMs`
 * (or until `maxBatch` are waiting) and goes to the database with the others in one call,
 * `public.dispatch_worker_finish` (one UPDATE of the receipts, one of their attempts, the lease token
 * checked per receipt). Each caller gets its own result: the outcome's kind when the database
 * accepted it, `lost` when it did not (the lease expired and another run holds the receipt: its
 * holder records it) or when the call failed (the lease then expires and the receipt is tried again,
 * with the same idempotency key: at least once, as when each outcome was its own call).
 *
 * Why a short window and not a flush per claim: sends of one claim finish at different times (a slow
 * endpoint's after a fast one's); holding a fast outcome for a slow one would hold its in-flight slot
 * too. The window is far below the lease (the rest of the run + 30 s), and the run awaits every
 * outcome before it ends, so nothing finished is left unrecorded when the function returns.
 */
import type { WorkerDb } from '../delivery/db.ts';
import type { RecordCall } from './outcome.ts';
import { type ClaimedReceipt, finishReceipts } from './queue.ts';

export type RecordResult = 'sent' | 'retry' | 'failed' | 'lost';

export interface OutcomeRecorderOptions {
  /** Outcomes per call, at most (default 100). */
  maxBatch?: number;
  /** How long the first outcome of a group waits for others (default 20 ms). */
  flushMs?: number;
  log(message: string): void;
}

interface Waiting {
  receipt: ClaimedReceipt;
  call: RecordCall;
  resolve(result: RecordResult): void;
}

export class OutcomeRecorder {
  private waiting: Waiting[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly flushing = new Set<Promise<void>>();
  /** Calls made to the database (one per group). */
  calls = 0;

  constructor(
    private readonly db: WorkerDb,
    private readonly options: OutcomeRecorderOptions,
  ) {}

  /** Records `call` for `receipt` with the next group; resolves once the database answered. */
  record(receipt: ClaimedReceipt, call: RecordCall): Promise<RecordResult> {
    return new Promise((resolve) => {
      this.waiting.push({ receipt, call, resolve });
      if (this.waiting.length >= (this.options.maxBatch ?? 100)) this.flush();
      else if (this.timer === null) this.timer = setTimeout(() => this.flush(), this.options.flushMs ?? 20);
    });
  }

  /** Sends what waits now; resolves when every group sent so far has its answer. */
  flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const group = this.waiting;
    this.waiting = [];
    if (group.length > 0) {
      const done = this.send(group).finally(() => this.flushing.delete(done));
      this.flushing.add(done);
    }
    return Promise.all(this.flushing).then(() => {});
  }

  private async send(group: Waiting[]): Promise<void> {
    this.calls++;
    let accepted: Set<string>;
    try {
      accepted = await finishReceipts(
        this.db,
        group.map((w) => ({ receipt: w.receipt, call: w.call })),
      );
    } catch (error) {
      // the database did not answer: the leases expire and the receipts are tried again
      const message = error instanceof Error ? error.message : String(error);
      this.options.log(`recording ${group.length} outcome(s) failed: ${message}`);
      for (const w of group) w.resolve('lost');
      return;
    }
    for (const w of group) {
      if (accepted.has(w.receipt.id)) {
        w.resolve(w.call.kind === 'complete' ? 'sent' : w.call.kind === 'retry' ? 'retry' : 'failed');
      } else {
        this.options.log(`receipt ${w.receipt.id}: lease lost, result dropped (${w.call.kind})`);
        w.resolve('lost');
      }
    }
  }
}
