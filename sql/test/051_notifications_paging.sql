-- supadispatch core: dispatch_notifications pages on (created_at, id). Notifications made in one
-- transaction share one created_at (now()); a cursor of created_at alone skipped the rest of them at
-- a page boundary. Paged with (before, before_id), every notification comes exactly once, in order.
begin;
create extension if not exists pgtap;
select plan(16);

insert into auth.users (id, email) values
  ('00000000-0000-0000-0000-0000000000c1', 'carol@example.com'),
  ('00000000-0000-0000-0000-0000000000d1', 'dave@example.com');
-- this file is one transaction: all 25 share one created_at
select dispatch.notify('00000000-0000-0000-0000-0000000000c1', null, 'C' || g, 'for carol') from generate_series(1, 25) g;
select dispatch.notify('00000000-0000-0000-0000-0000000000d1', null, 'D' || g, 'for dave') from generate_series(1, 3) g;
create temp table carol_order as
  select id, row_number() over (order by created_at desc, id desc) as pos
  from dispatch.notifications where user_id = '00000000-0000-0000-0000-0000000000c1';
grant select on carol_order to authenticated;
select is((select count(distinct created_at) from dispatch.notifications where user_id = '00000000-0000-0000-0000-0000000000c1'),
  1::bigint, 'the 25 notifications share one created_at');

select has_function('public', 'dispatch_notifications', array['timestamp with time zone', 'integer', 'uuid'],
  'dispatch_notifications(before, max_rows, before_id)');
select hasnt_function('public', 'dispatch_notifications', array['timestamp with time zone', 'integer'],
  'the two-argument overload is gone (calls with before, max_rows resolve to the new one)');
select has_index('dispatch', 'notifications', 'notifications_user_created_id_idx', array['user_id', 'created_at', 'id'],
  'the index the pages scan backward');
select hasnt_index('dispatch', 'notifications', 'notifications_user_created_idx', 'the index it replaces is gone');

---------------------------------------------------------------------------------------------------
-- carol pages with page size 10, each page after the last notification of the one before
set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000c1","role":"authenticated"}', true);
create temp table carol_pages as
  with recursive pages (n, page) as (
    select 1, public.dispatch_notifications(null, 10)
    union all
    select n + 1, public.dispatch_notifications((page -> -1 ->> 'createdAt')::timestamptz, 10, (page -> -1 ->> 'id')::uuid)
    from pages where jsonb_array_length(page) > 0 and n < 10
  )
  select n, ord, (e ->> 'id')::uuid as id from pages, jsonb_array_elements(page) with ordinality as p(e, ord);
select is(array(select count(*)::int from carol_pages group by n order by n), array[10, 10, 5],
  'pages of 10, 10 and 5, then an empty one');
select is((select count(*) from carol_pages), 25::bigint, 'every notification is paged');
select is((select count(distinct id) from carol_pages), 25::bigint, '... exactly once');
select is(array(select id from carol_pages order by n, ord), array(select id from carol_order order by pos),
  '... in order: created_at desc, id desc');
select is(public.dispatch_notifications(before => (select (public.dispatch_notifications(null, 10) -> 9 ->> 'createdAt')::timestamptz)),
  '[]'::jsonb, 'before alone still means older than that instant (the 15 after the boundary share it)');
select is(jsonb_array_length(public.dispatch_notifications(before => 'infinity', before_id => '00000000-0000-0000-0000-000000000000')),
  20, 'a cursor past the newest: the first page');
select is(public.dispatch_notifications(now(), 10, (select id from carol_order where pos = 25)), '[]'::jsonb,
  'after the last one: nothing');
select throws_ok($$select public.dispatch_notifications(null, 10, '00000000-0000-0000-0000-000000000000')$$, '22023',
  'dispatch: before_id needs before (the createdAt of the same notification)', 'before_id without before is refused');
reset role;

---------------------------------------------------------------------------------------------------
-- dave, paging the same way, and with carol's cursor: nothing of carol's
set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000d1","role":"authenticated"}', true);
select is(array(select e ->> 'title' from jsonb_array_elements(public.dispatch_notifications(null, 10)) e order by 1),
  array['D1', 'D2', 'D3'], 'dave sees his three');
select is((select count(*) from carol_order c
           where c.id in (select (e ->> 'id')::uuid from jsonb_array_elements(public.dispatch_notifications(
             now(), 100, (select id from carol_order where pos = 1))) e)), 0::bigint,
  'carol''s cursor gives dave nothing of carol''s');
reset role;

set local role anon;
select set_config('request.jwt.claims', '{"role":"anon"}', true);
select throws_ok($$select public.dispatch_notifications(null, 10, null)$$, '42501',
  'permission denied for function dispatch_notifications', 'anon: dispatch_notifications is refused');
reset role;

select * from finish();
rollback;
