-- supadispatch core: client RPCs, RLS and grants as anon / two users / service_role, realtime policies
-- on realtime.messages (own / other / audience topics, no sending), prune.
begin;
create extension if not exists pgtap;
select plan(61);

insert into auth.users (id, email, raw_app_meta_data) values
  ('00000000-0000-0000-0000-0000000000aa', 'admin@example.com', '{"role":"admin"}'),
  ('00000000-0000-0000-0000-0000000000bb', 'bob@example.com', '{}');
select dispatch.register_event('sdt.rpc', null, null, 'orders', 'success', true, false, array['email', 'in_app'], 'Order updates');
select dispatch.register_event('sdt.security', null, null, 'security', 'warning', false);
select dispatch.register_counter('sdt_admin_queue', 'audience', 'admin', array['queue'], 1);
select dispatch.apply_counter_deltas('sdt_admin_queue', array[row('admin', 7)::dispatch.counter_delta]);
select dispatch.notify('00000000-0000-0000-0000-0000000000aa', 'sdt.rpc', 'A' || g, 'for admin') from generate_series(1, 3) g;
select dispatch.notify('00000000-0000-0000-0000-0000000000bb', 'sdt.rpc', 'B' || g, 'for bob') from generate_series(1, 25) g;
update dispatch.notifications set created_at = created_at - make_interval(secs => substr(title, 2)::int)
  where user_id = '00000000-0000-0000-0000-0000000000bb';
select dispatch.create_receipts('sdt.rpc', 'sdt:user', 'sdt_test', 'user', '0',
  array[row(dispatch.emit('sdt.rpc', '{"id":1}'), '00000000-0000-0000-0000-0000000000bb', null, null)::dispatch.recipient]);
-- a message on every kind of topic, for the realtime policy checks
insert into realtime.messages (topic, extension, event, payload, private) values
  ('dispatch:user:00000000-0000-0000-0000-0000000000aa', 'broadcast', 'e', '{}', true),
  ('dispatch:user:00000000-0000-0000-0000-0000000000bb', 'broadcast', 'e', '{}', true),
  ('dispatch:audience:admin', 'broadcast', 'e', '{}', true),
  ('dispatch:audience:sales', 'broadcast', 'e', '{}', true),
  ('room1', 'broadcast', 'e', '{}', true);
-- policies: on hosted the install creates them; locally they need the table owner (see README)
select dispatch.install_realtime_policies();
-- an app's own permissive policies must not open dispatch topics
create policy sdt_app_all_read on realtime.messages for select to anon, authenticated using (true);
create policy sdt_app_all_send on realtime.messages for insert to anon, authenticated with check (true);
create temp table rt_ids as select id, topic from realtime.messages where inserted_at = now()::timestamp;
grant select on rt_ids to anon, authenticated;

---------------------------------------------------------------------------------------------------
-- anon
set local role anon;
select set_config('request.jwt.claims', '{"role":"anon"}', true);
select throws_ok($$select public.dispatch_initial_state()$$, '42501', 'permission denied for function dispatch_initial_state',
  'anon: dispatch_initial_state is refused');
select throws_ok($$select public.dispatch_mark_all_read()$$, '42501', 'permission denied for function dispatch_mark_all_read',
  'anon: dispatch_mark_all_read is refused');
select throws_ok($$select * from dispatch.notifications$$, '42501', 'permission denied for schema dispatch', 'anon: no dispatch schema');
select is((select count(*) from realtime.messages m join rt_ids using (id) where m.topic like 'dispatch:%'), 0::bigint,
  'anon reads no dispatch topic');
select is((select count(*) from realtime.messages m join rt_ids using (id) where m.topic = 'room1'), 1::bigint, 'anon reads room1 (app policy)');
select throws_ok($$insert into realtime.messages (topic, extension, event, payload) values ('dispatch:audience:admin', 'broadcast', 'x', '{}')$$,
  '42501', 'new row violates row-level security policy "dispatch_send_guard" for table "messages"', 'anon cannot send on dispatch topics');
reset role;

