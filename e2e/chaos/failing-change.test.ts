/**
 * Fault 6, a failing change: the app's processor raises for one change (a function the event's
 * condition calls fails for one row, as a bug in user SQL would). That change alone is kept in
 * dispatch.changes with its error; the changes around it are processed and delivered by the real
 * worker; once the cause is fixed, dispatch.replay_change (what the admin RPC
 * public.dispatch_replay_change runs) processes it and the worker delivers it, exactly once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { type ChaosStack, fullScale, skipReason, startChaosStack, until } from './support/chaos-stack.ts';
import { recordFigures } from './support/figures.ts';

const WRITES = fullScale ? 200 : 20;
const POISON = 13;

const appSql = `
create table public.profiles (id uuid primary key);
create table public.chaos_poison (n integer primary key);
create table public.chaos_items (id bigint generated always as identity primary key, n integer not null);
-- the "bug": raises for a poisoned value
create function public.chaos_gate(p_n integer) returns boolean
language plpgsql stable security definer set search_path = '' as $$
begin
  if exists (select from public.chaos_poison p where p.n = p_n) then
    raise exception 'chaos_gate: value % is poisoned', p_n;
  end if;
  return true;
end
$$;
`;

describe('chaos: a failing change is kept alone, the others go on, replay finishes it', {
  skip: skipReason(),
}, () => {
  let c: ChaosStack;
  let db: pg.Pool;
  before(async () => {
    c = await startChaosStack({
      name: 'failing',
      sinkPortOffset: 6,
      appSql,
      config: (sink) => `{
        users: { table: 'public.profiles', id: 'id' },
        transports: { webhook: {} },
        audiences: { hooks: { system: [{ webhook: '${sink}/hooks' }] } },
        events: {
          'item.created': {
            table: 'chaos_items', on: 'insert', when: sql\`public.chaos_gate(new.n)\`,
            channels: [{ transport: 'webhook', audience: 'hooks' }],
            content: { payload: { id: '{{id}}', n: '{{n}}' } },
          },
        },
      }`,
    });
    db = new pg.Pool({ connectionString: c.dbUrl, max: 4 });
  });
  after(async () => {
    await db?.end();
    await c?.stop();
  });

  test('one change fails with its error; the rest are delivered; replay delivers it once', async () => {
    await db.query('insert into public.chaos_poison values ($1)', [POISON]);
    // one statement per write, so each is a change of its own
    for (let n = 1; n <= WRITES; n++) await db.query('insert into public.chaos_items (n) values ($1)', [n]);
    const sent = async () =>
      Number(
        (
          await c.admin.query(
            "select count(*) from dispatch.receipts where event_id = 'item.created' and status = 'sent'",
          )
        ).rows[0].count,
      );
    await until('the healthy changes delivered', 600, 100, async () => (await sent()) === WRITES - 1);
    const { rows: failed } = await c.admin.query(
      'select id, error, attempts, new_rows::jsonb as rows from dispatch.changes order by id',
    );
    assert.equal(failed.length, 1, 'exactly one change left');
    assert.match(failed[0].error, /chaos_gate: value 13 is poisoned/);
    assert.deepEqual(
      failed[0].rows.map((r: { n: number }) => r.n),
      [POISON],
    );
    const keptError = failed[0].error as string;

    // replay before the fix: fails again, raises, the change stays
    await assert.rejects(c.admin.query('select dispatch.replay_change($1)', [failed[0].id]), /poisoned/);
    // the fix, then replay
    await db.query('delete from public.chaos_poison');
    await c.admin.query('select dispatch.replay_change($1)', [failed[0].id]);
    await until('the replayed change delivered', 600, 100, async () => (await sent()) === WRITES);
    const { rows: left } = await c.admin.query('select count(*)::int as n from dispatch.changes');
    assert.equal(left[0].n, 0);
    const { rows: occ } = await c.admin.query(
      `select (new_record->>'n')::int as n, count(*)::int as c from dispatch.occurrences
       where event_id = 'item.created' group by 1 order by 1`,
    );
    assert.deepEqual(
      occ.map((r) => [r.n, r.c]),
      Array.from({ length: WRITES }, (_, i) => [i + 1, 1]),
      'every write fired exactly once',
    );
    const requests = c.sink.requests().filter((r) => r.path === '/hooks');
    const keys = new Set(requests.map((r) => r.headers['webhook-id']));
    assert.equal(keys.size, WRITES);
    recordFigures('failing-change', {
      changes: WRITES,
      failed: 1,
      failedError: keptError,
      deliveredBeforeReplay: WRITES - 1,
      deliveredAfterReplay: WRITES,
      lost: WRITES - keys.size,
      duplicates: requests.length - keys.size,
    });
  });
});
