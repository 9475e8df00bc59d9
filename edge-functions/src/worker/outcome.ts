/**
 * What the worker records for a send: the transport's {@link SendOutcome} (the transports classify
 * responses: 4xx other than 408/409/425/429 and 410 are `failed`, timeouts and 5xx are `retry`)
 * mapped to one queue call with the lease token. Pure, so the mapping is tested without a database.
 */
import type { SendOutcome } from '../delivery/types.ts';
import { hasNextAttempt, retryDelayMs } from './backoff.ts';

export type RecordCall =
  | {
      kind: 'complete';
      providerMessageId: string | null;
      providerResponse: unknown;
      httpStatus: number | null;
      durationMs: number;
    }
  | { kind: 'retry'; error: string; retryAt: Date; httpStatus: number | null; durationMs: number }
  | { kind: 'fail'; error: string; httpStatus: number | null; durationMs: number };

/**
 * `sent` → complete; `failed` → fail; `retry` → retry at the schedule's next time (jitter,
 * Retry-After), or fail when attempt `attempt` was the schedule's last.
 */
export function recordCallFor(
  outcome: SendOutcome,
  attempt: number,
  schedule: readonly number[] | undefined,
  now: number,
  random: () => number = Math.random,
): RecordCall {
  const durationMs = Math.max(0, Math.round(outcome.durationMs));
  const httpStatus = outcome.httpStatus ?? null;
  switch (outcome.status) {
    case 'sent':
      return {
        kind: 'complete',
        providerMessageId: outcome.providerMessageId ?? null,
        providerResponse: outcome.response ?? null,
        httpStatus,
        durationMs,
      };
    case 'failed':
      return { kind: 'fail', error: outcome.error, httpStatus, durationMs };
    case 'retry':
      if (!hasNextAttempt(attempt, schedule)) {
        return {
          kind: 'fail',
          error: `${outcome.error} (attempt ${attempt} was the last)`,
          httpStatus,
          durationMs,
        };
      }
      return {
        kind: 'retry',
        error: outcome.error,
        retryAt: new Date(now + retryDelayMs(attempt, schedule, outcome.retryAfterMs, random)),
        httpStatus,
        durationMs,
      };
  }
}
