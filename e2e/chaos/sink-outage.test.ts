/**
 * Fault 2, the receiver down, then back: the webhook sink stops listening (connection refused)
 * while writes keep coming, for a minute in the full run. The worker retries each receipt on the
 * webhook transport's schedule; when the sink is back it first answers 429 with `Retry-After`
 * for a few requests. Afterwards: every receipt `sent`, the sink saw every idempotency key, no
 * attempt came sooner than its schedule's wait after the previous one (nor, after a 429, sooner
 * than Retry-After).
 *
 * The worker is the real one with the library's webhook transport; its retry schedule is set
 * short in the entrypoint (`retrySchedule`, the Transport's option) so a full run takes minutes,
 * not the default schedule's hours. The tick runs every second on pg_cron's behalf (pg_cron ≥ 1.5
 * schedules in seconds): it pokes the worker when retries fall due.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import {
  type ChaosStack,
  fullScale,
  itemsToWebhook,
  skipReason,
  sleep,
  startChaosStack,
  until,
} from './support/chaos-stack.ts';
import { recordFigures } from './support/figures.ts';

const WRITES = fullScale ? 300 : 20;
const OUTAGE_MS = fullScale ? 60_000 : 5_000;
const RATE_LIMITED = fullScale ? 20 : 3;
const RETRY_AFTER_S = 3;
const SCHEDULE = [0, 2, 4, 8, 16, 32, 64, 64];

interface Attempt {
  receipt_id: string;
  attempt: number;
  started_ms: number;
  duration_ms: number;
  http_status: number | null;
  outcome: string;
}

describe('chaos: the sink down for a while, then back', { skip: skipReason() }, () => {
  let c: ChaosStack;
  let app: pg.Pool;
  before(async () => {
    c = await startChaosStack({
      name: 'outage',
      sinkPortOffset: 2,
      ...itemsToWebhook,
      webhookRetrySchedule: SCHEDULE,
      sinkRequests: WRITES * 4 + 100,
    });
    app = new pg.Pool({ connectionString: c.dbUrl, max: 4 });
  });
  after(async () => {
    await app?.end();
    await c?.stop();
  });

  test('the backlog drains on the schedule, nothing dropped, Retry-After obeyed', async () => {
    const sinkCtx = { ...c.stack.ctx, ports: { ...c.stack.ctx.ports, webhookSink: c.sinkPort } };
    await c.sink.stop();
    const downAt = Date.now();
    let ticking = true;
    let ticks = 0;
    const ticker = (async () => {
      for (let i = 0; i < 3600 && ticking; i++) {
        await c.tick();
        ticks++;
        await sleep(1000);
      }
    })();
    try {
      // writes spread over the outage
      for (let n = 1; n <= WRITES; n++) {
        await app.query('insert into public.chaos_items (n) values ($1)', [n]);
        await sleep(Math.floor(OUTAGE_MS / 2 / WRITES));
      }
      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
      await c.sink.start(sinkCtx);
      const upAt = Date.now();
      await c.behave('/hooks', 'rate_limit', { count: RATE_LIMITED, retryAfter: RETRY_AFTER_S });
      const sent = async () =>
        Number(
          (await c.admin.query("select count(*) from dispatch.receipts where status = 'sent'")).rows[0].count,
        );
      await until('every receipt sent', 2400, 250, async () => (await sent()) === WRITES);
      const drainedAfterMs = Date.now() - upAt;
      ticking = false;
      await ticker;

      const { rows: receipts } = await c.admin.query(
        'select id, status, idempotency_key, attempt_count from dispatch.receipts',
      );
      assert.equal(receipts.length, WRITES);
      assert.ok(receipts.every((r) => r.status === 'sent'));
      const requests = c.sink.requests().filter((r) => r.path === '/hooks');
      const okKeys = new Set(
        requests.filter((r) => r.response?.status === 200).map((r) => r.headers['webhook-id']),
      );
      assert.deepEqual(
        [...okKeys].sort(),
        receipts.map((r) => r.idempotency_key).sort(),
        'the sink accepted every key',
      );
      const bodies = new Map<string, Set<string>>();
      for (const r of requests) {
        const key = r.headers['webhook-id'];
        bodies.set(key, (bodies.get(key) ?? new Set()).add(r.body));
      }
      const differing = [...bodies.values()].filter((b) => b.size > 1).length;
      assert.equal(differing, 0, 'every key arrived as one message');
      const rateLimited = requests.filter((r) => r.response?.status === 429).length;
      assert.equal(rateLimited, RATE_LIMITED);

      const { rows: attempts } = await c.admin.query<Attempt>(
        `select receipt_id, attempt, extract(epoch from started_at) * 1000 as started_ms,
                coalesce(duration_ms, 0) as duration_ms, http_status, outcome
         from dispatch.attempts order by receipt_id, attempt`,
      );
      let checked = 0;
      let retryAfterChecked = 0;
      const early: string[] = [];
      for (let i = 1; i < attempts.length; i++) {
        const prev = attempts[i - 1];
        const next = attempts[i];
        if (prev.receipt_id !== next.receipt_id) continue;
        // the previous attempt's send began after its claim and lasted duration_ms; the retry was
        // scheduled from then: the next claim cannot come sooner than the wait
        const waitMs =
          prev.http_status === 429
            ? Math.max(SCHEDULE[prev.attempt] ?? 64, RETRY_AFTER_S) * 1000
            : (SCHEDULE[prev.attempt] ?? 64) * 1000;
        const gap = Number(next.started_ms) - Number(prev.started_ms) - Number(prev.duration_ms);
        if (gap < waitMs) early.push(`${prev.receipt_id}#${prev.attempt}: ${gap.toFixed(0)} < ${waitMs}`);
        checked++;
        if (prev.http_status === 429) retryAfterChecked++;
      }
      assert.deepEqual(early, [], 'no attempt came before its wait');
      assert.ok(retryAfterChecked >= 1, 'a 429 was followed by a later attempt');
      const maxAttempts = Math.max(...receipts.map((r) => r.attempt_count));
      recordFigures('sink-outage', {
        writes: WRITES,
        outageMs: OUTAGE_MS,
        schedule: SCHEDULE,
        attempts: attempts.length,
        retriesChecked: checked,
        retriesEarly: early.length,
        rateLimited,
        retryAfterSeconds: RETRY_AFTER_S,
        retryAfterObeyed: retryAfterChecked,
        maxAttemptsOfAReceipt: maxAttempts,
        drainedAfterSinkBackMs: drainedAfterMs,
        ticks,
        lost: WRITES - okKeys.size,
        duplicates: differing,
      });
    } finally {
      ticking = false;
      await ticker;
    }
  });
});
