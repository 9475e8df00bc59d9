-- supadispatch core: module events queued for the worker, the admin check RPC, the manual trigger's
-- idempotency key, auth email receipts.
begin;
create extension if not exists pgtap;
select plan(25);

-- a module-only event, as the generator registers it (no expander)
select dispatch.register_event(p_id => 'sdt.module_ev', p_config => '{"module": "./dispatch/x.ts"}'::jsonb);
select dispatch.register_event(p_id => 'sdt.plain_ev');
select is((select expander from dispatch.events where id = 'sdt.module_ev'), 'dispatch.queue_module_occurrences',
  'a module event without an expander gets the queue''s');
select is((select expander from dispatch.events where id = 'sdt.plain_ev'), null, 'other events keep theirs (none)');
select dispatch.register_event(p_id => 'sdt.module_ev', p_config => '{"module": "./dispatch/x.ts"}'::jsonb);
select is((select expander from dispatch.events where id = 'sdt.module_ev'), 'dispatch.queue_module_occurrences',
  'registering again keeps it');

create temp table occ as select dispatch.emit('sdt.module_ev', '{"id": 1, "name": "Ada"}') as id;
select is((select count(*) from dispatch.module_queue q join occ on occ.id = q.occurrence_id), 1::bigint,
  'an occurrence of a module event is queued');
select is((select count(*) from dispatch.module_occurrences_due(1000) o join occ on occ.id = o.id), 1::bigint,
  'and listed as due with its record');
select is((select new_record ->> 'name' from dispatch.module_occurrences_due(1000) o join occ on occ.id = o.id), 'Ada',
  'the due occurrence carries its record');
select is(dispatch.create_receipts('sdt.module_ev', 'email:module', 'email', 'module', interval '0',
  array[row((select id from occ), null, 'ada@example.test', null)::dispatch.recipient]), 1, 'receipts created once');
select is(dispatch.create_receipts('sdt.module_ev', 'email:module', 'email', 'module', interval '0',
  array[row((select id from occ), null, 'ada@example.test', null)::dispatch.recipient]), 0, 'and not twice');
select dispatch.finish_module_occurrence((select id from occ));
select is((select count(*) from dispatch.module_queue q join occ on occ.id = q.occurrence_id), 0::bigint,
  'finished: off the queue');
select dispatch.finish_module_occurrence((select id from occ), 'recipients: boom');
select is((select status || ' ' || error from dispatch.occurrences where id = (select id from occ)), 'failed recipients: boom',
  'a module error fails the occurrence with its reason');
select lives_ok($$select dispatch.replay((select id from occ))$$, 'replay works');
select is((select count(*) from dispatch.module_queue q join occ on occ.id = q.occurrence_id), 1::bigint,
  'replay queues the occurrence again');

-- admin check through PostgREST
select ok(has_function_privilege('authenticated', 'public.dispatch_is_admin()', 'execute')
          and not has_function_privilege('anon', 'public.dispatch_is_admin()', 'execute'),
  'dispatch_is_admin: authenticated only');
insert into dispatch.admins (user_id) values ('00000000-0000-0000-0000-0000000000ad');
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000ad","role":"authenticated"}', true);
select ok(public.dispatch_is_admin(), 'an admin is one');
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000bb","role":"authenticated"}', true);
select ok(not public.dispatch_is_admin(), 'another user is not');
select set_config('request.jwt.claims', '', true);

-- manual trigger idempotency
create temp table t1 as select * from dispatch.emit_once('key-1', 'sdt.plain_ev', '{"id": 7}', '00000000-0000-0000-0000-0000000000ad');
create temp table t2 as select * from dispatch.emit_once('key-1', 'sdt.plain_ev', '{"id": 7}', '00000000-0000-0000-0000-0000000000ad');
select ok((select created from t1) and not (select created from t2), 'the first call creates, the second does not');
select is((select occurrence_id from t2), (select occurrence_id from t1), 'the same key returns the same occurrence');
select is((select actor from dispatch.occurrences where id = (select occurrence_id from t1)),
  '00000000-0000-0000-0000-0000000000ad'::uuid, 'the admin is the actor');
select throws_ok($$select * from dispatch.emit_once('key-1', 'sdt.module_ev', '{}')$$, '22023',
  'dispatch: idempotency key key-1 was used for event sdt.plain_ev', 'a key reused for another event is refused');
select ok((select count(*) from dispatch.emit_once(null, 'sdt.plain_ev', '{}')) = 1, 'without a key every call fires');

-- dry run: the receipts that would be made, nothing kept
\ir fixtures/tasks_example.sql
create temp table counts as select (select count(*) from dispatch.occurrences) as o, (select count(*) from dispatch.receipts) as r,
  (select count(*) from dispatch.notifications) as n;
create temp table dry as select dispatch.dry_run_emit('task.assigned',
  '{"id": 1, "title": "Dry", "assignee_id": "00000000-0000-0000-0000-0000000000aa"}') as v;
select is((select jsonb_array_length(v -> 'receipts') from dry), 2, 'a dry run lists the receipts of every channel');
select is((select v #>> '{occurrence,status}' from dry), 'expanded', 'and the occurrence''s fate');
select ok((select o from counts) = (select count(*) from dispatch.occurrences)
          and (select r from counts) = (select count(*) from dispatch.receipts)
          and (select n from counts) = (select count(*) from dispatch.notifications), 'and writes nothing');

-- auth emails
create temp table ar as select dispatch.auth_email_receipt('auth.sdt_signup', 'email:user',
  '00000000-0000-0000-0000-0000000000bb', 'bb@example.test', '{"user": {"id": "00000000-0000-0000-0000-0000000000bb"}}') as id;
select results_eq($$select r.event_id, r.transport, r.address, r.user_id, r.status, o.actor, o.operation
  from dispatch.receipts r join dispatch.occurrences o on o.id = r.occurrence_id where r.id = (select id from ar)$$,
  $$values ('auth.sdt_signup'::text, 'email'::text, 'bb@example.test'::text, null::uuid, 'pending'::text,
            '00000000-0000-0000-0000-0000000000bb'::uuid, 'AUTH'::text)$$,
  'an auth email: one pending email receipt to the address, the user as actor');
select throws_ok($$select dispatch.auth_email_receipt('order.shipped', null, null, 'x@example.test', '{}')$$, '22023',
  'dispatch: order.shipped is not an auth event', 'only auth.* events');

select * from finish();
rollback;
