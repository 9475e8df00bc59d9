-- pg_net stand-in: signatures, queue, grants (facts §5). Delivery itself: local/test/db/net.test.ts.
select plan(8);

select has_function('net', 'http_post', array['text', 'jsonb', 'jsonb', 'jsonb', 'integer']);
select has_function('net', 'http_get', array['text', 'jsonb', 'jsonb', 'integer']);
select has_function('net', 'http_delete', array['text', 'jsonb', 'jsonb', 'integer', 'jsonb']);
select is((select relpersistence from pg_class where oid = 'net.http_request_queue'::regclass), 'u', 'queue is UNLOGGED');
select is((select relpersistence from pg_class where oid = 'net._http_response'::regclass), 'u', 'responses are UNLOGGED');

set local role postgres;
create temp table pgtap_net_request on commit drop as
  select net.http_post('http://127.0.0.1:9/hook', '{"x": 1}'::jsonb, '{"a": "b c"}'::jsonb) as id;
select ok(
  (select url = 'http://127.0.0.1:9/hook?a=b%20c' and method = 'POST' and convert_from(body, 'UTF8')::jsonb = '{"x": 1}'
   from net.http_request_queue q join pgtap_net_request r using (id)),
  'http_post queues method, url with params and body');
select throws_ok($$select net.http_post('http://127.0.0.1:9/', headers => '{"Content-Type": "text/plain"}')$$,
  'P0001', 'Content-Type header must be "application/json"', 'http_post insists on application/json');
reset role;
set local role anon;
select lives_ok($$select net.http_get('http://127.0.0.1:9/')$$, 'EXECUTE is granted to PUBLIC (pg_net >= 0.12)');
reset role;
-- The runner rolls back: nothing queued here is ever sent.

select * from finish();
