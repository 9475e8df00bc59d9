-- supadispatch core: exact counters (statement-level transition-table triggers, seq, sharding,
-- deferred publish, reconcile) with hand-written counter triggers that apply deltas inside the write
-- (fixtures/tasks_example.sql; generated counters are applied after commit: 035_changes), and the
-- built-in unread_notifications counter.
begin;
create extension if not exists pgtap;
select plan(41);

\ir fixtures/tasks_example.sql
\ir fixtures/broadcasts.sql

create temp table u (k text primary key, id uuid);
insert into u values ('a', '00000000-0000-0000-0000-0000000000aa'), ('b', '00000000-0000-0000-0000-0000000000bb'),
  ('c', '00000000-0000-0000-0000-0000000000cc');
-- last counter broadcast per (name, topic) in this transaction (realtime.messages.inserted_at is now())
create temp table t0 as select now() as at;
create view pg_temp.last_counter as
  select distinct on (payload ->> 'name', topic) payload ->> 'name' as name, topic,
         (payload ->> 'value')::bigint as value, (payload ->> 'seq')::bigint as seq, payload
  from pg_temp.broadcasts where event = 'counter' and inserted_at = now()::timestamp
  order by payload ->> 'name', topic, (payload ->> 'seq')::bigint desc;
create view pg_temp.counter_msgs as select * from pg_temp.broadcasts where event = 'counter' and inserted_at = now()::timestamp;

-- unsharded per-user counter: rows entering and leaving the condition
insert into public.sdt_tasks (title, assignee_id) values ('t1', (select id from u where k = 'a'));
select results_eq($$select value, seq from dispatch.counter_state where name = 'sdt_open_tasks' and scope = '00000000-0000-0000-0000-0000000000aa'$$,
  $$values (1::bigint, 1::bigint)$$, 'insert into the condition: value 1, seq 1');
select results_eq($$select topic, payload - 'id' from pg_temp.counter_msgs where payload ->> 'name' = 'sdt_open_tasks'$$,
  $$values ('dispatch:user:00000000-0000-0000-0000-0000000000aa'::text,
            '{"name":"sdt_open_tasks","value":1,"seq":1,"invalidates":["tasks"]}'::jsonb)$$,
  'counter payload { name, value, seq, invalidates } on the user topic');
insert into public.sdt_tasks (title, assignee_id, status) values ('t2', (select id from u where k = 'a'), 'done');
select is((select count(*) from pg_temp.counter_msgs where payload ->> 'name' = 'sdt_open_tasks'), 1::bigint,
  'insert outside the condition: no change, no broadcast');
update public.sdt_tasks set status = 'open' where title = 't2';
select results_eq($$select value, seq from dispatch.counter_state where name = 'sdt_open_tasks' and scope = '00000000-0000-0000-0000-0000000000aa'$$,
  $$values (2::bigint, 2::bigint)$$, 'update moving a row into the condition: +1');
update public.sdt_tasks set status = 'done' where title = 't1';
select is(dispatch.counter_value('sdt_open_tasks', '00000000-0000-0000-0000-0000000000aa'), 1::bigint, 'update moving a row out: -1');
update public.sdt_tasks set title = 't2 renamed' where title = 't2';
select is((select seq from dispatch.counter_state where name = 'sdt_open_tasks' and scope = '00000000-0000-0000-0000-0000000000aa'), 3::bigint,
  'an update that stays inside the condition changes nothing (no seq bump)');
update public.sdt_tasks set assignee_id = (select id from u where k = 'b') where title = 't2 renamed';
select results_eq($$select scope, value from dispatch.counter_state where name = 'sdt_open_tasks' order by scope$$,
  $$values ('00000000-0000-0000-0000-0000000000aa'::text, 0::bigint), ('00000000-0000-0000-0000-0000000000bb'::text, 1::bigint)$$,
  'reassigning moves the count from a to b');
delete from public.sdt_tasks where title = 't2 renamed';
select is(dispatch.counter_value('sdt_open_tasks', '00000000-0000-0000-0000-0000000000bb'), 0::bigint, 'delete: -1');
select is(dispatch.counter_value('sdt_open_tasks', '00000000-0000-0000-0000-0000000000cc'), 0::bigint, 'unknown scope reads 0');

