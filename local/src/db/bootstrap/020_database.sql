-- The database, `public` and `extensions` (facts §1-2). The current database, not `postgres` by name:
-- tests bootstrap fresh databases on the same cluster (local/src/db/fresh-database.ts).
do $$ begin
  execute format('alter database %I owner to postgres', current_database());
end $$;

-- PG15 already owns `public` by pg_database_owner (= postgres now) and gives PUBLIC only USAGE.
grant usage on schema public to postgres, anon, authenticated, service_role;

create schema if not exists extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
-- postgres creates allow-listed extensions `with schema extensions` (trusted ones work as postgres here).
grant create on schema extensions to postgres;
grant all on schema extensions to postgres with grant option;

create extension if not exists "uuid-ossp" with schema extensions;
create extension if not exists pgcrypto with schema extensions;
create extension if not exists pg_stat_statements with schema extensions;
-- pgTAP is pre-created for `supabase test db`-style tests (hosted offers it as an allow-listed extension).
create extension if not exists pgtap with schema extensions;

-- Everything in `extensions` is callable by the API roles and postgres, as on hosted.
grant all on all functions in schema extensions to postgres, anon, authenticated, service_role;
grant all on all tables in schema extensions to postgres, anon, authenticated, service_role;
grant all on all sequences in schema extensions to postgres, anon, authenticated, service_role;
alter default privileges in schema extensions grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges in schema extensions grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges in schema extensions grant all on sequences to postgres, anon, authenticated, service_role;

-- Publication for Postgres Changes, created empty and owned by postgres (i/0).
do $$ begin
  if not exists (select from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end $$;
alter publication supabase_realtime owner to postgres;

-- graphql_public exists on hosted (pg_graphql); PostgREST and `gen types` know about it. We only
-- create the empty schema (no pg_graphql here).
create schema if not exists graphql_public;
grant usage on schema graphql_public to postgres, anon, authenticated, service_role;

-- Statistics reset stays with postgres (hosted does not hand it to the API roles).
do $$ begin
  if to_regprocedure('extensions.pg_stat_statements_reset(oid, oid, bigint)') is not null then
    revoke all on function extensions.pg_stat_statements_reset(oid, oid, bigint) from public, anon, authenticated, service_role;
    grant execute on function extensions.pg_stat_statements_reset(oid, oid, bigint) to postgres;
  end if;
end $$;
