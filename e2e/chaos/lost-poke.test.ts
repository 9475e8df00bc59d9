/**
 * Fault 5, a poke that never arrives: each write's transaction queues its pg_net request to the
 * worker and the request is lost (deleted from pg_net's queue before it is sent, as when pg_net's
 * background worker drops it, or its unlogged queue is emptied by a crash). Nothing is delivered
 * until dispatch.tick() runs: it drains the changes (receipts) and pokes the worker, which
 * delivers. No drain is called by hand.
 *
 * The tick is called here on pg_cron's behalf, with the statement pg_cron's `dispatch-tick` job runs
 * (`select dispatch.tick()`, see dispatch.schedule_jobs): this suite's database is a fresh one on
 * the local cluster, and pg_cron runs jobs only in `cron.database_name`.
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

const WRITES = fullScale ? 100 : 5;

describe('chaos: a lost poke is made up for by dispatch.tick()', { skip: skipReason() }, () => {
  let c: ChaosStack;
  let app: pg.Client;
  before(async () => {
    c = await startChaosStack({
      name: 'poke',
      sinkPortOffset: 5,
      ...itemsToWebhook,
    });
    // superuser: deleting from pg_net's queue is the fault injected
    app = new pg.Client({ connectionString: c.adminDbUrl });
    await app.connect();
  });
  after(async () => {
    await app?.end();
    await c?.stop();
  });

  test('writes whose pokes are lost are delivered after the tick', async () => {
    let lost = 0;
    for (let n = 1; n <= WRITES; n++) {
      await app.query('begin');
      await app.query('insert into public.chaos_items (n) values ($1)', [n]);
      // fire the commit-time poke now (it is a deferred trigger), then lose its request
      await app.query('set constraints all immediate');
      const { rowCount } = await app.query('delete from net.http_request_queue');
      lost += rowCount ?? 0;
      await app.query('commit');
    }
    assert.ok(lost >= 1, 'at least one poke was queued and lost');
    const state = async () =>
      (
        await c.admin.query(
          `select (select count(*)::int from dispatch.changes) as changes,
                  (select count(*)::int from dispatch.receipts) as receipts,
                  (select count(*)::int from dispatch.receipts where status = 'sent') as sent`,
        )
      ).rows[0] as { changes: number; receipts: number; sent: number };
    // nothing moves without a poke (bounded wait: two seconds of nothing)
    await sleep(2000);
    assert.deepEqual(await state(), { changes: WRITES, receipts: 0, sent: 0 });
    assert.equal(c.sink.requests().length, 0);

    const tick = await c.tick();
    assert.equal(tick?.drained, WRITES, JSON.stringify(tick));
    await until('delivered after the tick', 600, 100, async () => (await state()).sent === WRITES);
    const keys = new Set(c.sink.requests().map((r) => r.headers['webhook-id']));
    assert.equal(keys.size, WRITES);
    recordFigures('lost-poke', {
      writes: WRITES,
      pokesLost: lost,
      ticks: 1,
      drainedByTick: tick?.drained,
      delivered: keys.size,
      lost: WRITES - keys.size,
      pgCron: 'tick called on pg_cron’s behalf (pg_cron runs jobs only in cron.database_name)',
    });
  });
});
