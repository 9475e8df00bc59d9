/**
 * TanStack Query invalidation driven by counters: a counter that moves names the query keys to
 * refresh (`invalidates`, encoded as the generator writes them). Bursts are coalesced: every key is
 * invalidated at most once per window (about a frame), however many counters named it. A timer, not
 * `requestAnimationFrame`, so it runs the same in Node, a worker or a hidden tab.
 */
import { decodeQueryKey } from '../keys.ts';
import type { QueryClientLike, QueryKey } from '../types.ts';

/** One coalescing window, in ms (about one frame at 60 Hz). */
export const INVALIDATION_WINDOW_MS = 16;

export interface Invalidator {
  /** Schedules the keys (encoded, as counters carry them) for the next flush. Undecodable ones are skipped. */
  invalidateEncoded(encoded: readonly string[] | undefined): void;
  /** Schedules query keys for the next flush. */
  invalidate(keys: readonly QueryKey[]): void;
  /** Drops what is scheduled and the timer. */
  cancel(): void;
}

/** An invalidator for `queryClient` (one that does nothing without a query client). */
export function createInvalidator(
  queryClient: QueryClientLike | null,
  windowMs = INVALIDATION_WINDOW_MS,
): Invalidator {
  const pending = new Map<string, QueryKey>();
  let timer: ReturnType<typeof setTimeout> | null = null;

  const flush = () => {
    timer = null;
    const keys = [...pending.values()];
    pending.clear();
    for (const queryKey of keys) {
      try {
        // TanStack returns a promise that rejects when a refetch fails; that is the query's error.
        const result = queryClient?.invalidateQueries({ queryKey });
        if (result && typeof (result as Promise<unknown>).catch === 'function')
          (result as Promise<unknown>).catch(() => {});
      } catch {
        // a throwing query client must not stop the other keys
      }
    }
  };

  const invalidate = (keys: readonly QueryKey[]) => {
    if (!queryClient || keys.length === 0) return;
    for (const key of keys) pending.set(JSON.stringify(key), key);
    timer ??= setTimeout(flush, windowMs);
  };

  return {
    invalidate,
    invalidateEncoded(encoded) {
      if (!encoded) return;
      const keys: QueryKey[] = [];
      for (const e of encoded) {
        try {
          keys.push(decodeQueryKey(e));
        } catch {
          // a key this client cannot read is not a reason to drop the others
        }
      }
      invalidate(keys);
    },
    cancel() {
      if (timer) clearTimeout(timer);
      timer = null;
      pending.clear();
    },
  };
}