-- bulk statements: one delta per scope per statement
create temp table before_bulk as select count(*) as n from pg_temp.counter_msgs where payload ->> 'name' = 'sdt_open_tasks';
insert into public.sdt_tasks (title, assignee_id, status)
select 'bulk ' || g, ('00000000-0000-0000-0000-0000000001' || lpad((g % 10)::text, 2, '0'))::uuid,
       case when g % 4 = 0 then 'done' else 'open' end
from generate_series(1, 1000) g;
select is((select count(*) from pg_temp.counter_msgs where payload ->> 'name' = 'sdt_open_tasks') - (select n from before_bulk), 10::bigint,
  'a 1000-row insert broadcasts once per scope (10 users)');
select is((select sum(value) from dispatch.counter_state where name = 'sdt_open_tasks'), 750::numeric, '750 open rows counted');
select is((select count(*) from dispatch.counter_state where name = 'sdt_open_tasks' and seq > 1 and scope like '%0001__'), 0::bigint,
  'each scope got exactly one update for the statement');
update public.sdt_tasks set status = case when status = 'open' then 'done' else 'open' end where title like 'bulk %';
select is((select sum(value) from dispatch.counter_state where name = 'sdt_open_tasks'), 250::numeric, 'bulk update flips in and out');
delete from public.sdt_tasks where title like 'bulk %' and id % 2 = 0;
select is((select count(*) from dispatch.counter_state where value < 0), 0::bigint, 'no counter is negative');
select is((select count(*) from dispatch.reconcile_counters('sdt_open_tasks', false) where expected <> actual), 0::bigint,
  'incremental values equal a recount after bulk statements');
select ok((select bool_and(l.value = s.value and l.seq = s.seq) from pg_temp.last_counter l
           join dispatch.counter_state s on s.name = l.name and 'dispatch:user:' || s.scope = l.topic
           where l.name = 'sdt_open_tasks'), 'the last broadcast of every scope carries its current value');

-- sharded audience counter: published once per transaction, at commit (deferred constraint trigger)
select is((select count(*) from pg_temp.counter_msgs where payload ->> 'name' = 'sdt_all_open_tasks'), 0::bigint,
  'sharded counter: nothing broadcast before commit');
select ok((select count(*) from dispatch.counter_dirty where name = 'sdt_all_open_tasks') = 1, 'the scope is marked dirty once');
select ok((select count(*) from dispatch.counter_dirty where name = 'sdt_all_open_tasks' and delta = (select count(*) from public.sdt_tasks where status = 'open') - dispatch.counter_value('sdt_all_open_tasks', 'admin')) = 1,
  'the net delta waits for commit');
set constraints dispatch.counter_dirty_publish immediate; -- what COMMIT does
select results_eq($$select topic, payload - 'id' from pg_temp.counter_msgs where payload ->> 'name' = 'sdt_all_open_tasks'$$,
  $$select 'dispatch:audience:admin'::text, jsonb_build_object('name', 'sdt_all_open_tasks', 'value',
      (select count(*) from public.sdt_tasks where status = 'open'), 'seq', 1, 'invalidates', '["tasks","admin-tasks"]'::jsonb)$$,
  'published once at commit on the audience topic with the exact value');
select is((select count(*) from dispatch.counter_dirty), 0::bigint, 'dirty marks are consumed');
set constraints dispatch.counter_dirty_publish deferred;
insert into public.sdt_tasks (title, assignee_id) values ('s1', null), ('s2', null);
delete from public.sdt_tasks where title = 's1';
set constraints dispatch.counter_dirty_publish immediate;
select results_eq($$select value, seq from pg_temp.last_counter where name = 'sdt_all_open_tasks'$$,
  $$select (select count(*) from public.sdt_tasks where status = 'open'), 2::bigint$$,
  'two statements, one publish with the next seq');
set constraints dispatch.counter_dirty_publish deferred;

-- reconcile
update dispatch.counter_state set value = 99 where name = 'sdt_open_tasks' and scope = '00000000-0000-0000-0000-0000000000aa';
select results_eq($$select expected, actual, corrected from dispatch.reconcile_counters('sdt_open_tasks', false)
  where scope = '00000000-0000-0000-0000-0000000000aa'$$, $$values (0::bigint, 99::bigint, false)$$,
  'reconcile without apply reports the drift');
