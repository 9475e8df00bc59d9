/**
 * One worker run (docs/decisions.md, "The worker contract"): drain captured changes until a drain
 * processes none, expand module events' occurrences, claim due receipts with a lease and deliver
 * them (deliver.ts: the claim's content prepared and stored in one call, prepare.ts; outcomes recorded
 * in groups, recorder.ts) while claiming more as slots free up, and keep polling drain + claim every
 * `pollMs` while the database says writers rely on this run (`lingerMs`) or sends are in flight.
 * The run stops claiming before its time budget ends so that what it claimed is recorded in time.
 */
import type { WorkerDb } from '../delivery/db.ts';
import type { GuardedFetch, PrepareContent, Transport } from '../delivery/types.ts';
import type { Registry } from '../registry.ts';
import { type DeliveryResult, deliverReceipt } from './deliver.ts';
import { KeyedLimiter } from './limiter.ts';
import { prepareClaim } from './prepare.ts';
import { claimReceipts, drainChanges, loadOccurrences, pokeAgain } from './queue.ts';
import { OutcomeRecorder } from './recorder.ts';

/** The content helper's hook: receipts for the occurrences of events that have only a module. */
export type ExpandModuleOccurrences = (db: WorkerDb, registry: Registry) => Promise<number>;

export interface WorkerDeps {
  db: WorkerDb;
  registry: Registry;
  transports: Record<string, Transport>;
  prepareContent: PrepareContent;
  /** The SSRF-guarded fetch the transports send with. */
  fetch: GuardedFetch;
  /** Default: none (a no-op). */
  expandModuleOccurrences?: ExpandModuleOccurrences;
  /** A function secret by name (default: the environment). */
  secret?(name: string): string | undefined;
  log?(message: string, detail?: unknown): void;
}

export interface WorkerRunOptions {
  /** Name written on claims and attempts (`dispatch.attempts.worker`). */
  workerName: string;
  /** Wall-clock budget of the run (default 50 s: under the Edge runtime's 150 s idle / 400 s limits). */
  budgetMs?: number;
  /** Poll interval while lingering (default 75 ms: new work is picked up within ~100 ms). */
  pollMs?: number;
  /** Deadline of every send, request included (default 10 s). */
  sendTimeoutMs?: number;
  /** Sends at a time per destination (default 8). */
  concurrencyPerDestination?: number;
  /** Receipts being prepared, sent or recorded at a time, at most (default 50). */
  maxInFlight?: number;
  /**
   * Receipts waiting besides those for a busy destination's slot (default 200): they do not count
   * in `maxInFlight`, so a slow endpoint's backlog does not keep the others' receipts from being claimed.
   */
  maxWaiting?: number;
  /** Lease per claim (default: the rest of the run plus 30 s). */
  leaseSeconds?: number;
  /** Changes per drain call (default 500). */
  drainMax?: number;
  /** Outcomes recorded per database call, at most (default 100). */
  recordBatch?: number;
  /** How long a finished send's outcome waits for others before they are recorded together (default 20 ms). */
  recordFlushMs?: number;
  /** Module expansion runs after every drain that processed changes, else at most this often (default 1 s). */
  expandEveryMs?: number;
  /** Ends the run early (the isolate is shutting down). */
  signal?: AbortSignal;
  now?: () => number;
  random?: () => number;
}

export interface WorkerRunSummary {
  workerName: string;
  drained: number;
  expanded: number;
  claimed: number;
  sent: number;
  retried: number;
  failed: number;
  lost: number;
  polls: number;
  /** Why the run ended: nothing left and no linger, the time budget, or the signal. */
  stoppedBy: 'idle' | 'budget' | 'signal';
  /** The run ended with work left and asked for another run. */
  pokedAgain: boolean;
  durationMs: number;
}

/** A running run: its summary when it ends, and a way to make it poll now (a new poke arrived). */
export interface WorkerRun {
  readonly workerName: string;
  readonly done: Promise<WorkerRunSummary>;
  /** Poll now instead of at the next interval; false when the run stops claiming soon. */
  wake(): boolean;
}