---------------------------------------------------------------------------------------------------
-- bob (authenticated, not admin)
set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000bb","role":"authenticated"}', true);
select throws_ok($$select * from dispatch.notifications$$, '42501', 'permission denied for table notifications', 'bob: no direct table access');
select throws_ok($$select * from dispatch.receipts$$, '42501', 'permission denied for table receipts', 'bob: no direct receipts access');
select throws_ok($$select dispatch.notify('00000000-0000-0000-0000-0000000000aa', null, 'x', 'y')$$, '42501',
  'permission denied for function notify', 'bob cannot call dispatch.notify');
select throws_ok($$select * from public.dispatch_worker_claim('w')$$, '42501', 'permission denied for function dispatch_worker_claim',
  'bob cannot call the worker API');
create temp table bob_state as select public.dispatch_initial_state() as s;
select is((select jsonb_array_length(s -> 'notifications') from bob_state), 20, 'initial state: latest 20 notifications');
select is((select s -> 'notifications' -> 0 ->> 'title' from bob_state), 'B1', 'newest first');
select is((select count(*) from bob_state, jsonb_array_elements(s -> 'notifications') n where n ->> 'message' <> 'for bob'), 0::bigint,
  'only bob''s notifications');
select is((select s -> 'counters' -> 'unread_notifications' from bob_state), '{"value":25,"seq":25,"invalidates":["[\"dispatch\",\"notifications\"]"]}'::jsonb,
  'unread_notifications counter with value, seq, invalidates');
select ok(not (select (s -> 'counters') ? 'sdt_admin_queue' from bob_state), 'no admin audience counter for bob');
select is((select s -> 'topics' from bob_state), '["dispatch:user:00000000-0000-0000-0000-0000000000bb"]'::jsonb, 'bob''s topics');
select is((select n ->> 'title' from jsonb_array_elements(public.dispatch_notifications(
  (select (s -> 'notifications' -> 19 ->> 'createdAt')::timestamptz from bob_state), 20)) n limit 1), 'B21', 'pagination with before');
select is(jsonb_array_length(public.dispatch_notifications(null, 5)), 5, 'max_rows');
select throws_ok($$select public.dispatch_notifications(null, 0)$$, '22023', 'dispatch: max_rows must be between 1 and 100', 'max_rows validated');
select throws_ok($$select public.dispatch_mark_read(null)$$, '22023', 'dispatch: ids must not be null (use dispatch_mark_all_read)', 'mark_read needs ids');
select is(public.dispatch_mark_read(array(select (n ->> 'id')::uuid from bob_state, jsonb_array_elements(s -> 'notifications') n limit 2)), 2,
  'bob marks two of his notifications read');
reset role;
create temp table admin_ids as select id from dispatch.notifications where user_id = '00000000-0000-0000-0000-0000000000aa';
grant select on admin_ids to authenticated;
set local role authenticated;
select is(public.dispatch_mark_read(array(select id from admin_ids)), 0, 'bob cannot mark the admin''s notifications');
select is(public.dispatch_mark_all_read(), 23, 'mark all read returns the number changed');
select is((public.dispatch_initial_state() -> 'counters' -> 'unread_notifications' ->> 'value')::int, 0, 'unread is now 0');
select throws_ok($$select public.dispatch_receipts()$$, '42501', 'dispatch: admins only', 'bob: dispatch_receipts is admin only');
select throws_ok($$select public.dispatch_occurrences()$$, '42501', 'dispatch: admins only', 'bob: dispatch_occurrences is admin only');
select throws_ok($$select public.dispatch_replay('00000000-0000-0000-0000-000000000000')$$, '42501', 'dispatch: admins only', 'bob: replay is admin only');
select throws_ok($$select public.dispatch_changes()$$, '42501', 'dispatch: admins only', 'bob: dispatch_changes is admin only');
select throws_ok($$select public.dispatch_replay_change(1)$$, '42501', 'dispatch: admins only', 'bob: replay_change is admin only');
-- preferences
select is(public.dispatch_set_preference('sdt.rpc', 'email', false), '{"eventId":"sdt.rpc","category":null,"transport":"email","enabled":false}'::jsonb,
  'set a preference');
