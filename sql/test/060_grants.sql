-- supadispatch core, security review: M1: the core grants/revokes only on its own public functions: an app function named public.dispatch_*
-- keeps its own ACL when the install (dispatch.apply_grants) runs again.
begin;
create extension if not exists pgtap;
select plan(6);

create function public.dispatch_driver(int, int) returns int language sql as 'select $1 + $2';
revoke all on function public.dispatch_driver(int, int) from public, anon, authenticated, service_role;
grant execute on function public.dispatch_driver(int, int) to service_role;
select lives_ok($$select dispatch.apply_grants()$$, 'the install''s grants can be applied again');
select ok(has_function_privilege('service_role', 'public.dispatch_driver(int,int)', 'execute'),
  'app function public.dispatch_driver: service_role keeps EXECUTE');
select ok(not has_function_privilege('authenticated', 'public.dispatch_driver(int,int)', 'execute'),
  'app function public.dispatch_driver: authenticated gets no EXECUTE');
select ok(not has_function_privilege('anon', 'public.dispatch_driver(int,int)', 'execute'),
  'app function public.dispatch_driver: anon gets no EXECUTE');
select is(array(select p.oid::regprocedure::text from pg_proc p where p.pronamespace = 'public'::regnamespace
                and p.proname like 'dispatch\_%' and p.proname <> 'dispatch_driver' order by 1),
          array(select f.sig::text from dispatch.rpc_functions() f order by 1),
  'every public.dispatch_* function of the core is in the explicit grant list');
select ok(has_function_privilege('authenticated', 'public.dispatch_initial_state()', 'execute')
          and not has_function_privilege('service_role', 'public.dispatch_initial_state()', 'execute')
          and has_function_privilege('service_role', 'public.dispatch_worker_claim(text,integer,integer,text[])', 'execute')
          and not has_function_privilege('authenticated', 'public.dispatch_worker_claim(text,integer,integer,text[])', 'execute'),
  'the core''s RPCs keep their grants after apply_grants');

select * from finish();
rollback;