export function startWorkerRun(deps: WorkerDeps, options: WorkerRunOptions): WorkerRun {
  const now = options.now ?? Date.now;
  const budgetMs = options.budgetMs ?? 50_000;
  const pollMs = options.pollMs ?? 75;
  const sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
  const maxInFlight = options.maxInFlight ?? 50;
  const maxWaiting = options.maxWaiting ?? 200;
  const drainMax = options.drainMax ?? 500;
  const expandEveryMs = options.expandEveryMs ?? 1000;
  const log =
    deps.log ??
    ((message: string, detail?: unknown) => console.log(`[dispatch-worker] ${message}`, detail ?? ''));
  const expand = deps.expandModuleOccurrences ?? (async () => 0);
  const startedAt = now();
  const deadline = startedAt + budgetMs;
  // what is claimed must be sent and recorded before the deadline
  const claimUntil = deadline - Math.min(sendTimeoutMs + 2000, budgetMs / 2);
  const sendUntil = deadline - Math.min(sendTimeoutMs + 1000, budgetMs / 2);

  let wakeUp: (() => void) | null = null;
  /** A poke arrived since the last poll: poll again before deciding to stop. */
  let woken = false;
  /** The loop decided to stop: a poke must start a new run. */
  let exiting = false;
  const nudge = () => {
    wakeUp?.();
    wakeUp = null;
  };
  const summary: WorkerRunSummary = {
    workerName: options.workerName,
    drained: 0,
    expanded: 0,
    claimed: 0,
    sent: 0,
    retried: 0,
    failed: 0,
    lost: 0,
    polls: 0,
    stoppedBy: 'idle',
    pokedAgain: false,
    durationMs: 0,
  };
  const recorder = new OutcomeRecorder(deps.db, {
    maxBatch: options.recordBatch,
    flushMs: options.recordFlushMs,
    log,
  });
  const deliverCtx = {
    recorder,
    db: deps.db,
    registry: deps.registry,
    transports: deps.transports,
    prepareContent: deps.prepareContent,
    fetch: deps.fetch,
    secret: deps.secret ?? ((name: string) => Deno.env.get(name)),
    limiter: new KeyedLimiter(options.concurrencyPerDestination ?? 8, () => nudge()),
    sendTimeoutMs,
    sendUntil,
    now,
    random: options.random ?? Math.random,
    log,
  };
  const count = (result: DeliveryResult) => {
    if (result === 'sent') summary.sent++;
    else if (result === 'retry') summary.retried++;
    else if (result === 'failed') summary.failed++;
    else summary.lost++;
  };

  async function run(): Promise<WorkerRunSummary> {
    const inFlight = new Set<Promise<void>>();
    let lingerUntil = startedAt;
    let lastExpandAt = Number.NEGATIVE_INFINITY;
    let lastClaimFull = false;
    let lastDrainAt = Number.NEGATIVE_INFINITY;
    let lastDrainFound = false;
    try {
      while (true) {
        if (options.signal?.aborted) {
          summary.stoppedBy = 'signal';
          break;
        }
        if (now() >= claimUntil) {
          summary.stoppedBy = 'budget';
          break;
        }
        summary.polls++;
        // A drain on a poke, when nothing is in flight (before the run idles or decides to stop: its
        // lingerMs is fresh then), at most every pollMs otherwise, and again while it finds changes.
        // The loop also comes here each time sends finish (to claim into the freed slots), hundreds
        // of times a second under load, and a drain each time cost Postgres more than the claims did
        // (session 5). New changes still wait at most pollMs, as when the run is idle.
        const drainDue = woken || lastDrainFound || inFlight.size === 0 || now() - lastDrainAt >= pollMs;
        woken = false;
        let drainedNow = 0;
        while (drainDue) {
          lastDrainAt = now();
          const drained = await drainChanges(deps.db, drainMax);
          drainedNow += drained.processed;
          lingerUntil = Math.max(lingerUntil, now() + drained.lingerMs);
          if (drained.processed === 0 || now() >= claimUntil) break;
        }
        lastDrainFound = drainedNow > 0;
        summary.drained += drainedNow;
        if (drainedNow > 0 || now() - lastExpandAt >= expandEveryMs) {
          lastExpandAt = now();
          try {
            summary.expanded += await expand(deps.db, deps.registry);
          } catch (error) {
            log(`expanding module events failed: ${(error as Error).message}`);
          }
        }
        const waiting = deliverCtx.limiter.waitingTotal();
        const room = Math.min(
          maxInFlight - (inFlight.size - waiting),
          maxInFlight + maxWaiting - inFlight.size,
        );
        let claimedNow = 0;
        if (room > 0) {
          const leaseSeconds = options.leaseSeconds ?? Math.ceil((deadline - now()) / 1000) + 30;
          const batch = await claimReceipts(deps.db, options.workerName, room, leaseSeconds);
          claimedNow = batch.length;
          lastClaimFull = batch.length === room;
          summary.claimed += batch.length;
          if (batch.length > 0) {
            const occurrences = await loadOccurrences(
              deps.db,
              batch.map((r) => r.occurrenceId),
            );
            // one call stores the claim's content; each receipt is sent as soon as it is stored
            const prepared = prepareClaim(deliverCtx, batch, occurrences);
            prepared.catch(() => {}); // each delivery awaits it and handles its failure
            for (const receipt of batch) {
              const task: Promise<void> = deliverReceipt(
                deliverCtx,
                receipt,
                occurrences.get(receipt.occurrenceId),
                prepared,
              )
                .then(count)
                .finally(() => {
                  inFlight.delete(task);
                  nudge();
                });
              inFlight.add(task);
            }
          }
        }
        if (claimedNow > 0 || drainedNow > 0 || woken) continue;
        if (inFlight.size === 0 && now() >= lingerUntil) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs);
          wakeUp = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wakeUp = null;
      }
      exiting = true;
      await Promise.all(inFlight);
      if (summary.stoppedBy !== 'idle' || lastClaimFull) {
        // work may be left: a new run picks it up (debounced like every poke; tick is the safety net)
        summary.pokedAgain = await pokeAgain(deps.db).catch(() => false);
      }
    } finally {
      exiting = true;
      await Promise.allSettled(inFlight);
      // every delivery awaited its outcome's group; this sends any group still waiting (none normally)
      await recorder.flush();
      summary.durationMs = now() - startedAt;
    }
    return summary;
  }

  return {
    workerName: options.workerName,
    done: run(),
    wake() {
      if (exiting || now() >= claimUntil - 5000) return false;
      woken = true;
      nudge();
      return true;
    },
  };
}
