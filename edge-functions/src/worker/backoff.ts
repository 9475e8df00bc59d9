/**
 * When to try a receipt again: the transport's schedule (default {@link DEFAULT_RETRY_SCHEDULE},
 * like Svix's), with jitter, and never sooner than the receiver's `Retry-After`. Pure.
 *
 * `schedule[n]` is the wait in seconds before attempt n + 1 (`schedule[0]`, "immediately", is the
 * first attempt itself), so a schedule of length L allows L attempts: after a failed attempt `a`
 * (1-based) the next one waits `schedule[a]`, and there is none when `a >= L`.
 */
import { DEFAULT_RETRY_SCHEDULE } from '../delivery/types.ts';

/** Jitter added to a scheduled wait: up to this fraction of it (spreads retries of one outage). */
export const JITTER_FRACTION = 0.1;
/** A `Retry-After` longer than this is capped (a receiver cannot park a receipt for weeks). */
export const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;

export function maxAttempts(schedule: readonly number[] = DEFAULT_RETRY_SCHEDULE): number {
  return Math.max(1, schedule.length);
}

/** Whether attempt number `attempt` (1-based, the one that just failed) may be followed by another. */
export function hasNextAttempt(
  attempt: number,
  schedule: readonly number[] = DEFAULT_RETRY_SCHEDULE,
): boolean {
  return attempt < maxAttempts(schedule);
}

/**
 * Milliseconds to wait after failed attempt `attempt`: the schedule's wait plus up to 10 % jitter
 * (`random` in [0, 1)), at least the receiver's `Retry-After` (capped at a day).
 */
export function retryDelayMs(
  attempt: number,
  schedule: readonly number[] = DEFAULT_RETRY_SCHEDULE,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const steps = schedule.length > 0 ? schedule : DEFAULT_RETRY_SCHEDULE;
  const index = Math.min(Math.max(attempt, 1), steps.length - 1);
  const baseMs = Math.max(0, steps[index]) * 1000;
  const scheduled = Math.round(baseMs * (1 + random() * JITTER_FRACTION));
  const floor =
    retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs > 0
      ? Math.min(retryAfterMs, MAX_RETRY_AFTER_MS)
      : 0;
  return Math.max(scheduled, Math.ceil(floor));
}
