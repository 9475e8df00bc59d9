-- supadispatch core: one event to many recipients (sql/core/062_occurrences.sql, create_receipts; the
-- notifications' statement trigger in 050_notifications.sql; 030_realtime.sql, send_batch_text and
-- send_merged, which merges a statement's messages per topic and inserts them in one statement).
-- What bench/fanout.ts times, checked for what it must produce: one receipt and one notification per
-- recipient, ONE broadcast per user (its notification, then its unread counter), exact counters,
-- opted-out recipients skipped (preferences looked up set-based), re-expansion creating nothing.
begin;
create extension if not exists pgtap;
select plan(25);
select dispatch.install_realtime_policies();

\ir fixtures/broadcasts.sql

-- 300 users: ...3300001 .. ...3300300
create temp table fu as
  select g, ('00000000-0000-4000-8000-' || lpad((3300000 + g)::text, 12, '0'))::uuid as id from generate_series(1, 300) g;
create function pg_temp.fan_expand(occurrences dispatch.occurrences[]) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.create_receipts('test.fanout', 'in_app:all', 'in_app', 'all', interval '0',
    array(select row(o.id, u.id, null, jsonb_build_object('title', 'T' || u.g, 'message', 'M', 'actionUrl', '/x'))::dispatch.recipient
          from unnest(occurrences) o cross join pg_temp.fu u
          -- every recipient twice: one receipt each all the same
          cross join generate_series(1, 2)));
end $$;
select dispatch.register_event('test.fanout', 'pg_temp.fan_expand', null, 'fan_cat', 'info', true, false, array['in_app']);

-- preferences of 4 users: 1 and 2 opt out of the category; 2 turns the event's in_app back on; 3 opts out of
-- email only; 4 opts out of everything ('*')
insert into dispatch.preferences (user_id, category, transport, enabled)
  select id, 'fan_cat', '*', false from fu where g in (1, 2);
insert into dispatch.preferences (user_id, event_id, transport, enabled)
  select id, 'test.fanout', 'in_app', true from fu where g = 2;
insert into dispatch.preferences (user_id, transport, enabled) select id, 'email', false from fu where g = 3;
insert into dispatch.preferences (user_id, enabled) select id, false from fu where g = 4;

create temp table occ as select dispatch.emit('test.fanout', '{"v": 1}') as id;
create view pg_temp.fan_sent as
  select b.* from pg_temp.broadcasts b where b.inserted_at = now()::timestamp
    and b.topic like 'dispatch:user:00000000-0000-4000-8000-00000330%';

select is((select status from dispatch.occurrences where id = (select id from occ)), 'expanded', 'the event expanded');
select is((select count(*) from dispatch.receipts where occurrence_id = (select id from occ)), 300::bigint,
  'one receipt per recipient (each given twice)');
select results_eq($$select status, skip_reason, count(*) from dispatch.receipts where occurrence_id = (select id from occ)
                    group by 1, 2 order by 1$$,
  $$values ('sent'::text, null::text, 298::bigint), ('skipped', 'preference', 2)$$,
  '298 sent, 2 skipped by their preferences');
select results_eq($$select f.g from dispatch.receipts r join fu f on f.id = r.user_id
                    where r.occurrence_id = (select id from occ) and r.status = 'skipped' order by 1$$,
  $$values (1), (4)$$,
  '... the category opt-out and the global opt-out; the event + transport opt-in beats the category; email-only opt-out does not touch in_app');
select is((select count(*) from dispatch.notifications where occurrence_id = (select id from occ)), 298::bigint,
  'a notification per sent receipt');
select is((select count(*) from dispatch.notifications n join dispatch.receipts r on r.id = n.receipt_id
           where n.occurrence_id = (select id from occ) and (r.user_id <> n.user_id or r.status <> 'sent')), 0::bigint,
  '... each with its own receipt');
select is((select count(*) from dispatch.notifications n join fu f on f.id = n.user_id
           where n.occurrence_id = (select id from occ) and n.title <> 'T' || f.g), 0::bigint,
  '... and its own content');

select is((select count(distinct id) from pg_temp.fan_sent), 298::bigint, 'ONE broadcast per notified user');
select is((select count(*) from pg_temp.fan_sent where sent_event <> 'batch'), 0::bigint, '... each a batch');
select is((select count(*) from (select topic, array_agg(event order by part) as events from pg_temp.fan_sent group by topic) x
           where events <> array['notification', 'counter']), 0::bigint,
  '... holding its notification, then its unread counter');
select is((select count(*) from pg_temp.fan_sent b join fu f on b.topic = 'dispatch:user:' || f.id
           where b.event = 'counter' and (b.payload ->> 'value' <> '1' or b.payload ->> 'name' <> 'unread_notifications')), 0::bigint,
  '... the counter at 1 for each user');
select is((select count(*) from pg_temp.fan_sent b join dispatch.notifications n on n.id = (b.payload ->> 'id')::uuid
           where b.event = 'notification' and b.topic = 'dispatch:user:' || n.user_id
             and b.payload = dispatch.notification_payload(n)), 298::bigint,
  '... the notification message is notification_payload (the payload built as text is the same JSON)');
select is((select count(*) from pg_temp.fan_sent b join fu f on b.topic = 'dispatch:user:' || f.id where f.g in (1, 4)), 0::bigint,
  'no broadcast for the skipped users');
select is((select count(*) from dispatch.counter_state c join fu f on c.scope = f.id::text
           where c.name = 'unread_notifications' and c.value <> case when f.g in (1, 4) then 0 else 1 end), 0::bigint,
  'unread counters exact (none for the skipped)');
select is((select count(*) from (select * from dispatch.reconcile_counters('unread_notifications', false)) r
           join fu f on r.scope = f.id::text where r.expected <> r.actual), 0::bigint, '... equal to reconcile');

select is((select c.reloptions from pg_catalog.pg_class c where c.oid = 'dispatch.counter_state'::regclass),
  array['fillfactor=70'], 'counter_state leaves room on its pages: its updates are HOT (no new index entry)');

-- re-expansion: nothing new
select is(dispatch.replay((select id from occ)), 0, 'replay creates no receipt');
select is((select count(*) from dispatch.notifications where occurrence_id = (select id from occ)), 298::bigint,
  '... and no notification');
select is((select count(distinct id) from pg_temp.fan_sent), 298::bigint, '... nor a broadcast');
select is((select count(*) from dispatch.counter_state c join fu f on c.scope = f.id::text
           where c.name = 'unread_notifications' and c.value > 1), 0::bigint, '... counters unchanged');

-- the batches stay under the cap when it is small: a topic over it is cut, the others go as they are
update dispatch.settings set value = '600' where key = 'realtime_batch_max_bytes';
select dispatch.send_batch_text(array['dispatch:user:00000000-0000-4000-8000-000003300001',
                                      'dispatch:user:00000000-0000-4000-8000-000003300001',
                                      'dispatch:user:00000000-0000-4000-8000-000003300002',
                                      'dispatch:user:00000000-0000-4000-8000-000003300001'],
                                array['counter', 'counter', 'counter', 'counter'],
                                array['{"name":"a","pad":"' || repeat('x', 200) || '"}', '{"name":"b","pad":"' || repeat('x', 200) || '"}',
                                      '{"name":"c","id":"00000000-0000-0000-0000-0000000000cc"}', '{"name":"d"}']);
select results_eq($$select topic, sent_event, payload ->> 'name' from pg_temp.broadcasts
                    where inserted_at = now()::timestamp and payload ->> 'name' in ('a', 'b', 'c', 'd') order by 3$$,
  $$values ('dispatch:user:00000000-0000-4000-8000-000003300001'::text, 'batch'::text, 'a'::text),
           ('dispatch:user:00000000-0000-4000-8000-000003300001', 'batch', 'b'),
           ('dispatch:user:00000000-0000-4000-8000-000003300002', 'counter', 'c'),
           ('dispatch:user:00000000-0000-4000-8000-000003300001', 'counter', 'd')$$,
  'send_batch_text over the cap: every message once, cut into batches and plain messages');
select is((select max(octet_length(payload::text)) <= 600 from realtime.messages
           where inserted_at = now()::timestamp and topic = 'dispatch:user:00000000-0000-4000-8000-000003300001'
             and event = 'batch'), true, '... no batch over realtime_batch_max_bytes');
select is((select payload ->> 'id' from realtime.messages where inserted_at = now()::timestamp and payload ->> 'name' = 'c'),
  '00000000-0000-0000-0000-0000000000cc', '... a plain message keeps the id it has');
select ok((select payload ? 'id' from realtime.messages where inserted_at = now()::timestamp and payload ->> 'name' = 'd'),
  '... and gets one when it has none');
update dispatch.settings set value = '200000' where key = 'realtime_batch_max_bytes';

-- under the cap (one statement, no cut): one message per topic goes plain, with an id added where missing
select dispatch.send_batch_text(array['dispatch:user:00000000-0000-4000-8000-000003300005',
                                      'dispatch:user:00000000-0000-4000-8000-000003300006'],
                                array['counter', 'notifications_read'],
                                array['{"name":"e"}', '{"ids":null,"id":"00000000-0000-0000-0000-0000000000ff"}']);
select results_eq($$select event, payload - 'id', payload ? 'id' from realtime.messages where inserted_at = now()::timestamp
                    and topic in ('dispatch:user:00000000-0000-4000-8000-000003300005',
                                  'dispatch:user:00000000-0000-4000-8000-000003300006') and event <> 'batch' order by 1$$,
  $$values ('counter'::text, '{"name":"e"}'::jsonb, true), ('notifications_read', '{"ids":null}', true)$$,
  'send_batch_text, one message per topic: plain, each with an id');

select * from finish();
rollback;