select lives_ok($$select public.dispatch_set_preference('sdt.rpc', 'email', true)$$, 'set it again (upsert)');
select lives_ok($$select public.dispatch_set_preference(null, null, false, 'orders')$$, 'category-wide preference');
select is(public.dispatch_preferences() -> 'preferences',
  '[{"eventId":null,"category":"orders","transport":null,"enabled":false},{"eventId":"sdt.rpc","category":null,"transport":"email","enabled":true}]'::jsonb,
  'dispatch_preferences lists the user''s preferences');
select is((select jsonb_agg(e) from jsonb_array_elements(public.dispatch_preferences() -> 'events') e where e ->> 'id' like 'sdt.%'), '[{"id":"sdt.rpc","category":"orders","type":"success","description":"Order updates","transports":["email","in_app"]}]'::jsonb,
  'dispatch_preferences lists the configurable events');
select throws_ok($$select public.dispatch_set_preference('nope', 'email', false)$$, '22023', 'dispatch: unknown event nope', 'unknown event');
select throws_ok($$select public.dispatch_set_preference('sdt.security', 'email', false)$$, '22023',
  'dispatch: event sdt.security is not user-configurable', 'not user-configurable');
select throws_ok($$select public.dispatch_set_preference('sdt.rpc', 'email', null)$$, '22023', 'dispatch: enabled must be true or false', 'enabled required');
-- realtime: own topic yes, other user's and foreign audiences no, and no sending on dispatch topics
select set_config('realtime.topic', 'dispatch:user:00000000-0000-0000-0000-0000000000bb', true);
select is(array(select distinct m.topic from realtime.messages m join rt_ids using (id) where m.topic like 'dispatch:%' order by 1),
  array['dispatch:user:00000000-0000-0000-0000-0000000000bb'], 'bob reads only his own dispatch topic');
select throws_ok($$insert into realtime.messages (topic, extension, event, payload) values ('dispatch:user:00000000-0000-0000-0000-0000000000bb', 'broadcast', 'x', '{}')$$,
  '42501', 'new row violates row-level security policy "dispatch_send_guard" for table "messages"', 'bob cannot send, even on his own topic');
select lives_ok($$insert into realtime.messages (topic, extension, event, payload) values ('room1', 'broadcast', 'x', '{}')$$,
  'other topics are the app''s business');
reset role;

---------------------------------------------------------------------------------------------------
-- admin
set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000aa","role":"authenticated"}', true);
-- (only the audiences this file knows: a project's generated migration, e.g. the demo's `admins` read
-- from its profiles table, may add its own for the same user)
select is((select jsonb_agg(t) from jsonb_array_elements_text(public.dispatch_initial_state() -> 'topics') t
           where t not like 'dispatch:audience:%' or t in ('dispatch:audience:admin', 'dispatch:audience:sales')),
  '["dispatch:user:00000000-0000-0000-0000-0000000000aa","dispatch:audience:admin"]'::jsonb,
  'admin topics include the admin audience');
select is(public.dispatch_initial_state() -> 'counters' -> 'sdt_admin_queue', '{"value":7,"seq":1,"invalidates":["queue"]}'::jsonb,
  'admin sees the audience counter');
select is(array(select distinct m.topic from realtime.messages m join rt_ids using (id) where m.topic like 'dispatch:%' order by 1),
  array['dispatch:audience:admin', 'dispatch:user:00000000-0000-0000-0000-0000000000aa'], 'admin reads own topic and the admin audience, not sales nor bob');
select is(jsonb_array_length(public.dispatch_receipts(event_id => 'sdt.rpc')), 1, 'admin lists receipts');
select is(public.dispatch_receipts(event_id => 'sdt.rpc', status => 'pending') -> 0 ->> 'userId', '00000000-0000-0000-0000-0000000000bb', 'filter by status');
select is(jsonb_array_length(public.dispatch_receipts(event_id => 'nope')), 0, 'filter by event');
select throws_ok($$select public.dispatch_receipts(status => 'weird')$$, '22023', 'dispatch: unknown status weird', 'status validated');
select is(public.dispatch_occurrences(event_id => 'sdt.rpc') -> 0 ->> 'receipts', '1', 'admin lists occurrences with receipt counts');
reset role;
-- a change that failed processing: listed for the admin, replayed by the admin once its cause is fixed
create table public.sdt_rpc_src (id int primary key, note text);
create function public.sdt_rpc_src_process(p_changes dispatch.changes[]) returns void language plpgsql as $$
begin
  if exists (select from unnest(p_changes) c cross join lateral json_populate_recordset(null::public.sdt_rpc_src, c.new_rows) r
             where r.note = 'bad') then
    raise exception 'sdt: cannot process';
  end if;
