-- Default privileges in `public` (facts §1).
--
-- Until 2026 hosted gave API3 (anon, authenticated, service_role) ALL on every new table, sequence
-- and function in public, for objects created by postgres and by supabase_admin. Since 2026-10-30
-- ("Tables not exposed to Data and GraphQL API automatically", changelog #45329) new tables need
-- an explicit GRANT. We mimic the current, stricter behaviour so a migration that forgets its
-- GRANTs fails here as it does on a new hosted project: no default table/sequence grants to API3.
-- Functions keep EXECUTE for API3 (PUBLIC has it by default anyway).
alter default privileges for role postgres in schema public revoke all on tables from anon, authenticated, service_role;
alter default privileges for role postgres in schema public revoke all on sequences from anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public revoke all on tables from anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public revoke all on sequences from anon, authenticated, service_role;

alter default privileges for role postgres in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on tables to postgres;
alter default privileges for role supabase_admin in schema public grant all on sequences to postgres;
alter default privileges for role supabase_admin in schema public grant all on functions to postgres, anon, authenticated, service_role;
