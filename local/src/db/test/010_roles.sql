-- Roles and their flags, as on hosted Supabase (facts §1).
select plan(28);

select has_role(r) from unnest(array['postgres', 'anon', 'authenticated', 'service_role', 'authenticator',
  'supabase_admin', 'supabase_auth_admin', 'supabase_realtime_admin', 'supabase_storage_admin']) as r;

select is((select rolsuper from pg_roles where rolname = 'supabase_admin'), true, 'supabase_admin is the superuser');
select is((select rolsuper from pg_roles where rolname = 'postgres'), false, 'postgres is NOT a superuser');
select is(
  (select array[rolcanlogin, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls] from pg_roles where rolname = 'postgres'),
  array[true, true, true, true, true],
  'postgres: LOGIN CREATEDB CREATEROLE REPLICATION BYPASSRLS');
select is((select rolbypassrls from pg_roles where rolname = 'service_role'), true, 'service_role bypasses RLS');
select is((select rolbypassrls from pg_roles where rolname = 'anon'), false, 'anon does not bypass RLS');
select is((select rolbypassrls from pg_roles where rolname = 'authenticated'), false, 'authenticated does not bypass RLS');
select is(
  (select array_agg(rolcanlogin order by rolname) from pg_roles where rolname in ('anon', 'authenticated', 'service_role')),
  array[false, false, false], 'API roles are NOLOGIN');
select is((select array[rolcanlogin, rolinherit] from pg_roles where rolname = 'authenticator'), array[true, false],
  'authenticator is LOGIN NOINHERIT');
select ok(pg_has_role('authenticator', r, 'MEMBER'), 'authenticator can become ' || r)
  from unnest(array['anon', 'authenticated', 'service_role']) r;
select ok(pg_has_role('postgres', r, 'MEMBER'), 'postgres is a member of ' || r)
  from unnest(array['anon', 'authenticated', 'service_role']) r;
select ok(not pg_has_role('postgres', 'supabase_auth_admin', 'MEMBER'), 'postgres is not a member of supabase_auth_admin');
select ok(not pg_has_role('postgres', 'supabase_admin', 'MEMBER'), 'postgres is not a member of supabase_admin');
select ok(not pg_has_role('postgres', 'supabase_realtime_admin', 'MEMBER'),
  'postgres is not a member of supabase_realtime_admin (Realtime m/20260707 revokes it)');

select is(
  (select setting from pg_db_role_setting s, unnest(s.setconfig) setting
   where s.setrole = 'anon'::regrole and setting like 'statement_timeout=%'),
  'statement_timeout=3s', 'anon statement_timeout 3s');
select is(
  (select setting from pg_db_role_setting s, unnest(s.setconfig) setting
   where s.setrole = 'authenticated'::regrole and setting like 'statement_timeout=%'),
  'statement_timeout=8s', 'authenticated statement_timeout 8s');

select * from finish();
