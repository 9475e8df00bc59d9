-- Roles as on a hosted Supabase database (facts: supabase-database.md §1).
-- Runs as supabase_admin (the initdb superuser) on every start: create when missing, then ALTER
-- to the exact flags, so an older or hand-edited cluster converges.
do $$
declare
  r record;
begin
  for r in
    select * from (values
      -- name, attributes applied with ALTER ROLE
      ('postgres',                 'login nosuperuser inherit createdb createrole replication bypassrls'),
      ('anon',                     'nologin nosuperuser inherit nocreatedb nocreaterole noreplication nobypassrls'),
      ('authenticated',            'nologin nosuperuser inherit nocreatedb nocreaterole noreplication nobypassrls'),
      ('service_role',             'nologin nosuperuser inherit nocreatedb nocreaterole noreplication bypassrls'),
      ('authenticator',            'login nosuperuser noinherit nocreatedb nocreaterole noreplication nobypassrls'),
      ('supabase_auth_admin',      'login nosuperuser noinherit nocreatedb nocreaterole noreplication nobypassrls'),
      ('supabase_storage_admin',   'login nosuperuser noinherit nocreatedb createrole noreplication nobypassrls'),
      ('supabase_functions_admin', 'login nosuperuser noinherit nocreatedb createrole noreplication nobypassrls'),
      -- The PG image's flags (the Realtime service would create it NOLOGIN; the two disagree).
      ('supabase_realtime_admin',  'login nosuperuser noinherit nocreatedb createrole replication nobypassrls'),
      ('supabase_replication_admin', 'login nosuperuser inherit nocreatedb nocreaterole replication nobypassrls'),
      ('supabase_read_only_user',  'login nosuperuser inherit nocreatedb nocreaterole noreplication bypassrls'),
      ('supabase_superuser',       'nologin nosuperuser inherit nocreatedb nocreaterole noreplication nobypassrls'),
      ('dashboard_user',           'nologin nosuperuser inherit createdb createrole replication nobypassrls'),
      ('pgbouncer',                'login nosuperuser inherit nocreatedb nocreaterole noreplication nobypassrls')
    ) as t(name, attrs)
  loop
    if not exists (select from pg_roles where rolname = r.name) then
      execute format('create role %I', r.name);
    end if;
    execute format('alter role %I with %s', r.name, r.attrs);
  end loop;
end $$;

-- `supabase start` uses the password `postgres` for its login roles; so does the local stack.
alter role supabase_admin with superuser createdb createrole replication bypassrls login password 'postgres';
alter role postgres password 'postgres';
alter role authenticator password 'postgres';
alter role supabase_auth_admin password 'postgres';
alter role supabase_storage_admin password 'postgres';
alter role supabase_functions_admin password 'postgres';
alter role supabase_realtime_admin password 'postgres';
alter role supabase_replication_admin password 'postgres';
alter role supabase_read_only_user password 'postgres';
alter role pgbouncer password 'postgres';

-- Memberships.
grant anon, authenticated, service_role to authenticator;
grant anon, authenticated, service_role to postgres;
grant pg_monitor, pg_read_all_data, pg_signal_backend to postgres;
grant supabase_functions_admin, supabase_superuser to postgres;
grant anon, authenticated, service_role to supabase_realtime_admin;
grant pg_read_all_data to supabase_read_only_user;
-- Hosted revoked these from postgres (m/20250421, RT m/20260707); undo an older bootstrap, which
-- kept postgres a member of supabase_realtime_admin to let it create policies on realtime.messages.
-- Policy DDL by postgres on the tables of supautils' policy_grants now goes through the emulation in
-- 700_supautils_policy_grants.sql (locks and a membership for that one command), as on hosted.
do $$
declare
  r text;
begin
  foreach r in array array['supabase_auth_admin', 'supabase_storage_admin', 'supabase_realtime_admin', 'supabase_admin'] loop
    if pg_has_role('postgres', r, 'MEMBER') and exists (
      select from pg_auth_members m
      where m.roleid = (select oid from pg_roles where rolname = r)
        and m.member = (select oid from pg_roles where rolname = 'postgres')
    ) then
      execute format('revoke %I from postgres', r);
    end if;
  end loop;
  if exists (
    select from pg_auth_members m
    where m.roleid = (select oid from pg_roles where rolname = 'supabase_admin')
      and m.member = (select oid from pg_roles where rolname = 'authenticator')
  ) then
    revoke supabase_admin from authenticator;
  end if;
end $$;

-- Role settings (i/0, m/20260413).
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';
alter role postgres set search_path = "$user", public, extensions;
alter role supabase_admin set search_path = "$user", public, extensions;
alter role supabase_auth_admin set search_path = auth;
alter role supabase_auth_admin set idle_in_transaction_session_timeout = 60000;
alter role supabase_storage_admin set search_path = storage;
alter role supabase_realtime_admin set search_path = realtime;
