/**
 * Fault 4, counters under 16 concurrent writers: each mixes inserts, updates (status in and out of
 * the counted condition, rows moving between users), deletes and rolled-back transactions, while
 * two drains process the captured changes (dispatch.drain, as the worker and the tick call it).
 * A sampler reads every counter value all along: none is ever negative. At the end every counter
 * equals dispatch.reconcile_counters()'s recount.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { type ChaosStack, fullScale, skipReason, sleep, startChaosStack } from './support/chaos-stack.ts';
import { recordFigures } from './support/figures.ts';

const WRITERS = 16;
const TXNS_PER_WRITER = fullScale ? 400 : 40;
const USERS = Array.from(
  { length: 8 },
  (_, i) => `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`,
);

const appSql = `
create table public.profiles (id uuid primary key, is_admin boolean not null default false);
create table public.chaos_items (
  id bigint generated always as identity primary key,
  user_id uuid not null references public.profiles (id),
  status text not null
);
insert into public.profiles (id, is_admin) values ${USERS.map((u, i) => `('${u}', ${i < 2})`).join(', ')};
`;

describe('chaos: counters under 16 concurrent writers and two drains', { skip: skipReason() }, () => {
  let c: ChaosStack;
  before(async () => {
    c = await startChaosStack({
      name: 'counters',
      sinkPortOffset: 4,
      appSql,
      config: () => `{
        users: { table: 'public.profiles', id: 'id' },
        transports: { in_app: {} },
        audiences: { owner: { column: 'user_id' }, staff: { where: { is_admin: true } } },
        admin: 'staff',
        events: {},
        counters: {
          chaos_open: { table: 'chaos_items', where: { status: 'open' }, scope: { user: 'user_id' } },
          chaos_all_open: { table: 'chaos_items', where: { status: ['open', 'review'] }, scope: { audience: 'staff' }, sharded: 4 },
        },
      }`,
    });
    // the drains of this test are its two loops (not the worker)
    await c.admin.query(`select dispatch.set_setting('poke_worker', 'false')`);
  });
  after(async () => {
    await c?.stop();
  });

  test('never negative on the way, equal to the recount at the end', async () => {
    let writing = true;
    const stats = { committed: 0, rolledBack: 0, conflicts: 0, drained: 0, drainCalls: 0, samples: 0 };
    let minSeen = Number.POSITIVE_INFINITY;
    const negatives: string[] = [];
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
    const statuses = ['open', 'closed', 'review'];

    async function writer(): Promise<void> {
      const client = new pg.Client({ connectionString: c.dbUrl });
      await client.connect();
      try {
        for (let t = 0; t < TXNS_PER_WRITER; t++) {
          const rollback = random() < 0.15;
          try {
            await client.query('begin');
            const ops = 1 + Math.floor(random() * 3);
            for (let o = 0; o < ops; o++) {
              const r = random();
              if (r < 0.45) {
                await client.query(
                  'insert into public.chaos_items (user_id, status) select $1, $2 from generate_series(1, $3::int)',
                  [pick(USERS), pick(statuses), 1 + Math.floor(random() * 3)],
                );
              } else if (r < 0.75) {
                await client.query(
                  `update public.chaos_items set status = $1, user_id = case when $2 then $3::uuid else user_id end
                   where id = (select id from public.chaos_items order by random() limit 1)`,
                  [pick(statuses), random() < 0.3, pick(USERS)],
                );
              } else {
                await client.query(
                  'delete from public.chaos_items where id = (select id from public.chaos_items order by random() limit 1)',
                );
              }
            }
            await client.query(rollback ? 'rollback' : 'commit');
            if (rollback) stats.rolledBack++;
            else stats.committed++;
          } catch (error) {
            // deadlocks between writers updating the same rows: the app's transaction is rolled back
            await client.query('rollback').catch(() => {});
            if (!['40P01', '40001'].includes((error as { code?: string }).code ?? '')) throw error;
            stats.conflicts++;
          }
        }
      } finally {
        await client.end();
      }
    }

    async function drainLoop(): Promise<void> {
      const client = new pg.Client({ connectionString: c.dbUrl });
      await client.connect();
      try {
        for (let i = 0; i < 100_000 && writing; i++) {
          const { rows } = await client.query('select dispatch.drain(50) as n');
          stats.drainCalls++;
          stats.drained += rows[0].n;
          if (rows[0].n === 0) await sleep(5);
        }
      } finally {
        await client.end();
      }
    }

    async function sampler(): Promise<void> {
      for (let i = 0; i < 100_000 && writing; i++) {
        const { rows } = await c.admin.query(
          'select name, scope, value from dispatch.counter_state order by value limit 1',
        );
        stats.samples++;
        if (rows[0]) {
          minSeen = Math.min(minSeen, Number(rows[0].value));
          if (Number(rows[0].value) < 0) negatives.push(`${rows[0].name}/${rows[0].scope}=${rows[0].value}`);
        }
        await sleep(10);
      }
    }

    const background = [drainLoop(), drainLoop(), sampler()];
    try {
      await Promise.all(Array.from({ length: WRITERS }, writer));
    } finally {
      writing = false;
      await Promise.all(background);
    }
    // the rest, as the worker or the tick would
    for (let i = 0; i < 1000; i++) {
      const { rows } = await c.admin.query('select dispatch.drain(500) as n');
      if (rows[0].n === 0) break;
      stats.drained += rows[0].n;
    }
    const { rows: failed } = await c.admin.query('select id, error from dispatch.changes');
    assert.deepEqual(failed, [], 'every change processed');
    const { rows: diff } = await c.admin.query(
      'select name, scope, expected, actual from dispatch.reconcile_counters(null, false) where expected <> actual',
    );
    assert.deepEqual(diff, [], 'every counter equals the recount');
    assert.deepEqual(negatives, [], 'no counter was ever negative');
    const { rows: totals } = await c.admin.query(
      'select name, sum(value)::int as total, count(*)::int as scopes from dispatch.counter_state group by 1 order by 1',
    );
    assert.ok(stats.committed > 0 && stats.rolledBack > 0);
    recordFigures('counters-concurrency', {
      writers: WRITERS,
      transactions: WRITERS * TXNS_PER_WRITER,
      ...stats,
      minCounterSeen: minSeen,
      negativeSeen: negatives.length,
      mismatchesAtEnd: diff.length,
      counters: Object.fromEntries(totals.map((t) => [t.name, { total: t.total, scopes: t.scopes }])),
    });
  });
});
