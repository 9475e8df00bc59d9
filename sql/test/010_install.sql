-- supadispatch core: installation, privileges, settings, helpers.
-- Assumes the core migration was applied as `postgres` (see README.md). Runs as supabase_admin.
begin;
create extension if not exists pgtap;
select plan(51);

select has_schema('dispatch');
select is(dispatch.version(), '0.4.1', 'version');
select tables_are('dispatch', array['settings', 'events', 'admins', 'audience_members', 'occurrences', 'receipts',
  'attempts', 'preferences', 'counters_def', 'counter_state', 'counter_shards', 'counter_dirty', 'counter_dirty_tx', 'counter_pending', 'notifications',
  'changes', 'sources', 'worker_wake', 'worker_alarm', 'module_queue', 'manual_triggers', 'deferred_installs',
  'wal_count_sources', 'wal_count_state'],
  'dispatch tables');
select is((select pg_get_userbyid(nspowner) from pg_namespace where nspname = 'dispatch'), 'postgres',
  'schema installed by postgres (non-superuser)');
select is((select count(*) from pg_class c where c.relnamespace = 'dispatch'::regnamespace and c.relkind = 'r'
           and pg_get_userbyid(c.relowner) <> 'postgres'), 0::bigint, 'every dispatch table owned by postgres');
select is((select count(*) from pg_class c where c.relnamespace = 'dispatch'::regnamespace and c.relkind = 'r'
           and not c.relrowsecurity), 0::bigint, 'RLS enabled on every dispatch table');
select is((select count(*) from pg_proc p where p.pronamespace = 'dispatch'::regnamespace and p.prosecdef
           and not coalesce('search_path=""' = any(p.proconfig), false)), 0::bigint,
  'every security definer function in dispatch has search_path = ''''');
select is((select count(*) from pg_proc p where p.pronamespace = 'public'::regnamespace and p.proname like 'dispatch\_%'
           and not (p.prosecdef and coalesce('search_path=""' = any(p.proconfig), false))), 0::bigint,
  'every public.dispatch_* RPC is security definer with search_path = ''''');
select ok((select count(*) from pg_proc p where p.pronamespace = 'public'::regnamespace and p.proname like 'dispatch\_%') >= 15,
  'client and worker RPCs exist');

-- privileges
select ok(not has_schema_privilege('anon', 'dispatch', 'usage'), 'anon has no usage on schema dispatch');
select ok(has_schema_privilege('authenticated', 'dispatch', 'usage'), 'authenticated has usage (for the realtime policy helper)');
select is((select count(*) from pg_class c where c.relnamespace = 'dispatch'::regnamespace and c.relkind = 'r'
           and (has_table_privilege('authenticated', c.oid, 'select,insert,update,delete')
                or has_table_privilege('anon', c.oid, 'select,insert,update,delete'))), 0::bigint,
  'no dispatch table privilege for anon or authenticated');
select is((select count(*) from pg_proc p where p.pronamespace = 'dispatch'::regnamespace
           and has_function_privilege('authenticated', p.oid, 'execute') and p.proname <> 'can_read_topic'), 0::bigint,
  'authenticated executes no dispatch function but can_read_topic');
select is((select count(*) from pg_proc p where p.pronamespace = 'dispatch'::regnamespace
           and has_function_privilege('anon', p.oid, 'execute')), 0::bigint, 'anon executes no dispatch function');
select ok(has_table_privilege('service_role', 'dispatch.receipts', 'select'), 'service_role may read dispatch tables');
select ok(not has_function_privilege('anon', 'public.dispatch_initial_state()', 'execute'), 'anon may not call dispatch_initial_state');
select ok(has_function_privilege('authenticated', 'public.dispatch_initial_state()', 'execute'), 'authenticated may call dispatch_initial_state');
select ok(not has_function_privilege('service_role', 'public.dispatch_initial_state()', 'execute'), 'client RPCs are for authenticated only');
select ok(not has_function_privilege('authenticated', 'public.dispatch_worker_claim(text,integer,integer,text[])', 'execute'),
  'authenticated may not call the worker API');
select ok(has_function_privilege('service_role', 'public.dispatch_worker_claim(text,integer,integer,text[])', 'execute'),
  'service_role may call the worker API');
select is((select count(*) from pg_proc p where p.pronamespace = 'public'::regnamespace and p.proname like 'dispatch\_%'
           and p.proname not like 'dispatch\_worker\_%'
           and (has_function_privilege('anon', p.oid, 'execute') or not has_function_privilege('authenticated', p.oid, 'execute'))),
  0::bigint, 'every client RPC: authenticated yes, anon no');

-- settings
select is(dispatch.setting_int('lease_seconds', 1), 300::bigint, 'default lease_seconds');
select is(dispatch.setting_int('no_such_key', 7), 7::bigint, 'setting_int falls back to the default');
select is(dispatch.setting_interval('prune_receipts_after', '1 day'), interval '30 days', 'default prune age');
select lives_ok($$select dispatch.set_setting('max_attempts', '3')$$, 'set_setting');
select is(dispatch.setting_int('max_attempts', 8), 3::bigint, 'set_setting changed the value');
select throws_ok($$select dispatch.set_setting('max_attempts', null)$$, 'P0001',
  'dispatch: setting key and value must not be null', 'set_setting refuses null');