end $$;
select dispatch.register_source('public.sdt_rpc_src', 'public.sdt_rpc_src_process');
create trigger capture after insert on public.sdt_rpc_src referencing new table as new_rows
  for each statement execute function dispatch.capture_changes();
select pg_advisory_xact_lock(hashtext('dispatch.drain')); -- no concurrent dispatch.tick() drains under us
delete from dispatch.changes;
insert into public.sdt_rpc_src values (1, 'bad');
select is(dispatch.drain(), 1, 'the bad change is taken (and fails)');
insert into public.sdt_rpc_src values (2, 'fine');
set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000aa","role":"authenticated"}', true);
select results_eq($$select c ->> 'sourceTable', c ->> 'operation', (c ->> 'rowCount')::int, c ->> 'error', (c ->> 'attempts')::int
                   from jsonb_array_elements(public.dispatch_changes()) c$$,
  $$values ('public.sdt_rpc_src'::text, 'INSERT'::text, 1, 'P0001: sdt: cannot process'::text, 1)$$,
  'admin lists failed changes with their error');
select is(jsonb_array_length(public.dispatch_changes('waiting')), 1, 'admin lists changes waiting for a drain');
select throws_ok($$select public.dispatch_changes('weird')$$, '22023', 'dispatch: status must be failed or waiting (got weird)',
  'dispatch_changes: status validated');
select throws_ok($$select public.dispatch_replay_change((public.dispatch_changes() -> 0 ->> 'id')::bigint)$$, 'P0001',
  'sdt: cannot process', 'replaying before the cause is fixed raises the same error');
reset role;
create or replace function public.sdt_rpc_src_process(p_changes dispatch.changes[]) returns void language plpgsql as $$
begin end $$;
set local role authenticated;
select lives_ok($$select public.dispatch_replay_change((public.dispatch_changes() -> 0 ->> 'id')::bigint)$$,
  'admin replays the change once the processor is fixed');
select is(public.dispatch_changes(), '[]'::jsonb, '... and it is gone');
reset role;

-- signed-in role without a user id
set local role authenticated;
select set_config('request.jwt.claims', '{"role":"authenticated"}', true);
select throws_ok($$select public.dispatch_initial_state()$$, '42501', 'dispatch: not signed in', 'no sub claim: not signed in');
reset role;

---------------------------------------------------------------------------------------------------
-- service_role: bypasses RLS on dispatch tables, uses the worker API, not the client RPCs
set local role service_role;
select set_config('request.jwt.claims', '{"role":"service_role"}', true);
select is((select count(*) from dispatch.notifications where event_id = 'sdt.rpc'), 28::bigint, 'service_role reads every notification');
select throws_ok($$select public.dispatch_initial_state()$$, '42501', 'permission denied for function dispatch_initial_state',
  'client RPCs are for authenticated users');
select is((select count(*) from public.dispatch_worker_claim('edge-worker', 5, 60, array['sdt_test'])), 1::bigint, 'service_role claims through the worker API');
reset role;

-- prune: old sent receipts and read notifications go, recent ones stay
update dispatch.notifications set read_at = now() - interval '100 days' where user_id = '00000000-0000-0000-0000-0000000000bb' and title in ('B1', 'B2');
select is((dispatch.prune() ->> 'notifications')::int, 2, 'prune removes read notifications past their age');
select is((select count(*) from dispatch.notifications where user_id = '00000000-0000-0000-0000-0000000000bb'), 23::bigint, 'the others stay');

select * from finish();
rollback;
