/**
 * One realtime broadcast per topic per drain, end to end: several captured changes for one user,
 * drained at once, reach a raw realtime-js listener as ONE `batch` broadcast on the user's topic
 * (its notifications, then its counters), and the live client core applies it with one store write,
 * ending exactly where the database is. Real supabase-js / realtime-js against the stack (npm test's
 * local stack, or a real Supabase); the drain is called as the worker would (`dispatch_worker_drain`,
 * see client-live.test.ts). Every wait is bounded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SupabaseClient } from '@supabase/supabase-js';
import type pg from 'pg';
import {
  dbPool,
  newClient,
  runId,
  subscribe,
  type TestUser,
  Users,
  waitFor,
} from '../../local/test/support/conformance.ts';
import { missingTargetMessage, type TestTarget, testTarget } from '../../local/test/support/env.ts';
import {
  broadcastMessages,
  createDispatchClient,
  type DispatchClient,
  type DispatchState,
} from '../src/client/index.ts';

const target: TestTarget | null = testTarget();
const run = runId();
const WAIT_MS = 15_000;

describe('one broadcast per topic per drain (batch), against the stack', {
  skip: !target && missingTargetMessage,
}, () => {
  let db: pg.Pool;
  let users: Users;
  let service: SupabaseClient;
  let alice: TestUser;
  let installed = false;
  let client: DispatchClient | null = null;
  const table = `public.${run}_notes`;
  const processor = `dispatch.src_${run}_notes_process`;
  const counter = `${run}_notes`;

  before(async () => {
    db = dbPool(target!);
    const [{ has }] = (
      await db.query(`select to_regprocedure('public.dispatch_initial_state()') is not null as has`)
    ).rows;
    installed = has;
    if (!installed) return;
    users = new Users(target!, run);
    service = newClient(target!, target!.serviceRoleKey);
    alice = await users.create('alice');
    // a source table whose processor makes an in-app notification per row and counts rows per user
    // (the shape a generated migration has: capture triggers, one processor per table)
    await db.query(`
      create table ${table} (id bigint generated always as identity primary key, user_id uuid not null, title text not null);
      create function ${processor}(p_changes dispatch.changes[]) returns void
      language plpgsql security definer set search_path = '' as $fn$
      begin
        insert into dispatch.notifications (user_id, title, message)
        select n.user_id, n.title, 'note' from unnest(p_changes) ch
          cross join lateral json_populate_recordset(null::${table}, ch.new_rows) n
        where ch.operation = 'INSERT' order by ch.id, n.id;
        perform dispatch.apply_counter_deltas('${counter}', array(
          select row(n.user_id::text, count(*))::dispatch.counter_delta from unnest(p_changes) ch
            cross join lateral json_populate_recordset(null::${table}, ch.new_rows) n
          where ch.operation = 'INSERT' group by n.user_id order by 1));
      end
      $fn$;
      revoke all on function ${processor}(dispatch.changes[]) from public, anon, authenticated;
      select dispatch.register_counter('${counter}', 'user', null, array['${run}-notes'], 1, '${table}',
        'select user_id::text, count(*) from ${table} group by 1');
      select dispatch.register_source('${table}', '${processor}');
      create trigger dispatch_capture_insert after insert on ${table}
        referencing new table as new_rows for each statement execute function dispatch.capture_changes();
    `);
  });

  after(async () => {
    client?.stop();
    if (installed) {
      await alice?.client.removeAllChannels().catch(() => {});
      await db.query(`
        drop table if exists ${table};
        select dispatch.unregister_source('${table}');
        delete from dispatch.changes where source_table = '${table}';
        drop function if exists ${processor}(dispatch.changes[]);
        delete from dispatch.counters_def where name = '${counter}';
      `);
      await db.query('delete from dispatch.notifications where user_id = $1', [alice.id]);
      await users.cleanup();
    }
    await db?.end();
  });

  it('three changes for one user: one batch broadcast; the store ends exact after one write', async (t) => {
    if (!installed) {
      t.skip('the supadispatch core is not installed on the target (public.dispatch_initial_state)');
      return;
    }
    const settings = await db.query(
      `select coalesce((select value #>> '{}' from dispatch.settings where key = 'realtime_batch_messages'), 'true') as on`,
    );
    if (settings.rows[0].on !== 'true') {
      t.skip('realtime_batch_messages is off on the target');
      return;
    }
    client = createDispatchClient({ supabase: alice.client });
    client.start();
    await waitFor(() => client!.store.getState().status === 'live', WAIT_MS, 'live');

    // a raw realtime-js listener of the same topic, on its own socket
    const raw = users.track(newClient(target!, target!.anonKey));
    const signed = await raw.auth.signInWithPassword({ email: alice.email, password: alice.password });
    assert.equal(signed.error, null);
    await raw.realtime.setAuth(signed.data.session!.access_token);
    const heard: { event: string; payload: unknown }[] = [];
    await subscribe(
      raw
        .channel(`dispatch:user:${alice.id}`, { config: { private: true } })
        .on('broadcast', { event: '*' }, (m) => heard.push({ event: m.event, payload: m.payload })),
    );

    const states: DispatchState[] = [];
    const stop = client.store.subscribe((s) => states.push(s));
    // three statements in one transaction: three captured changes, one drain
    await db.query(`
      begin;
      insert into ${table} (user_id, title) values ('${alice.id}', 'n1');
      insert into ${table} (user_id, title) values ('${alice.id}', 'n2');
      insert into ${table} (user_id, title) values ('${alice.id}', 'n3'), ('${alice.id}', 'n4');
      commit;
    `);
    // (a worker poked by the commit may have drained them first: one drain claims all three either way)
    const { error } = await service.rpc('dispatch_worker_drain', { max_changes: 500 });
    assert.equal(error, null);

    await waitFor(() => heard.length > 0, WAIT_MS, 'the broadcast');
    await waitFor(() => client!.store.getState().notifications.length === 4, WAIT_MS, 'four notifications');
    // a broadcast sent after the drain's arrives after it: once it shows, nothing of the drain is left
    await db.query(`select dispatch.broadcast($1, 'marker', '{}'::jsonb)`, [`dispatch:user:${alice.id}`]);
    await waitFor(() => heard.some((m) => m.event === 'marker'), WAIT_MS, 'the marker');
    stop();

    const drained = heard.filter((m) => m.event !== 'marker');
    assert.deepEqual(
      drained.map((m) => m.event),
      ['batch'],
      'one broadcast on the topic for the whole drain',
    );
    const inner = broadcastMessages(drained[0].event, drained[0].payload);
    assert.deepEqual(
      inner.map((m) => m.event),
      ['notification', 'notification', 'notification', 'notification', 'counter', 'counter'],
    );
    assert.equal(states.length, 1, 'one store write for the batch');

    const expected = await db.query(
      `select (select array_agg(id::text order by created_at desc, id desc) from dispatch.notifications where user_id = $1) as ids,
              (select jsonb_object_agg(name, jsonb_build_object('value', value, 'seq', seq)) from dispatch.counter_state
                where scope = $1::text and name in ('unread_notifications', $2)) as counters`,
      [alice.id, counter],
    );
    const state = client.store.getState();
    assert.deepEqual(
      state.notifications.map((n) => n.id),
      expected.rows[0].ids,
    );
    assert.deepEqual(
      { unread_notifications: state.counters.unread_notifications, [counter]: state.counters[counter] },
      expected.rows[0].counters,
    );
    assert.equal(state.counters.unread_notifications?.value, 4);
    assert.equal(state.counters[counter]?.value, 4);
  });
});
