-- supadispatch core, security review: L4: service_role reads dispatch tables but writes them only through the definer functions (a write
-- to counters_def.reconcile_sql would otherwise run as postgres in reconcile_counters).
begin;
create extension if not exists pgtap;
select plan(5);

select ok(has_table_privilege('service_role', 'dispatch.receipts', 'select'), 'service_role reads dispatch tables');
select is((select count(*) from pg_class c where c.relnamespace = 'dispatch'::regnamespace and c.relkind in ('r', 'p')
           and has_table_privilege('service_role', c.oid, 'insert,update,delete,truncate,references,trigger')), 0::bigint,
  'service_role has no write privilege on any dispatch table');
select ok(not has_function_privilege('service_role',
  'dispatch.register_counter(text,text,text,text[],integer,text,text,text)', 'execute'),
  'service_role cannot register counters (reconcile_sql runs as postgres)');
select ok(not has_function_privilege('service_role',
  'dispatch.register_event(text,text,text,text,text,boolean,boolean,text[],text,jsonb)', 'execute'),
  'service_role cannot register events (expanders run as postgres)');
set local role service_role;
select throws_ok($$update dispatch.counters_def set reconcile_sql = 'select 1' where name = 'unread_notifications'$$,
  '42501', 'permission denied for table counters_def', 'service_role cannot update counters_def');
reset role;

select * from finish();
rollback;