select results_eq($$select expected, actual, corrected from dispatch.reconcile_counters('sdt_open_tasks')
  where scope = '00000000-0000-0000-0000-0000000000aa'$$, $$values (0::bigint, 99::bigint, true)$$, 'reconcile corrects it');
select results_eq($$select value, seq, payload ->> 'value' from pg_temp.last_counter where name = 'sdt_open_tasks'
  and topic = 'dispatch:user:00000000-0000-0000-0000-0000000000aa'$$,
  $$select 0::bigint, seq, '0'::text from dispatch.counter_state where name = 'sdt_open_tasks' and scope = '00000000-0000-0000-0000-0000000000aa'$$,
  'the correction is broadcast with a new seq');
update dispatch.counter_state set value = value + 5 where name = 'sdt_all_open_tasks' and scope = 'admin';
select results_eq($$select expected, actual - expected, corrected from dispatch.reconcile_counters('sdt_all_open_tasks')$$,
  $$values ((select count(*) from public.sdt_tasks where status = 'open'), 5::bigint, true)$$, 'reconcile fixes a sharded counter');
select is((select value from pg_temp.last_counter where name = 'sdt_all_open_tasks'), (select count(*) from public.sdt_tasks where status = 'open'),
  '... and publishes the right value');
select is((select count(*) from dispatch.reconcile_counters() where corrected and name like 'sdt\_%'), 0::bigint, 'a second reconcile finds nothing to fix');
select is((select count(*) from dispatch.reconcile_counters() where expected <> actual and name like 'sdt\_%'), 0::bigint, 'all test counters agree with a recount');
select throws_ok($$select * from dispatch.reconcile_counters('nope')$$, 'P0001', 'dispatch: unknown counter nope', 'reconcile: unknown counter');
select throws_ok($$select dispatch.apply_counter_deltas('nope', array[row('x', 1)::dispatch.counter_delta])$$, 'P0001',
  'dispatch: unknown counter nope', 'apply_counter_deltas: unknown counter');
select lives_ok($$select dispatch.apply_counter_deltas('nope', '{}')$$, 'no deltas: nothing to check');
select lives_ok($$select dispatch.apply_counter_deltas('sdt_open_tasks', array[row('x', 1)::dispatch.counter_delta, row('x', -1)::dispatch.counter_delta])$$,
  'deltas summing to zero');
select is((select count(*) from dispatch.counter_state where scope = 'x'), 0::bigint, '... change nothing');

-- unread_notifications follows dispatch.notifications
create temp table n as select dispatch.notify((select id from u where k = 'c'), null, 'n' || g, 'm') as id from generate_series(1, 3) g;
select is(dispatch.counter_value('unread_notifications', '00000000-0000-0000-0000-0000000000cc'), 3::bigint, 'three unread');
select is(dispatch.mark_read((select id from u where k = 'c'), array[(select min(id::text)::uuid from n)]), 1, 'mark one read');
select is(dispatch.counter_value('unread_notifications', '00000000-0000-0000-0000-0000000000cc'), 2::bigint, 'two unread');
select results_eq($$select payload -> 'ids' from pg_temp.broadcasts where event = 'notifications_read' and inserted_at = now()::timestamp
  and topic = 'dispatch:user:00000000-0000-0000-0000-0000000000cc'$$,
  $$select jsonb_build_array(min(id::text)) from n$$, 'notifications_read with the ids');
delete from dispatch.notifications where id = (select max(id::text)::uuid from n);
select is(dispatch.counter_value('unread_notifications', '00000000-0000-0000-0000-0000000000cc'), 1::bigint, 'deleting an unread one: -1');
select is(dispatch.mark_read((select id from u where k = 'c'), null), 1, 'mark all read');
select results_eq($$select l.value, r.payload -> 'ids' from pg_temp.last_counter l, lateral (
    select m.payload from pg_temp.broadcasts m where m.event = 'notifications_read' and m.inserted_at = now()::timestamp
    order by m.payload -> 'ids' = 'null' desc limit 1) r
  where l.name = 'unread_notifications' and l.topic = 'dispatch:user:00000000-0000-0000-0000-0000000000cc'$$,
  $$values (0::bigint, 'null'::jsonb)$$, 'all read: counter 0 broadcast, notifications_read { ids: null }');

select * from finish();
rollback;
