/**
 * Fault 7, a stale worker: worker A claims a receipt, stalls past its lease, dispatch.tick()
 * reclaims it and worker B claims it again with a new fencing token. Whatever A reports afterwards
 * (sent, retry, failed, stored content) is refused with SQLSTATE 40001 and changes nothing: B's
 * outcome stands, and A's attempt is closed as `expired`.
 *
 * Tested through the public RPC surface the worker calls (edge-functions/src/worker/queue.ts):
 * public.dispatch_worker_claim / _set_content / _complete / _retry / _fail with the lease token,
 * and dispatch.tick() (dispatch.reclaim_expired_leases). If the worker's outcome calls are batched
 * (one RPC for many outcomes), each outcome in the batch must keep this per-receipt token check.
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

const RECEIPTS = fullScale ? 50 : 6;

interface Claimed {
  id: string;
  lease_token: string;
  attempt_count: number;
}

describe('chaos: a stale worker cannot overwrite the new owner’s outcome', { skip: skipReason() }, () => {
  let c: ChaosStack;
  let worker: pg.Pool;
  before(async () => {
    c = await startChaosStack({
      name: 'stale',
      sinkPortOffset: 7,
      ...itemsToWebhook,
    });
    // the two "workers" of this test are this pool: the real one must not take the receipts
    await c.admin.query(`select dispatch.set_setting('poke_worker', 'false')`);
    worker = new pg.Pool({ connectionString: c.dbUrl, max: 4 });
  });
  after(async () => {
    await worker?.end();
    await c?.stop();
  });

  const claim = async (name: string, max: number, lease: number): Promise<Claimed[]> =>
    (
      await worker.query(
        'select id, lease_token::text, attempt_count from public.dispatch_worker_claim($1, $2, $3)',
        [name, max, lease],
      )
    ).rows;
  const refused = (sql: string, params: unknown[]) =>
    assert.rejects(worker.query(sql, params), (error: { code?: string; message: string }) => {
      assert.equal(error.code, '40001', error.message);
      assert.match(error.message, /stale lease token/);
      return true;
    });

  test('A’s late sent / retry / fail / content are refused; B’s outcome stands', async () => {
    await worker.query('insert into public.chaos_items (n) select g from generate_series(1, $1::int) g', [
      RECEIPTS,
    ]);
    await c.admin.query('select dispatch.drain(500)');
    const a = await claim('worker-a', RECEIPTS, 1);
    assert.equal(a.length, RECEIPTS);
    // A stalls past its lease; the tick (pg_cron's job) reclaims
    await until('A’s leases expired', 100, 100, async () => {
      const { rows } = await c.admin.query(
        "select count(*)::int as n from dispatch.receipts where status = 'sending' and lease_expires_at < now()",
      );
      return rows[0].n === RECEIPTS;
    });
    const tick = await c.tick();
    assert.equal(tick?.reclaimed, RECEIPTS);
    // reclaimed, no new owner yet: A's report is already stale
    await refused("select 1 from public.dispatch_worker_complete($1, $2, 'a-message', null, 200, 5)", [
      a[0].id,
      a[0].lease_token,
    ]);
    let refusals = 1;
    const b = await claim('worker-b', RECEIPTS, 60);
    assert.equal(b.length, RECEIPTS);
    const tokenB = new Map(b.map((r) => [r.id, r.lease_token]));
    const half = Math.floor(RECEIPTS / 2);
    // first half: B finishes before A reports; second half: A reports while B still holds the lease
    for (const r of a.slice(0, half)) {
      await worker.query("select 1 from public.dispatch_worker_complete($1, $2, 'b-message', null, 200, 5)", [
        r.id,
        tokenB.get(r.id),
      ]);
    }
    for (const r of a) {
      await refused("select 1 from public.dispatch_worker_complete($1, $2, 'a-message', null, 200, 5)", [
        r.id,
        r.lease_token,
      ]);
      await refused("select 1 from public.dispatch_worker_fail($1, $2, 'a says failed', 500, 5)", [
        r.id,
        r.lease_token,
      ]);
      await refused("select 1 from public.dispatch_worker_retry($1, $2, 'a says retry', now(), 503, 5)", [
        r.id,
        r.lease_token,
      ]);
      await refused(`select public.dispatch_worker_set_content($1, $2, '{"stale":true}'::jsonb, null)`, [
        r.id,
        r.lease_token,
      ]);
      refusals += 4;
    }
    for (const r of a.slice(half)) {
      await worker.query("select 1 from public.dispatch_worker_complete($1, $2, 'b-message', null, 200, 5)", [
        r.id,
        tokenB.get(r.id),
      ]);
    }
    await sleep(10);
    const { rows } = await c.admin.query(
      `select r.id, r.status, r.provider_message_id, r.content, r.last_error,
              array_agg(a.worker || ':' || coalesce(a.outcome, '-') order by a.attempt) as attempts
       from dispatch.receipts r join dispatch.attempts a on a.receipt_id = r.id group by r.id`,
    );
    assert.equal(rows.length, RECEIPTS);
    for (const r of rows) {
      assert.equal(r.status, 'sent');
      assert.equal(r.provider_message_id, 'b-message');
      assert.equal(r.content, null, 'A’s content was not stored');
      assert.deepEqual(r.attempts, ['worker-a:expired', 'worker-b:sent']);
    }
    recordFigures('stale-worker', {
      receipts: RECEIPTS,
      staleReportsRefused: refusals,
      staleReportsApplied: 0,
      outcomesKept: rows.length,
    });
  });
});