-- identity helpers
select is(dispatch.current_user_id(), null, 'no user without claims');
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-00000000000a","role":"authenticated"}', true);
select is(dispatch.current_user_id(), '00000000-0000-0000-0000-00000000000a'::uuid, 'user id from request.jwt.claims');
select set_config('request.jwt.claim.sub', '00000000-0000-0000-0000-00000000000b', true);
select is(dispatch.current_user_id(), '00000000-0000-0000-0000-00000000000b'::uuid, 'request.jwt.claim.sub wins, like auth.uid()');
select set_config('request.jwt.claim.sub', '', true);
select set_config('request.jwt.claims', '', true);

-- admin and audiences
insert into auth.users (id, raw_app_meta_data) values
  ('00000000-0000-0000-0000-0000000000a1', '{"role":"admin"}'), ('00000000-0000-0000-0000-0000000000b1', '{}');
select ok(dispatch.is_admin('00000000-0000-0000-0000-0000000000a1'), 'app_metadata role admin is admin');
select ok(not dispatch.is_admin('00000000-0000-0000-0000-0000000000b1'), 'plain user is not admin');
select ok(not dispatch.is_admin(null), 'null is not admin');
insert into dispatch.admins (user_id) values ('00000000-0000-0000-0000-0000000000b1');
select ok(dispatch.is_admin('00000000-0000-0000-0000-0000000000b1'), 'dispatch.admins row makes an admin');
insert into dispatch.audience_members (audience, user_id) values ('support', '00000000-0000-0000-0000-0000000000a1');
select ok(dispatch.is_audience_member('00000000-0000-0000-0000-0000000000a1', 'support'), 'audience member');
select ok(not dispatch.is_audience_member('00000000-0000-0000-0000-0000000000a1', 'sales'), 'not a member of another audience');
-- (among the audiences this file knows: a project's generated migration, e.g. the demo's `admins`, may
-- add its own for the same user)
select is(array(select a from unnest(dispatch.user_audiences('00000000-0000-0000-0000-0000000000a1')) a
                where a in ('admin', 'support', 'sales')),
  array['admin', 'support'], 'user_audiences');

-- render
select is(dispatch.render('Order #{{number}} for {{ customer.name }}!', '{"number": 42, "customer": {"name": "Ada"}}'),
  'Order #42 for Ada!', 'render interpolates columns and paths');
select is(dispatch.render('x{{missing}}y', '{}'), 'xy', 'render: missing values are empty');

-- registry validation
select throws_ok($$select dispatch.register_event('e.x', 'public.no_such_fn')$$, 'P0001',
  'dispatch: expander public.no_such_fn does not exist', 'register_event checks the expander');
select throws_ok($$select dispatch.register_counter('c.x', 'team')$$, 'P0001',
  'dispatch: counter c.x scope_kind must be user or audience', 'register_counter checks scope_kind');
select is((select shards from dispatch.counters_def where name = 'unread_notifications'), 1, 'built-in unread_notifications counter');

-- outbox ids: UUID version 7, time first (000_schema.sql, uuid_v7)
create temporary table v7 as
  select clock_timestamp() as t0, dispatch.uuid_v7() as a, pg_sleep(0.002)::text as s, dispatch.uuid_v7() as b, clock_timestamp() as t1;
select ok((select substr(a::text, 15, 1) = '7' and substr(a::text, 20, 1) in ('8', '9', 'a', 'b') from v7),
  'uuid_v7: version 7, RFC 9562 variant');
select ok((select ('x' || lpad(replace(substr(a::text, 1, 13), '-', ''), 16, '0'))::bit(64)::bigint
                  between floor(extract(epoch from t0) * 1000) and ceil(extract(epoch from t1) * 1000) from v7),
  'uuid_v7: the first 48 bits are the Unix time in ms');
select ok((select a < b and a::text <> b::text from v7), 'uuid_v7: an id made later sorts after');
select is(left(replace(dispatch.uuid_v7_at('2026-01-01 00:00:00.123+00')::text, '-', ''), 12),
  lpad(to_hex(1767225600123), 12, '0'), 'uuid_v7_at: the time given, in ms');
select is(array(select pg_get_expr(d.adbin, d.adrelid) from pg_attrdef d join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
                where a.attname = 'id' and d.adrelid in ('dispatch.occurrences'::regclass, 'dispatch.receipts'::regclass,
                                                         'dispatch.notifications'::regclass)),
  array['dispatch.uuid_v7()', 'dispatch.uuid_v7()', 'dispatch.uuid_v7()'], 'occurrences, receipts and notifications take uuid_v7 ids');

-- pg_cron jobs by name, idempotent
select ok(case when to_regnamespace('cron') is null then true
               else dispatch.schedule_jobs() and dispatch.schedule_jobs() end, 'schedule_jobs (twice)');
select is(case when to_regnamespace('cron') is null then 2::bigint
               else (select count(*) from cron.job where jobname in ('dispatch-tick', 'dispatch-prune')) end,
  2::bigint, 'one dispatch-tick and one dispatch-prune job');

-- realtime policies (installing them needs the owner of realtime.messages or supautils' policy grant)
select ok(dispatch.install_realtime_policies(), 'install_realtime_policies');
select policies_are('realtime', 'messages', array['dispatch_read', 'dispatch_read_guard', 'dispatch_read_guard_public',
  'dispatch_send_guard'] || array(select policyname::text from pg_policies where schemaname = 'realtime'
  and tablename = 'messages' and policyname not like 'dispatch\_%'), 'dispatch policies on realtime.messages');

select * from finish();
rollback;
