-- supadispatch core: failed receipts with their attempts, and requeueing them (083_admin_receipts),
-- as anon, as a signed-in user who is not an admin, and as an admin.
begin;
create extension if not exists pgtap;
select plan(20);

insert into auth.users (id, email, raw_app_meta_data) values
  ('00000000-0000-0000-0000-0000000083aa', 'admin83@example.com', '{"role":"admin"}'),
  ('00000000-0000-0000-0000-0000000083bb', 'user83@example.com', '{}');
select dispatch.register_event('sdt.failing', null, null, null, 'info', true, false, array['webhook']);
-- a transport of its own, so the claims below take these receipts whatever else is due in the database
select dispatch.create_receipts('sdt.failing', 'sdt_hook:hooks', 'sdt_hook', 'hooks', '0',
  array(select row(dispatch.emit('sdt.failing', jsonb_build_object('n', g)), null, 'https://hooks.example/' || g, null)::dispatch.recipient
        from generate_series(1, 3) g));
-- receipt 1 and 2 fail (1 after two attempts), receipt 3 stays pending
create temp table sdt_r as
  select r.id, (o.new_record ->> 'n')::int as n from dispatch.receipts r join dispatch.occurrences o on o.id = r.occurrence_id
  where r.event_id = 'sdt.failing';
grant select on sdt_r to authenticated;

create temp table sdt_claim as
  select c.id, c.lease_token from dispatch.claim_receipts('sdt-worker', 10, null, array['sdt_hook']) c join sdt_r using (id);
select dispatch.retry_receipt(id, lease_token, 'HTTP 503', now(), 503, 5) from sdt_claim join sdt_r using (id) where n = 1;
select dispatch.fail_receipt(id, lease_token, 'HTTP 410', 410, 12) from sdt_claim join sdt_r using (id) where n = 2;
select dispatch.fail_receipt(c.id, c.lease_token, 'HTTP 404', 404, 7)
  from dispatch.claim_receipts('sdt-worker', 10, null, array['sdt_hook']) c join sdt_r using (id) where sdt_r.n = 1;
select is((select array_agg(status order by n) from dispatch.receipts join sdt_r using (id)),
  array['failed', 'failed', 'sending'], 'setup: two failed receipts, one claimed');

---------------------------------------------------------------------------------------------------
set local role anon;
select set_config('request.jwt.claims', '{"role":"anon"}', true);
select throws_ok($$select public.dispatch_failed_receipts()$$, '42501', 'permission denied for function dispatch_failed_receipts',
  'anon: dispatch_failed_receipts is refused');
select throws_ok($$select public.dispatch_requeue_receipts(array[gen_random_uuid()])$$, '42501',
  'permission denied for function dispatch_requeue_receipts', 'anon: dispatch_requeue_receipts is refused');
reset role;

set local role authenticated;
select set_config('request.jwt.claims', '{"role":"authenticated","sub":"00000000-0000-0000-0000-0000000083bb"}', true);
select throws_ok($$select public.dispatch_failed_receipts()$$, '42501', 'dispatch: admins only',
  'a user who is not an admin may not list failed receipts');
select throws_ok($$select public.dispatch_requeue_receipts(array(select id from sdt_r))$$, '42501', 'dispatch: admins only',
  'a user who is not an admin may not requeue');
reset role;
select is((select count(*) from dispatch.receipts join sdt_r using (id) where status = 'failed'), 2::bigint,
  'the refused requeue changed nothing');

---------------------------------------------------------------------------------------------------
set local role authenticated;
select set_config('request.jwt.claims', '{"role":"authenticated","sub":"00000000-0000-0000-0000-0000000083aa"}', true);
create temp table sdt_list on commit drop as
  select public.dispatch_failed_receipts(event_id => 'sdt.failing') as j;
select is(jsonb_array_length((select j from sdt_list)), 2, 'admin: both failed receipts are listed');
create temp view sdt_listed as
  select (e ->> 'id')::uuid as id, e from sdt_list, jsonb_array_elements(sdt_list.j) e;
select is((select array_agg(l.id order by l.id) from sdt_listed l),
  (select array_agg(id order by id) from sdt_r where n in (1, 2)), 'exactly the failed receipts');
select is((select jsonb_path_query_array(e -> 'attempts', '$[*].outcome') from sdt_listed join sdt_r using (id) where n = 1),
  '["retry", "failed"]'::jsonb, 'every attempt is kept, oldest first');
select is((select jsonb_path_query_array(e -> 'attempts', '$[*].httpStatus') from sdt_listed join sdt_r using (id) where n = 1),
  '[503, 404]'::jsonb, 'each attempt has its HTTP status');
select is((select e -> 'attempts' -> 0 ->> 'error' from sdt_listed join sdt_r using (id) where n = 1), 'HTTP 503',
  'and its error');
select is((select e ->> 'lastError' from sdt_listed join sdt_r using (id) where n = 2), 'HTTP 410',
  'the receipt has its last error');
select is(jsonb_array_length(public.dispatch_failed_receipts(event_id => 'no.such.event')), 0, 'filtered by event');
select is(jsonb_array_length(public.dispatch_failed_receipts(max_rows => 1)), 1, 'max_rows limits the page');
select throws_ok($$select public.dispatch_failed_receipts(max_rows => 0)$$, '22023', 'dispatch: max_rows must be between 1 and 500',
  'max_rows is checked');
select throws_ok($$select public.dispatch_requeue_receipts(array[]::uuid[])$$, '22023',
  'dispatch: receipt_ids must name at least one receipt', 'an empty list is refused');

create temp table sdt_requeue on commit drop as
  select public.dispatch_requeue_receipts(array(select id from sdt_r) || gen_random_uuid()) as j;
select is(jsonb_array_length((select j -> 'requeued' from sdt_requeue)), 2, 'admin: the two failed receipts are requeued');
select is((select array_agg(coalesce(k ->> 'status', 'unknown') order by coalesce(k ->> 'status', 'unknown')) from sdt_requeue, jsonb_array_elements(j -> 'skipped') k),
  array['sending', 'unknown'], 'the others are skipped with their status');
reset role;
select is((select array_agg(status order by n) from dispatch.receipts join sdt_r using (id)),
  array['scheduled', 'scheduled', 'sending'], 'requeued receipts are scheduled again');
select is((select count(*) from dispatch.claim_receipts('sdt-worker-2', 10, null, array['sdt_hook']) c join sdt_r using (id)), 2::bigint,
  'and the worker claims them again, with one more attempt allowed');

select * from finish();
rollback;
