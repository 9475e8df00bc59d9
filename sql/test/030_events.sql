-- supadispatch core: events end to end with a hand-written example (fixtures/tasks_example.sql: one
-- event with two channels on a test table, fired inside the write): occurrences, receipts, in-app
-- notifications, poke once per transaction, rollback, duplicate expansion, failure policy and replay,
-- preferences, emit, notify.
begin;
create extension if not exists pgtap;
select plan(54);

\ir fixtures/tasks_example.sql
\ir fixtures/broadcasts.sql

-- no debounce: each (simulated) transaction below pokes on its own (rolled back at the end)
update dispatch.settings set value = '0' where key = 'poke_interval_ms';

-- worker location in Vault (pg_net / Vault may be the real extensions or the local stand-ins)
delete from vault.secrets where name in ('dispatch_worker_url', 'dispatch_worker_secret'); -- rolled back at the end
select vault.create_secret('http://127.0.0.1:9/functions/v1/dispatch-worker', 'dispatch_worker_url');
select vault.create_secret('worker-secret', 'dispatch_worker_secret');
create temp table net_before as select count(*) as n from net.http_request_queue;
create temp table u (k text primary key, id uuid);
insert into u values ('a', '00000000-0000-0000-0000-0000000000aa'), ('b', '00000000-0000-0000-0000-0000000000bb');

-- the app writes, as a signed-in user
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000aa","role":"authenticated"}', true);
insert into public.sdt_tasks (title, assignee_id) values
  ('Write docs', (select id from u where k = 'a')), ('Review', (select id from u where k = 'a')),
  ('Ship', (select id from u where k = 'b')), ('Unassigned', null);
select set_config('request.jwt.claims', '', true);

select is((select count(*) from dispatch.occurrences where event_id = 'task.assigned'), 3::bigint,
  'one occurrence per matching row (the unassigned row fires nothing)');
select results_eq($$select operation, source_table, status, actor, new_record ->> 'title', old_record
  from dispatch.occurrences where new_record ->> 'title' = 'Ship'$$,
  $$values ('INSERT'::text, 'public.sdt_tasks'::text, 'expanded'::text, '00000000-0000-0000-0000-0000000000aa'::uuid, 'Ship'::text, null::jsonb)$$,
  'occurrence: operation, source, status, actor (auth.uid()), new record');
select is((select count(*) from dispatch.receipts where event_id = 'task.assigned'), 6::bigint, 'two channels x three recipients');
select results_eq($$select transport, status, count(*) from dispatch.receipts where event_id = 'task.assigned' group by 1, 2 order by 1$$,
  $$values ('email'::text, 'pending'::text, 3::bigint), ('in_app'::text, 'sent'::text, 3::bigint)$$,
  'in_app delivered inline (sent), email pending for the worker');
select results_eq($$select n.title, n.message, n.action_url, n.action_label, n.type, n.read_at is null, r.transport
  from dispatch.notifications n join dispatch.receipts r on r.id = n.receipt_id where n.message like '%Ship'$$,
  $$values ('New task'::text, 'You were assigned Ship'::text, '/tasks/3'::text, 'Open'::text, 'info'::text, true, 'in_app'::text)$$,
  'in-app notification rendered from the record, linked to its receipt');
select is((select count(*) from dispatch.notifications where user_id = (select id from u where k = 'a')), 2::bigint,
  'user a has two notifications');
select is((select count(*) from net.http_request_queue) - (select n from net_before), 1::bigint,
  'one pg_net call for the transaction');
select results_eq($$select url, headers ->> 'x-dispatch-secret', headers ->> 'Content-Type' from net.http_request_queue order by id desc limit 1$$,
  $$values ('http://127.0.0.1:9/functions/v1/dispatch-worker'::text, 'worker-secret'::text, 'application/json'::text)$$,
  'the worker is called with its URL and secret from Vault');

-- a second statement in the same transaction does not call again
insert into public.sdt_tasks (title, assignee_id) values ('More', (select id from u where k = 'b'));
insert into public.sdt_tasks (title, assignee_id) select 'Bulk ' || g, (select id from u where k = 'b') from generate_series(1, 50) g;
select is((select count(*) from net.http_request_queue) - (select n from net_before), 1::bigint,
  'still one pg_net call after more statements (once per transaction)');
select is((select count(*) from dispatch.receipts where event_id = 'task.assigned'), 108::bigint, 'bulk insert expanded set-based');

