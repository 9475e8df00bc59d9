/**
 * One worker run (docs/decisions.md, "The worker contract"): drain captured changes until a drain
 * processes none, expand module events' occurrences, claim due receipts with a lease and deliver
 * them (deliver.ts: the claim's content prepared and stored in one call, prepare.ts; outcomes recorded
 * in groups, recorder.ts) while claiming more as slots free up, and keep polling drain + claim every
 * `pollMs` while the database says writers rely on this run (`lingerMs`) or sends are in flight.
 * The run stops claiming before its time budget ends so that what it claimed is recorded in time.
 * When it is about to end while a receipt comes due soon (a retry in 5 s, a delayed channel), it
 * waits for it (a timer) or hands over to a new run (alarm.ts, sql/core/056_worker_alarm.sql), so
 * near-due work does not wait for the next tick.
 */
import type { WorkerDb } from '../delivery/db.ts';
import type { GuardedFetch, PrepareContent, Transport } from '../delivery/types.ts';
import type { Registry } from '../registry.ts';
import { type HandOver, waitFor } from './alarm.ts';
import { type DeliveryResult, deliverReceipt } from './deliver.ts';
import { KeyedLimiter } from './limiter.ts';
import { prepareClaim } from './prepare.ts';
import {
  type AlarmDecision,
  armAlarm,
  claimReceipts,
  disarmAlarm,
  drainChanges,
  loadOccurrences,
  pokeAgain,
} from './queue.ts';
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
  /**
   * Starts a new run (serve() calls the worker's own URL with the secret). Without it the run never
   * waits for near-due receipts or hands over: it ends as before and pokes again when work is left.
   */
  handOver?: HandOver;
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
  /**
   * Changes per drain call in a backlog, at most (default 2000): after a full drain the next one asks
   * twice as many, up to this; after one that was not full, `drainMax` again. A larger batch merges
   * more of each user's messages and counter updates into one row and spreads a drain's fixed cost:
   * 0.79x the Postgres CPU per change at 2000 against 500 (bench/RESULTS.md, "Session 10"). Not
   * larger, because the run claims receipts only between drains: a 2000-change drain takes about a
   * quarter of a second, so deliveries still go out several times a second during a backlog.
   */
  drainMaxBacklog?: number;
  /**
   * After a drain that found changes but not a full batch, the next one starts this long after it
   * (default 25 ms): writes that keep coming are drained in batches of what arrived meanwhile, not a
   * few at a time (a drain call has a fixed cost of about 2 ms of Postgres CPU: bench/RESULTS.md,
   * "Session 9"). A full drain (a backlog) is followed by the next at once.
   */
  drainGapMs?: number;
  /** Outcomes recorded per database call, at most (default 100). */
  recordBatch?: number;
  /** How long a finished send's outcome waits for others before they are recorded together (default 20 ms). */
  recordFlushMs?: number;
  /** Module expansion runs after every drain that processed changes, else at most this often (default 1 s). */
  expandEveryMs?: number;
  /** Ends the run early (the isolate is shutting down). */
  signal?: AbortSignal;
  /** The chain of hand-overs this run continues (its alarm identity; default: its name). */
  alarm?: string;
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
  /** Times the run waited for a receipt that came due soon (a timer, no polling). */
  waits: number;
  /** The run ended with a receipt due soon and started a new run for it (its own URL). */
  handedOver: boolean;
  /** The alarm identity the run ended with: its name, or the chain of hand-overs it continued. */
  alarm: string;
  durationMs: number;
}

/** A running run: its summary when it ends, and a way to make it poll now (a new poke arrived). */
export interface WorkerRun {
  readonly workerName: string;
  readonly done: Promise<WorkerRunSummary>;
  /**
   * Poll now instead of at the next interval; false when the run stops claiming soon. `alarm`: the
   * poke is a hand-over, and this run continues its chain.
   */
  wake(alarm?: string): boolean;
}

