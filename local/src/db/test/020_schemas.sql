-- Schemas, extensions, publication, ownership (facts §2).
select plan(24);

select has_schema(s) from unnest(array['auth', 'extensions', 'realtime', 'net', 'vault', 'cron', 'public']) s;
select is((select pg_get_userbyid(datdba) from pg_database where datname = current_database()), 'postgres',
  'postgres owns the database');
select is((select extnamespace::regnamespace::text from pg_extension where extname = e), 'extensions', e || ' is in extensions')
  from unnest(array['pgcrypto', 'uuid-ossp', 'pgtap']) e;
select isnt((select oid from pg_extension where extname = 'pg_cron'), null, 'pg_cron is installed');
select ok(exists (select from pg_publication where pubname = 'supabase_realtime'), 'publication supabase_realtime exists');
select is((select count(*)::int from pg_publication_tables where pubname = 'supabase_realtime'), 0, 'supabase_realtime is empty');
select is((select nspowner::regrole::text from pg_namespace where nspname = 'auth'), 'supabase_admin', 'auth owned by supabase_admin');
select is((select nspowner::regrole::text from pg_namespace where nspname = 'realtime'), 'supabase_admin', 'realtime owned by supabase_admin');
select ok(has_schema_privilege(r, 'extensions', 'USAGE'), r || ' may use extensions')
  from unnest(array['postgres', 'anon', 'authenticated', 'service_role']) r;
select ok(not has_schema_privilege('postgres', 'auth', 'CREATE'), 'postgres cannot create in auth');
select ok(not has_schema_privilege('postgres', 'realtime', 'CREATE'), 'postgres cannot create in realtime');
select ok(has_schema_privilege('postgres', 'public', 'CREATE'), 'postgres creates in public');
select is(
  (select setting from pg_db_role_setting s, unnest(s.setconfig) setting
   where s.setrole = 'postgres'::regrole and setting like 'search_path=%'),
  'search_path="$user", public, extensions', 'postgres search_path');

select * from finish();
