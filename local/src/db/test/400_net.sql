-- pg_net stand-in: signatures, queue, grants (facts §5). Delivery itself: local/test/db/net.test.ts.
select plan(10);

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
select lives_ok($$select net.http_get('http://127.0.0.1:9/')$$, 'anon may call http_get (grant_pg_net_access)');
reset role;
select ok(not exists (
  select from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
  where p.oid in ('net.http_get(text,jsonb,jsonb,integer)'::regprocedure, 'net.http_post(text,jsonb,jsonb,jsonb,integer)'::regprocedure,
                  'net.http_delete(text,jsonb,jsonb,integer,jsonb)'::regprocedure)
    and a.grantee = 0 and a.privilege_type = 'EXECUTE'),
  'no EXECUTE to PUBLIC on the request functions, as grant_pg_net_access leaves them');
select ok(has_function_privilege('service_role', 'net.http_post(text,jsonb,jsonb,jsonb,integer)', 'EXECUTE')
  and has_function_privilege('postgres', 'net.http_post(text,jsonb,jsonb,jsonb,integer)', 'EXECUTE'),
  'postgres and service_role may call http_post');
-- The runner rolls back: nothing queued here is ever sent.

select * from finish();