export function startWorkerRun(deps: WorkerDeps, options: WorkerRunOptions): WorkerRun {
  const now = options.now ?? Date.now;
  const budgetMs = options.budgetMs ?? 50_000;
  const pollMs = options.pollMs ?? 75;
  const sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
  const maxInFlight = options.maxInFlight ?? 50;
  const maxWaiting = options.maxWaiting ?? 200;
  const drainMax = options.drainMax ?? 500;
  const drainMaxBacklog = Math.max(drainMax, options.drainMaxBacklog ?? 2000);
  const drainGapMs = options.drainGapMs ?? 25;
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
    waits: 0,
    handedOver: false,
    alarm: options.alarm ?? options.workerName,
    durationMs: 0,
  };
  /** A wait of the alarm whose timer ran out (no poke): what it found decides whether to wait again. */
  let timerWoke = false;
  /** Timer wake-ups in a row that found nothing to claim (a receipt due but not claimable: stop). */
  let fruitlessWakes = 0;
  /**
   * About to end: ask the alarm (056_worker_alarm.sql) whether a receipt is due soon and whether this
   * run waits for it, hands over, or leaves it to another run. `mayWait`: false once the run stops.
   */
  const arm = async (mayWait: boolean): Promise<AlarmDecision> => {
    if (!deps.handOver) return { action: 'none' };
    try {
      // a wait must end in time to claim; a successor (same options) claims for as long as this did
      const waitMs = mayWait ? claimUntil - now() - 250 : 0;
      return await armAlarm(deps.db, summary.alarm, waitMs, claimUntil - startedAt);
    } catch (error) {
      log(`the alarm failed (near-due receipts wait for the tick): ${(error as Error).message}`);
      return { action: 'none' };
    }
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
    /** The last drain found changes: more are probably coming (the next drain after drainGapMs). */
    let lastDrainFound = false;
    /** The last drain took a full batch: a backlog (the next drain at once, and a larger one). */
    let lastDrainFull = false;
    /** Changes the next drain asks for: drainMax, doubled after each full drain up to drainMaxBacklog. */
    let drainSize = drainMax;
    /** What the alarm said when the run decided to end idle (null: it ended on its budget or signal). */
    let ending: AlarmDecision | null = null;
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
        // lingerMs is fresh then), at most every pollMs otherwise. After one that found changes, the
        // next comes drainGapMs after it (at once after a full one). One drain per pass: claims go
        // on between drains, so writes that keep coming never starve the deliveries (session 9: the
        // run drained back to back while drains found changes and claimed nothing until they did
        // not). The loop also comes here each time sends finish (to claim into the freed slots),
        // hundreds of times a second under load, and a drain each time cost Postgres more than the
        // claims did (session 5).
        const sinceDrain = now() - lastDrainAt;
        const drainDue =
          woken ||
          lastDrainFull ||
          (lastDrainFound ? sinceDrain >= drainGapMs : inFlight.size === 0 || sinceDrain >= pollMs);
        woken = false;
        let drainedNow = 0;
        if (drainDue) {
          lastDrainAt = now();
          const drained = await drainChanges(deps.db, drainSize);
          drainedNow = drained.processed;
          lastDrainFound = drainedNow > 0;
          lastDrainFull = drainedNow >= drainSize;
          drainSize = lastDrainFull ? Math.min(drainSize * 2, drainMaxBacklog) : drainMax;
          lingerUntil = Math.max(lingerUntil, now() + drained.lingerMs);
        }
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
        if (claimedNow > 0) fruitlessWakes = 0;
        else if (timerWoke) fruitlessWakes++;
        timerWoke = false;
        if (claimedNow > 0 || lastDrainFull || woken) continue;
        if (inFlight.size === 0 && !lastDrainFound && now() >= lingerUntil) {
          // about to end: a receipt due soon is waited for here or handed over below
          if (fruitlessWakes >= 3) {
            log('a due receipt could not be claimed after 3 wake-ups: leaving it to the tick');
            ending = { action: 'none' };
            await disarmAlarm(deps.db, summary.alarm).catch(() => {});
            break;
          }
          const decision = await arm(true);
          if (woken) continue; // a poke arrived meanwhile: this run goes on
          if (decision.action !== 'wait') {
            ending = decision;
            break;
          }
          // a timer, no polling: a poke (wake) or the signal ends the wait early
          summary.waits++;
          const waitMs = decision.waitMs ?? (decision.dueInMs ?? 0) + 25;
          const ranOut = await waitFor(waitMs, options.signal, (stop) => {
            wakeUp = stop;
          });
          // a wait for a due receipt that then claims nothing counts (a wait to look again does not)
          timerWoke = ranOut && decision.waitMs === undefined;
          wakeUp = null;
          continue;
        }
        // until the next drain is due after one that found changes, else a poll interval; a send
        // that finishes or a poke ends the wait early
        const waitMs = lastDrainFound ? Math.max(0, lastDrainAt + drainGapMs - now()) : pollMs;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          wakeUp = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wakeUp = null;
      }
      exiting = true;
      await Promise.all(inFlight);
      // stopping on the budget or the signal: what is due now or soon goes to a successor
      ending ??= await arm(false);
      let seenTo = ending.action === 'none' && ending.heldBy !== undefined;
      if (ending.action === 'handover' && deps.handOver) {
        summary.handedOver = await deps.handOver(ending.url ?? null, summary.alarm).catch((error) => {
          log(`handing over failed: ${(error as Error).message}`);
          return false;
        });
        seenTo = summary.handedOver;
        if (!summary.handedOver) await disarmAlarm(deps.db, summary.alarm).catch(() => {});
      }
      if (!seenTo && (summary.stoppedBy !== 'idle' || lastClaimFull)) {
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
    wake(alarm?: string) {
      if (exiting || options.signal?.aborted || now() >= claimUntil - 5000) return false;
      if (alarm) summary.alarm = alarm;
      woken = true;
      nudge();
      return true;
    },
  };
}
