-- Minimal placeholder until the full bootstrap lands (owned by the db bootstrap work).
do $$ begin
  if not exists (select from pg_roles where rolname = 'postgres') then
    create role postgres login password 'postgres' nosuperuser createdb createrole replication bypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'anon') then create role anon nologin noinherit; end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then create role authenticated nologin noinherit; end if;
  if not exists (select from pg_roles where rolname = 'service_role') then create role service_role nologin noinherit bypassrls; end if;
end $$;