-- broadcasts of notifications
select results_eq($$select event, (payload - 'id' - 'createdAt') from pg_temp.broadcasts
  where inserted_at = now()::timestamp and event = 'notification' and payload ->> 'message' = 'You were assigned Ship'$$,
  $$values ('notification'::text, '{"eventId":"task.assigned","type":"info","title":"New task","message":"You were assigned Ship",
            "actionUrl":"/tasks/3","actionLabel":"Open","metadata":{},"read":false}'::jsonb)$$,
  'notification payload (DESIGN.md)');
select is((select topic from pg_temp.broadcasts where event = 'notification' and inserted_at = now()::timestamp and payload ->> 'message' = 'You were assigned Ship'),
  'dispatch:user:00000000-0000-0000-0000-0000000000bb', 'sent to the user topic');
select ok((select bool_and(private and extension = 'broadcast') from realtime.messages where inserted_at = now()::timestamp),
  'private broadcasts');

-- update: fires only when the assignee changes; old record kept
update public.sdt_tasks set title = 'Write better docs' where title = 'Write docs';
select is((select count(*) from dispatch.occurrences where event_id = 'task.assigned' and operation = 'UPDATE'), 0::bigint,
  'an update without a new assignee fires nothing');
update public.sdt_tasks set assignee_id = (select id from u where k = 'b') where title = 'Review';
select results_eq($$select operation, old_record ->> 'assignee_id', new_record ->> 'assignee_id' from dispatch.occurrences
  where event_id = 'task.assigned' and operation = 'UPDATE'$$,
  $$values ('UPDATE'::text, '00000000-0000-0000-0000-0000000000aa'::text, '00000000-0000-0000-0000-0000000000bb'::text)$$,
  'reassignment fires with old and new record');

-- duplicate expansion
select is(dispatch.replay((select id from dispatch.occurrences where new_record ->> 'title' = 'Ship')), 0,
  'replaying an expanded occurrence creates nothing');
select results_eq($$select count(*), max(o.replay_count) from dispatch.receipts r join dispatch.occurrences o on o.id = r.occurrence_id
  where o.new_record ->> 'title' = 'Ship'$$, $$values (2::bigint, 1)$$, 'still two receipts; replay counted');
select throws_ok($$select dispatch.replay('00000000-0000-0000-0000-000000000000')$$, 'P0001',
  'dispatch: occurrence 00000000-0000-0000-0000-000000000000 not found', 'replay: unknown occurrence');

-- rollback leaves nothing
create temp table snap as select
  (select count(*) from dispatch.occurrences) as occ, (select count(*) from dispatch.receipts) as rec,
  (select count(*) from dispatch.notifications) as notif, (select count(*) from realtime.messages) as msg,
  (select count(*) from net.http_request_queue) as net,
  (select coalesce(sum(value), 0) from dispatch.counter_state) as cnt;
select set_config('dispatch.poked', '', true); -- as if a new transaction began
savepoint app_write;
insert into public.sdt_tasks (title, assignee_id) values ('Rolled back', (select id from u where k = 'a'));
select ok((select count(*) from net.http_request_queue) > (select net from snap), 'inside the write: a poke is queued');
rollback to savepoint app_write;
select results_eq($$select (select count(*) from dispatch.occurrences), (select count(*) from dispatch.receipts),
  (select count(*) from dispatch.notifications), (select count(*) from realtime.messages), (select count(*) from net.http_request_queue),
  (select coalesce(sum(value), 0) from dispatch.counter_state)$$, $$select occ, rec, notif, msg, net, cnt from snap$$,
  'after rollback: no occurrence, receipt, notification, broadcast, pg_net call or counter change');
select set_config('dispatch.poked', 'on', true);

-- failure policy: a failing expansion does not abort the app write
create function public.sdt_expand_broken(occurrences dispatch.occurrences[]) returns void language plpgsql as $$
begin raise exception 'audience query failed'; end $$;
select dispatch.register_event('sdt.broken', 'public.sdt_expand_broken', 'public.sdt_src', 'test');
create table public.sdt_src (id int primary key, user_id uuid);
create function public.sdt_src_events() returns trigger language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.fire('sdt.broken', tg_op, 'public.sdt_src', (select jsonb_agg(jsonb_build_object('new', to_jsonb(n))) from new_rows n));
  return null;
end $$;
create trigger sdt_src_events after insert on public.sdt_src referencing new table as new_rows
  for each statement execute function public.sdt_src_events();
