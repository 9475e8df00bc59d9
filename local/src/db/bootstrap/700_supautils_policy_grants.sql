-- supautils' policy grants, emulated (facts: supabase-database.md "What hosted does that a plain
-- Postgres does not"; supautils src/policy_grants.c, PG supautils.conf.j2).
--
-- On hosted, `postgres` (supautils' privileged_role) may CREATE/ALTER/DROP POLICY on the tables of
-- `supautils.policy_grants` although it does not own them, and DROP TRIGGER on the auth tables
-- (`drop_trigger_grants`). supautils does it by taking ACCESS EXCLUSIVE on the target table and on
-- every table listed before it, held until commit: policy DDL on realtime.messages blocks sign-ins,
-- token refreshes and channel joins until the migration commits.
--
-- Plain PostgreSQL lets only a member of the owner do that DDL. Here event triggers do what
-- supautils does, for postgres and for that one command: at ddl_command_start postgres becomes a
-- member of the owners (a start trigger cannot see the target yet); at ddl_command_end (sql_drop for
-- DROP POLICY) the target is known, and when it is on the list its table and every table listed
-- before it are locked ACCESS EXCLUSIVE until commit, then the membership is taken back. A failed
-- command rolls both back with it. So postgres is never a member of supabase_realtime_admin between
-- commands (as on hosted), and local migrations feel the locks hosted ones do. Not emulated:
-- drop_trigger_grants (DROP TRIGGER on auth tables stays owner-only here).
create schema if not exists _supautils authorization supabase_admin;
revoke all on schema _supautils from public;

create or replace function _supautils.policy_grant_tables() returns text[]
language sql immutable set search_path = '' as $$
  select array['auth.audit_log_entries', 'auth.identities', 'auth.refresh_tokens', 'auth.sessions', 'auth.users',
               'realtime.messages']
$$;

-- The role the DDL runs as: SET ROLE's, else the session's (a definer function cannot see its caller).
create or replace function _supautils.acting_role() returns text
language sql stable set search_path = '' as $$
  select coalesce(nullif(pg_catalog.current_setting('role'), 'none'), pg_catalog.session_user()::text)
$$;

-- Locks p_table and every table listed before it, when p_table is on the list.
create or replace function _supautils.lock_policy_grant_tables(p_table regclass) returns void
language plpgsql set search_path = '' as $$
declare
  v_list text[] := _supautils.policy_grant_tables();
  v_pos integer;
  i integer;
begin
  select min(o) into v_pos from unnest(v_list) with ordinality as l(name, o)
  where pg_catalog.to_regclass(l.name) = p_table;
  if v_pos is null then
    return;
  end if;
  for i in 1 .. v_pos loop
    if pg_catalog.to_regclass(v_list[i]) is not null then
      execute pg_catalog.format('lock table only %s in access exclusive mode', v_list[i]);
    end if;
  end loop;
end
$$;

create or replace function _supautils.release_membership() returns void
language plpgsql set search_path = '' as $$
begin
  if pg_catalog.current_setting('_supautils.granted_realtime', true) = 'on' then
    revoke supabase_realtime_admin from postgres;
    perform pg_catalog.set_config('_supautils.granted_realtime', '', true);
  end if;
  if pg_catalog.current_setting('_supautils.granted_auth', true) = 'on' then
    revoke supabase_auth_admin from postgres;
    perform pg_catalog.set_config('_supautils.granted_auth', '', true);
  end if;
end
$$;

create or replace function _supautils.policy_grants_start() returns event_trigger
language plpgsql security definer set search_path = '' as $$
begin
  if _supautils.acting_role() <> 'postgres' then
    return;
  end if;
  if not pg_catalog.pg_has_role('postgres', 'supabase_realtime_admin', 'MEMBER') then
    grant supabase_realtime_admin to postgres;
    perform pg_catalog.set_config('_supautils.granted_realtime', 'on', true);
  end if;
  if not pg_catalog.pg_has_role('postgres', 'supabase_auth_admin', 'MEMBER') then
    grant supabase_auth_admin to postgres;
    perform pg_catalog.set_config('_supautils.granted_auth', 'on', true);
  end if;
end
$$;

create or replace function _supautils.policy_grants_end() returns event_trigger
language plpgsql security definer set search_path = '' as $$
declare
  c record;
begin
  if _supautils.acting_role() = 'postgres' then
    for c in select p.polrelid from pg_catalog.pg_event_trigger_ddl_commands() d
             join pg_catalog.pg_policy p on p.oid = d.objid
             where d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass loop
      perform _supautils.lock_policy_grant_tables(c.polrelid);
    end loop;
  end if;
  perform _supautils.release_membership();
end
$$;

create or replace function _supautils.policy_grants_drop() returns event_trigger
language plpgsql security definer set search_path = '' as $$
declare
  c record;
begin
  if _supautils.acting_role() <> 'postgres' then
    return;
  end if;
  -- address_names of a policy: {schema, table, policy}.
  for c in select pg_catalog.to_regclass(pg_catalog.format('%I.%I', o.address_names[1], o.address_names[2])) as tab
           from pg_catalog.pg_event_trigger_dropped_objects() o
           where o.object_type = 'policy' loop
    if c.tab is not null then
      perform _supautils.lock_policy_grant_tables(c.tab);
    end if;
  end loop;
end
$$;
revoke all on function _supautils.policy_grants_start(), _supautils.policy_grants_end(), _supautils.policy_grants_drop()
  from public;

drop event trigger if exists supautils_policy_grants_start;
drop event trigger if exists supautils_policy_grants_end;
drop event trigger if exists supautils_policy_grants_drop;
create event trigger supautils_policy_grants_start on ddl_command_start
  when tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY')
  execute function _supautils.policy_grants_start();
create event trigger supautils_policy_grants_drop on sql_drop
  when tag in ('DROP POLICY')
  execute function _supautils.policy_grants_drop();
create event trigger supautils_policy_grants_end on ddl_command_end
  when tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY')
  execute function _supautils.policy_grants_end();
