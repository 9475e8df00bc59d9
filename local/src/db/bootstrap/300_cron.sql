-- bootstrap:skip-if select current_database() <> coalesce(current_setting('cron.database_name', true), 'postgres')
--
-- pg_cron (preloaded by the cluster, cron.database_name = 'postgres'), created by supabase_admin
-- as on hosted, so `create extension if not exists pg_cron` in a migration is already satisfied.
-- Only in that database: pg_cron refuses CREATE EXTENSION elsewhere, so other databases of the
-- cluster (local/src/db/fresh-database.ts) skip this file and have no `cron` schema.
-- Grants as on hosted (m/20231020): postgres USAGE + EXECUTE on cron's functions, cron.job
-- SELECT only (changes go through cron.schedule/unschedule/alter_job).
create extension if not exists pg_cron;
grant usage on schema cron to postgres with grant option;
grant all on all functions in schema cron to postgres with grant option;
revoke all on cron.job from postgres;
grant select on cron.job to postgres with grant option;
grant all on cron.job_run_details to postgres with grant option;
grant all on all sequences in schema cron to postgres with grant option;
alter default privileges in schema cron grant all on functions to postgres with grant option;
alter default privileges in schema cron grant all on tables to postgres with grant option;
alter default privileges in schema cron grant all on sequences to postgres with grant option;