select lives_ok($$insert into public.sdt_src values (1, '00000000-0000-0000-0000-0000000000aa')$$, 'the app write succeeds');
select is((select count(*) from public.sdt_src), 1::bigint, 'the app row is there');
select results_eq($$select status, error from dispatch.occurrences where event_id = 'sdt.broken'$$,
  $$values ('failed'::text, 'P0001: audience query failed'::text)$$, 'the occurrence is kept with its error');
select throws_ok(format('select dispatch.replay(%L)', (select id from dispatch.occurrences where event_id = 'sdt.broken')),
  'P0001', 'audience query failed', 'replay raises while the cause remains');
create or replace function public.sdt_expand_broken(occurrences dispatch.occurrences[]) returns void language plpgsql as $$
begin
  perform dispatch.create_receipts('sdt.broken', 'in_app:user', 'in_app', 'user', interval '0',
    array(select row(o.id, (o.new_record ->> 'user_id')::uuid, null, '{"title":"Fixed"}'::jsonb)::dispatch.recipient
          from unnest(occurrences) o));
end $$;
select is(dispatch.replay((select id from dispatch.occurrences where event_id = 'sdt.broken')), 1, 'replay after the fix creates the receipt');
select results_eq($$select status, error, replay_count from dispatch.occurrences where event_id = 'sdt.broken'$$,
  $$values ('expanded'::text, null::text, 1)$$, 'the occurrence is expanded');
select is(dispatch.replay((select id from dispatch.occurrences where event_id = 'sdt.broken')), 0, 'a second replay duplicates nothing');

-- strict events raise
create function public.sdt_expand_strict(occurrences dispatch.occurrences[]) returns void language plpgsql as $$
begin raise exception 'strict audience failed'; end $$;
select dispatch.register_event('sdt.strict', 'public.sdt_expand_strict', null, 'test', 'info', true, true);
select throws_ok($$select dispatch.emit('sdt.strict', '{}')$$, 'P0001', 'strict audience failed', 'a strict event aborts the write');
select throws_ok($$select dispatch.emit('nope', '{}')$$, 'P0001', 'dispatch: unknown event nope', 'emit: unknown event');
select is((select count(*) from dispatch.occurrences where event_id = 'sdt.strict'), 0::bigint, 'nothing recorded for the strict failure');
select is(dispatch.fire('task.assigned', 'INSERT', 'x', '[]'), '{}'::uuid[], 'fire with no records does nothing');
select is((dispatch.fire('nope', 'INSERT', 'x', '[{"new":{}}]'))[1] is not null, true, 'fire with an unknown event records it');
select is((select error from dispatch.occurrences where event_id = 'nope'), 'dispatch: unknown event nope', '... as failed');

-- emit (manual trigger)
select ok(dispatch.emit('task.assigned', jsonb_build_object('id', 999, 'title', 'By hand', 'assignee_id', (select id from u where k = 'a'))) is not null,
  'emit returns the occurrence id');
select results_eq($$select o.operation, count(r.*) from dispatch.occurrences o join dispatch.receipts r on r.occurrence_id = o.id
  where o.new_record ->> 'title' = 'By hand' group by 1$$, $$values ('MANUAL'::text, 2::bigint)$$, 'emit expands like the trigger');

-- preferences: opted-out channels yield skipped receipts
insert into dispatch.preferences (user_id, event_id, transport, enabled) values ((select id from u where k = 'a'), 'task.assigned', 'email', false);
insert into public.sdt_tasks (title, assignee_id) values ('Pref 1', (select id from u where k = 'a'));
select results_eq($$select r.transport, r.status, r.skip_reason from dispatch.receipts r join dispatch.occurrences o on o.id = r.occurrence_id
  where o.new_record ->> 'title' = 'Pref 1' order by 1$$,
  $$values ('email'::text, 'skipped'::text, 'preference'::text), ('in_app'::text, 'sent'::text, null::text)$$,
  'email opted out: skipped (kept for audit); in_app still sent');
insert into dispatch.preferences (user_id, category, transport, enabled) values ((select id from u where k = 'a'), 'tasks', '*', false);
insert into dispatch.preferences (user_id, event_id, transport, enabled) values ((select id from u where k = 'a'), 'task.assigned', 'in_app', true);
insert into public.sdt_tasks (title, assignee_id) values ('Pref 2', (select id from u where k = 'a'));
select results_eq($$select r.transport, r.status from dispatch.receipts r join dispatch.occurrences o on o.id = r.occurrence_id
  where o.new_record ->> 'title' = 'Pref 2' order by 1$$,
  $$values ('email'::text, 'skipped'::text), ('in_app'::text, 'sent'::text)$$,
  'event + transport preference beats the category-wide opt-out');
