-- supadispatch core: one realtime broadcast per topic per statement / per drain (sql/core/030_realtime.sql,
-- send_batch, merge_broadcasts, defer_broadcasts / flush_broadcasts; 065_changes.sql, drain and
-- replay_change). The messages bound for one topic go out as ONE `batch` broadcast
-- { messages: [{ event, payload }, ...] } in the order produced, each inner message in its DESIGN.md
-- shape; a topic with one message keeps its plain event; a topic's batch is cut at
-- realtime_batch_max_bytes; realtime_batch_messages = false sends every message alone, as before.
-- Uses the change-capture example (fixtures/changes_example.sql: event sdc.order_created, in-app to
-- the order's user, and the per-user counter sdc_open_orders).
begin;
create extension if not exists pgtap;
select plan(25);
select dispatch.install_realtime_policies();

delete from dispatch.changes;
update dispatch.settings set value = '600000' where key = 'poke_interval_ms';
update dispatch.worker_wake set poked_at = now(), next_poke_at = now() + interval '1 day';

\ir fixtures/changes_example.sql
\ir fixtures/broadcasts.sql

create temp table u (k text primary key, id uuid);
insert into u values ('a', '00000000-0000-0000-0000-0000000032aa'), ('b', '00000000-0000-0000-0000-0000000032bb'),
  ('c', '00000000-0000-0000-0000-0000000032cc'), ('d', '00000000-0000-0000-0000-0000000032dd');
-- this transaction's broadcasts on the test topics, in insertion order
create view pg_temp.sent as
  select m.topic, m.event, m.payload from realtime.messages m
  where m.inserted_at = now()::timestamp and m.topic like 'dispatch:user:00000000-0000-0000-0000-0000000032%';
create temp table seen (id uuid primary key);
-- what arrived since the last call (realtime.messages of one transaction share inserted_at)
create function pg_temp.fresh() returns table (topic text, event text, payload jsonb) language sql as $$
  with n as (insert into seen select m.id from realtime.messages m
             where m.inserted_at = now()::timestamp and m.topic like 'dispatch:user:00000000-0000-0000-0000-0000000032%'
             on conflict do nothing returning id)
  select m.topic, m.event, m.payload from realtime.messages m join n using (id)
$$;
select count(*) from pg_temp.fresh();

select is((select value #>> '{}' from dispatch.settings where key = 'realtime_batch_messages'), 'true',
  'realtime_batch_messages is on by default');
select is((select (value #>> '{}')::int from dispatch.settings where key = 'realtime_batch_max_bytes'), 200000,
  'realtime_batch_max_bytes defaults to 200000 (hosted Free plan limit: 256 KB)');

---------------------------------------------------------------------------------------------------
-- outside a drain: one statement's messages per topic

select dispatch.notify((select id from u where k = 'a'), null, 'Hello', 'first');
select results_eq($$select topic, event, jsonb_array_length(payload -> 'messages') from pg_temp.fresh()$$,
  $$values ('dispatch:user:00000000-0000-0000-0000-0000000032aa'::text, 'batch'::text, 2)$$,
  'notify: the notification and the unread counter go out as ONE batch broadcast');
select results_eq($$select event, payload - 'id' - 'createdAt' - 'seq' from pg_temp.broadcasts
    where inserted_at = now()::timestamp and topic = 'dispatch:user:00000000-0000-0000-0000-0000000032aa' order by part$$,
  $$values ('notification'::text, '{"eventId":null,"type":"info","title":"Hello","message":"first","actionUrl":null,
                                    "actionLabel":null,"metadata":{},"read":false}'::jsonb),
           ('counter', '{"name":"unread_notifications","value":1,"invalidates":["[\"dispatch\",\"notifications\"]"]}')$$,
  '... inside: the notification then the counter, in their DESIGN.md shapes');
select ok((select (m.payload ? 'id') and not (m.payload -> 'messages' -> 1 -> 'payload' ? 'id')
           from realtime.messages m where m.inserted_at = now()::timestamp and m.event = 'batch'
             and m.topic = 'dispatch:user:00000000-0000-0000-0000-0000000032aa'),
  '... the batch carries the message id; inner counters get none added');
select is((select array_agg(distinct substr(m.id::text, 15, 1)) from realtime.messages m where m.inserted_at = now()::timestamp),
  array['7'], '... its realtime.messages rows take time-ordered ids (uuid_v7: a day''s partition stays append-only)');

delete from dispatch.notifications where user_id = (select id from u where k = 'a');
select results_eq($$select event, payload ->> 'value' from pg_temp.fresh()$$,
  $$values ('counter'::text, '0'::text)$$, 'a lone counter update stays a plain counter broadcast');

insert into dispatch.notifications (user_id, title) select (select id from u where k = k2), 'n' || g
  from generate_series(1, 2) g, (values ('b'), ('c')) x(k2);
select results_eq($$select topic, event, jsonb_array_length(payload -> 'messages') from pg_temp.fresh() order by topic$$,
  $$values ('dispatch:user:00000000-0000-0000-0000-0000000032bb'::text, 'batch'::text, 3),
           ('dispatch:user:00000000-0000-0000-0000-0000000032cc', 'batch', 3)$$,
  'one statement, two users: one batch per topic (2 notifications + the counter each)');

select dispatch.mark_read((select id from u where k = 'b'), null);
select results_eq($$select event, array(select e ->> 'event' from jsonb_array_elements(payload -> 'messages') e) from pg_temp.fresh()$$,
  $$values ('batch'::text, array['counter', 'notifications_read'])$$,
  'mark_read: the counter then notifications_read, in one batch');

---------------------------------------------------------------------------------------------------
-- a drain: every message of the drain for one topic in one broadcast

insert into public.sdc_orders (title, user_id) values ('A1', (select id from u where k = 'd'));
insert into public.sdc_orders (title, user_id) values ('A2', (select id from u where k = 'd'));
insert into public.sdc_orders (title, user_id) values ('A3', (select id from u where k = 'd')), ('C1', (select id from u where k = 'c'));
select is(dispatch.drain(), 3, 'drain takes the three changes');
select results_eq($$select topic, event from pg_temp.fresh() order by topic$$,
  $$values ('dispatch:user:00000000-0000-0000-0000-0000000032cc'::text, 'batch'::text),
           ('dispatch:user:00000000-0000-0000-0000-0000000032dd', 'batch')$$,
  'three changes for one user: ONE broadcast on its topic (and one for the other user)');
select results_eq($$select event, coalesce(payload ->> 'name', payload ->> 'message'), payload ->> 'value', payload ->> 'seq'
    from pg_temp.broadcasts where inserted_at = now()::timestamp and sent_event = 'batch'
      and topic = 'dispatch:user:00000000-0000-0000-0000-0000000032dd' order by part > 3, 2$$,
  $$values ('notification'::text, 'Order A1 created'::text, null::text, null::text),
           ('notification', 'Order A2 created', null, null),
           ('notification', 'Order A3 created', null, null),
           ('counter', 'sdc_open_orders', '3', '1'),
           ('counter', 'unread_notifications', '3', '1')$$,
  '... inside: the three notifications, then one counter message per counter (its value, seq +1)');
select results_eq($$select array_agg(event order by part) from pg_temp.broadcasts where inserted_at = now()::timestamp
    and sent_event = 'batch' and topic = 'dispatch:user:00000000-0000-0000-0000-0000000032dd'$$,
  $$values (array['notification', 'notification', 'notification', 'counter', 'counter'])$$,
  '... in the order produced: the notifications (one statement: created_at, id), then the counters at the drain''s end');
select is((select count(*) from pg_temp.sent where event in ('notification', 'counter')
             and topic = 'dispatch:user:00000000-0000-0000-0000-0000000032dd'), 0::bigint,
  'no plain notification or counter broadcast left beside the batches');

insert into public.sdc_orders (title, user_id) values ('A4', (select id from u where k = 'd'));
select is(dispatch.drain(), 1, 'a later drain');
select results_eq($$select e -> 'payload' ->> 'name', e -> 'payload' ->> 'value', e -> 'payload' ->> 'seq'
    from pg_temp.fresh() m, jsonb_array_elements(m.payload -> 'messages') e where e ->> 'event' = 'counter' order by 1$$,
  $$values ('sdc_open_orders'::text, '4'::text, '2'::text), ('unread_notifications', '4', '2')$$,
  '... seq goes on per counter and scope');

-- a change that fails: the messages of its failed attempt are not sent (its subtransaction takes them back)
create function dispatch.sdc_failing_process(p_changes dispatch.changes[]) returns void
language plpgsql security definer set search_path = '' as $fn$
begin
  perform dispatch.src_public_sdc_orders_process(p_changes);
  if exists (select from unnest(p_changes) ch, json_populate_recordset(null::public.sdc_orders, ch.new_rows) r
             where r.title = 'boom') then
    raise exception 'sdc: boom';
  end if;
end
$fn$;
select dispatch.register_source('public.sdc_orders', 'dispatch.sdc_failing_process');
insert into public.sdc_orders (title, user_id) values ('A5', (select id from u where k = 'd'));
insert into public.sdc_orders (title, user_id) values ('boom', (select id from u where k = 'd'));
select is(dispatch.drain(), 2, 'drain takes both (one fails)');
select results_eq($$select array(select e -> 'payload' ->> 'message' from jsonb_array_elements(m.payload -> 'messages') e
                                 where e ->> 'event' = 'notification'),
                           (select e -> 'payload' ->> 'value' from jsonb_array_elements(m.payload -> 'messages') e
                             where e -> 'payload' ->> 'name' = 'unread_notifications')
    from pg_temp.fresh() m$$,
  $$values (array['Order A5 created'], '5'::text)$$,
  'one batch: the notification of A5 only (boom''s failed attempt sent nothing), unread 5');
select dispatch.register_source('public.sdc_orders', 'dispatch.src_public_sdc_orders_process');

---------------------------------------------------------------------------------------------------
-- cut by size

update dispatch.settings set value = '1000' where key = 'realtime_batch_max_bytes';
create temp table big as
  select g as i, 'dispatch:user:00000000-0000-0000-0000-0000000032aa'::text as topic, 'counter'::text as event,
         jsonb_build_object('name', 'c' || g, 'value', g, 'seq', g, 'invalidates', '[]'::jsonb,
                            'pad', repeat('x', case when g = 12 then 700 else 60 end)) as payload
  from generate_series(1, 30) g;
select dispatch.send_batch(array(select topic from big order by i), array(select event from big order by i),
                           array(select payload from big order by i));
create temp table cut as select f.topic, f.event, f.payload from pg_temp.fresh() f;
select cmp_ok((select count(*) from cut), '>', 2::bigint, 'a topic''s batch over the cap is cut into several broadcasts');
select is((select max(octet_length(payload::text)) <= 1000 from cut where event = 'batch'), true,
  '... none over realtime_batch_max_bytes (its JSON text, id included)');
select results_eq($$select event, payload ->> 'value' from cut where payload ->> 'name' = 'c12'$$,
  $$values ('counter'::text, '12'::text)$$, '... a message over half the cap goes alone, plain');
-- the order they are inserted in is the order merge_broadcasts returns them (insert ... select unnest)
select results_eq($$select (e -> 'payload' ->> 'value')::int
    from (select dispatch.merge_broadcasts(array(select topic from big order by i), array(select event from big order by i),
                                           array(select payload::text from big order by i), 1000) as r) q,
         unnest((q.r).events, (q.r).payloads) with ordinality as c(event, payload, n),
         lateral jsonb_array_elements(case when c.event = 'batch' then c.payload -> 'messages'
                                           else jsonb_build_array(jsonb_build_object('payload', c.payload)) end)
           with ordinality as x(e, o)
    order by c.n, x.o$$,
  $$select i from big order by i$$, '... all the messages, in the order produced, none twice');
update dispatch.settings set value = '200000' where key = 'realtime_batch_max_bytes';

---------------------------------------------------------------------------------------------------
-- merging off: the messages of before

update dispatch.settings set value = 'false' where key = 'realtime_batch_messages';
select dispatch.notify((select id from u where k = 'a'), null, 'Plain', 'off');
select results_eq($$select event from pg_temp.fresh() order by 1$$, $$values ('counter'::text), ('notification')$$,
  'setting off, notify: a notification and a counter broadcast, as before');
insert into public.sdc_orders (title, user_id) values ('A6', (select id from u where k = 'd'));
select is(dispatch.drain(), 1, 'setting off: drain');
select results_eq($$select event from pg_temp.fresh() order by 1$$, $$values ('counter'::text), ('counter'), ('notification')$$,
  '... one broadcast per message');

select * from finish();
rollback;
