/**
 * The worker's side of the alarm (sql/core/056_worker_alarm.sql, docs/decisions.md "A self-waking
 * worker"): a run that ends while a receipt comes due soon waits for it with a timer, or hands over to
 * a new run. Here: the wait, and the shape of a hand-over.
 */

/**
 * Starts a new run that continues the chain `alarm` (serve() POSTs to the worker's own URL with the
 * shared secret, as pg_net does; `url` is Vault's `dispatch_worker_url` as the database read it).
 * True when a run took it (202).
 */
export type HandOver = (url: string | null, alarm: string) => Promise<boolean>;

/**
 * Waits `ms` (a timer: no database polling). `onStop` receives a function that ends the wait early
 * (a poke); the signal ends it too. True when the timer ran out, false when it was ended early.
 */
export function waitFor(
  ms: number,
  signal: AbortSignal | undefined,
  onStop: (stop: () => void) => void,
): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    const finish = (ranOut: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      resolve(ranOut);
    };
    const stop = () => finish(false);
    const timer = setTimeout(() => finish(true), Math.max(0, ms));
    signal?.addEventListener('abort', stop, { once: true });
    onStop(stop);
  });
}