select is((select count(*) from dispatch.notifications n join dispatch.receipts r on r.id = n.receipt_id where r.status = 'skipped'), 0::bigint,
  'no notification for a skipped in_app receipt');
select ok(not dispatch.preference_enabled((select id from u where k = 'a'), 'task.assigned', 'email'), 'preference_enabled: off');
select ok(dispatch.preference_enabled((select id from u where k = 'b'), 'task.assigned', 'email'), 'preference_enabled: default on');
update dispatch.events set user_configurable = false where id = 'task.assigned';
insert into public.sdt_tasks (title, assignee_id) values ('Pref 3', (select id from u where k = 'a'));
select results_eq($$select r.transport, r.status from dispatch.receipts r join dispatch.occurrences o on o.id = r.occurrence_id
  where o.new_record ->> 'title' = 'Pref 3' order by 1$$,
  $$values ('email'::text, 'pending'::text), ('in_app'::text, 'sent'::text)$$,
  'an event that is not user-configurable ignores preferences');

-- dispatch.notify
select ok(dispatch.notify((select id from u where k = 'b'), null, 'Hello', 'From SQL', '/x', 'Go', '{"k":1}') is not null, 'notify returns the id');
select results_eq($$select title, message, action_url, action_label, metadata, type from dispatch.notifications where title = 'Hello'$$,
  $$values ('Hello'::text, 'From SQL'::text, '/x'::text, 'Go'::text, '{"k":1}'::jsonb, 'info'::text)$$, 'notify stores the notification');
select throws_ok($$select dispatch.notify(null, null, 'x', 'y')$$, 'P0001', 'dispatch: notify needs a user id', 'notify needs a user');

-- delayed in_app: delivered by the worker
select dispatch.register_event('sdt.later', null, null, 'test', 'info', false);
select dispatch.create_receipts('sdt.later', 'in_app:user', 'in_app', 'user', interval '1 hour',
  array[row(dispatch.emit('sdt.later', '{}'), (select id from u where k = 'b'), null, '{"title":"Later","message":"m"}')::dispatch.recipient]);
update dispatch.receipts set next_attempt_at = now() where event_id = 'sdt.later';
create temp table cl as select * from dispatch.claim_receipts('w', 10, 60, array['in_app']) where event_id = 'sdt.later';
select ok(dispatch.deliver_in_app_receipt((select id from cl), (select lease_token from cl)) is not null, 'deliver_in_app_receipt');
select results_eq($$select r.status, n.title from dispatch.receipts r join dispatch.notifications n on n.receipt_id = r.id where r.event_id = 'sdt.later'$$,
  $$values ('sent'::text, 'Later'::text)$$, 'delayed in_app receipt sent with its notification');

-- a JWT whose sub is not a uuid (third-party auth): app writes go on (no actor); the client RPCs say
-- "not signed in"
select set_config('request.jwt.claims', '{"sub":"user_abc","role":"authenticated"}', true);
select lives_ok($$insert into public.sdt_tasks (title, assignee_id) values ('third-party', (select id from u where k = 'b'))$$,
  'non-uuid sub: an app insert that fires task.assigned succeeds');
select results_eq($$select o.actor, o.status from dispatch.occurrences o where o.event_id = 'task.assigned' and o.new_record ->> 'title' = 'third-party'$$,
  $$values (null::uuid, 'expanded'::text)$$, 'non-uuid sub: the occurrence has no actor');
set local role authenticated;
select throws_ok($$select public.dispatch_initial_state()$$, '42501', 'dispatch: not signed in',
  'non-uuid sub: dispatch_initial_state says not signed in');
reset role;
select set_config('request.jwt.claims', '', true);

-- the cap of compiled templates (generated expanders): dispatch.render_cap / render_fit cut as render does
select is(dispatch.render_cap(), 100000, 'render_cap: render_max_length (default 100000)');
select is(dispatch.render_fit('hello world', 100000), 'hello world', 'render_fit: within the cap, kept');
update dispatch.settings set value = '1' where key = 'render_max_length'; -- rolled back at the end
select is(dispatch.render_cap(), 12, 'render_cap: never below the marker''s length');
update dispatch.settings set value = '14' where key = 'render_max_length';
select is(dispatch.render_fit('hello world, and more', dispatch.render_cap()),
          dispatch.render('hello {{w}}', '{"w": "world, and more"}'::jsonb), 'render_fit: cut as render cuts');
select is(dispatch.render_fit(null, 14), null, 'render_fit: null stays null');

select * from finish();
rollback;
