// The worker's pure parts: the retry schedule with jitter and Retry-After, and outcome → queue call.
import assert from 'node:assert/strict';
import { DEFAULT_RETRY_SCHEDULE, type SendOutcome } from '../src/delivery/types.ts';
import {
  hasNextAttempt,
  JITTER_FRACTION,
  MAX_RETRY_AFTER_MS,
  maxAttempts,
  retryDelayMs,
} from '../src/worker/backoff.ts';
import { KeyedLimiter } from '../src/worker/limiter.ts';
import { recordCallFor } from '../src/worker/outcome.ts';

const low = () => 0;
const high = () => 0.999999;

Deno.test('the default schedule is Svix-like: 8 attempts, 5 s after the first, 10 h at the end', () => {
  assert.equal(maxAttempts(), 8);
  assert.equal(retryDelayMs(1, DEFAULT_RETRY_SCHEDULE, undefined, low), 5_000);
  assert.equal(retryDelayMs(2, DEFAULT_RETRY_SCHEDULE, undefined, low), 300_000);
  assert.equal(retryDelayMs(3, DEFAULT_RETRY_SCHEDULE, undefined, low), 1_800_000);
  assert.equal(retryDelayMs(7, DEFAULT_RETRY_SCHEDULE, undefined, low), 36_000_000);
  assert.equal(hasNextAttempt(7), true);
  assert.equal(hasNextAttempt(8), false);
});

Deno.test('jitter stays within [wait, wait * 1.1] for every attempt', () => {
  for (let attempt = 1; attempt < DEFAULT_RETRY_SCHEDULE.length; attempt++) {
    const base = DEFAULT_RETRY_SCHEDULE[attempt] * 1000;
    for (const random of [low, () => 0.5, high, Math.random]) {
      const delay = retryDelayMs(attempt, DEFAULT_RETRY_SCHEDULE, undefined, random);
      assert.ok(delay >= base, `attempt ${attempt}: ${delay} >= ${base}`);
      assert.ok(
        delay <= Math.round(base * (1 + JITTER_FRACTION)),
        `attempt ${attempt}: ${delay} <= base + 10 %`,
      );
    }
  }
});

Deno.test('Retry-After is a floor, capped at a day; a shorter one does not shorten the schedule', () => {
  assert.equal(retryDelayMs(1, [0, 1], 7_000, low), 7_000);
  assert.equal(retryDelayMs(2, DEFAULT_RETRY_SCHEDULE, 1_000, low), 300_000);
  assert.equal(retryDelayMs(1, [0, 1], 10 * MAX_RETRY_AFTER_MS, low), MAX_RETRY_AFTER_MS);
  assert.equal(retryDelayMs(1, [0, 1], Number.NaN, low), 1_000);
  assert.equal(retryDelayMs(1, [0, 1], -5, low), 1_000);
});

Deno.test('attempts past a custom schedule wait its last step; an empty schedule falls back to the default', () => {
  assert.equal(retryDelayMs(9, [0, 2, 3], undefined, low), 3_000);
  assert.equal(retryDelayMs(1, [], undefined, low), 5_000);
  assert.equal(maxAttempts([0, 2, 3]), 3);
});

const now = Date.parse('2026-12-02T08:00:00Z');

Deno.test('sent → complete with the provider id, response and status', () => {
  const outcome: SendOutcome = {
    status: 'sent',
    providerMessageId: 'm1',
    httpStatus: 200,
    response: { id: 'm1' },
    durationMs: 12.4,
  };
  assert.deepEqual(recordCallFor(outcome, 1, undefined, now), {
    kind: 'complete',
    providerMessageId: 'm1',
    providerResponse: { id: 'm1' },
    httpStatus: 200,
    durationMs: 12,
  });
});

Deno.test('failed (e.g. 410, 400) → fail at once, whatever the attempt', () => {
  const outcome: SendOutcome = { status: 'failed', error: 'HTTP 410 Gone', httpStatus: 410, durationMs: 3 };
  assert.deepEqual(recordCallFor(outcome, 1, undefined, now), {
    kind: 'fail',
    error: 'HTTP 410 Gone',
    httpStatus: 410,
    durationMs: 3,
  });
});

Deno.test('retry → retry at the schedule time with jitter, honouring Retry-After', () => {
  const outcome: SendOutcome = { status: 'retry', error: 'HTTP 503', httpStatus: 503, durationMs: 5 };
  const call = recordCallFor(outcome, 1, undefined, now, low);
  assert.equal(call.kind, 'retry');
  if (call.kind === 'retry') assert.equal(call.retryAt.getTime(), now + 5_000);
  const limited: SendOutcome = {
    status: 'retry',
    error: 'HTTP 429',
    httpStatus: 429,
    retryAfterMs: 60_000,
    durationMs: 5,
  };
  const later = recordCallFor(limited, 1, undefined, now, low);
  assert.equal(later.kind, 'retry');
  if (later.kind === 'retry') {
    assert.equal(later.retryAt.getTime(), now + 60_000);
    assert.equal(later.httpStatus, 429);
  }
});

Deno.test('retry after the last attempt of the schedule → fail, saying it was the last', () => {
  const outcome: SendOutcome = { status: 'retry', error: 'timeout', durationMs: 10_000 };
  const call = recordCallFor(outcome, 3, [0, 1, 1], now);
  assert.equal(call.kind, 'fail');
  if (call.kind === 'fail') assert.match(call.error, /^timeout \(attempt 3 was the last\)$/);
  assert.equal(recordCallFor(outcome, 2, [0, 1, 1], now).kind, 'retry');
});

Deno.test('KeyedLimiter: at most n per key, other keys never wait for a busy one', async () => {
  const limiter = new KeyedLimiter(2);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let peak = 0;
  let running = 0;
  const slow = Array.from({ length: 5 }, () =>
    limiter.run('slow', async () => {
      running++;
      peak = Math.max(peak, running);
      await gate;
      running--;
    }),
  );
  // the slow key is saturated; another key runs at once
  assert.equal(await limiter.run('fast', async () => 'done'), 'done');
  assert.equal(limiter.running('slow'), 2);
  release();
  await Promise.all(slow);
  assert.equal(peak, 2);
  assert.equal(limiter.running('slow'), 0);
});
