-- Privileges, RLS, realtime policies, pg_cron jobs. Last, so it covers everything above.

-- The plugin's own public functions (client RPCs for authenticated, worker RPCs for service_role): an
-- explicit list, so the install never touches an app's function that happens to be named
-- public.dispatch_* (a name pattern would grant it to authenticated and take it from service_role).
-- A function listed here that does not exist fails the install; sql/test/060_grants.sql checks that
-- every public.dispatch_* function of the core is listed.
create or replace function dispatch.rpc_functions() returns table (sig regprocedure, grantee text)
language sql stable set search_path = '' as $$
  values
    ('public.dispatch_initial_state()'::pg_catalog.regprocedure, 'authenticated'::text),
    ('public.dispatch_notifications(timestamptz, integer, uuid)', 'authenticated'),
    ('public.dispatch_mark_read(uuid[])', 'authenticated'),
    ('public.dispatch_is_admin()', 'authenticated'),
    ('public.dispatch_mark_all_read()', 'authenticated'),
    ('public.dispatch_preferences()', 'authenticated'),
    ('public.dispatch_set_preference(text, text, boolean, text)', 'authenticated'),
    ('public.dispatch_receipts(text, text, uuid, timestamptz, timestamptz, integer)', 'authenticated'),
    ('public.dispatch_occurrences(text, text, timestamptz, timestamptz, integer)', 'authenticated'),
    ('public.dispatch_replay(uuid)', 'authenticated'),
    ('public.dispatch_changes(text, integer)', 'authenticated'),
    ('public.dispatch_replay_change(bigint)', 'authenticated'),
    ('public.dispatch_failed_receipts(text, timestamptz, integer)', 'authenticated'),
    ('public.dispatch_requeue_receipts(uuid[], timestamptz)', 'authenticated'),
    ('public.dispatch_worker_claim(text, integer, integer, text[])', 'service_role'),
    ('public.dispatch_worker_set_content(uuid, bigint, jsonb, text[])', 'service_role'),
    ('public.dispatch_worker_complete(uuid, bigint, text, jsonb, integer, integer)', 'service_role'),
    ('public.dispatch_worker_retry(uuid, bigint, text, timestamptz, integer, integer)', 'service_role'),
    ('public.dispatch_worker_fail(uuid, bigint, text, integer, integer)', 'service_role'),
    ('public.dispatch_worker_store_content(jsonb)', 'service_role'),
    ('public.dispatch_worker_finish(jsonb)', 'service_role'),
    ('public.dispatch_worker_deliver_in_app(uuid, bigint)', 'service_role'),
    ('public.dispatch_worker_drain(integer)', 'service_role')
$$;

-- RLS and privileges of everything the core owns. Called by the install (below); idempotent.
create or replace function dispatch.apply_grants() returns void
language plpgsql set search_path = '' as $$
declare
  t record;
  f record;
begin
  -- RLS on every dispatch table. No client policies: clients use the public.dispatch_* RPCs; the
  -- owner (postgres) and service_role bypass RLS.
  for t in select c.relname from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
           where n.nspname = 'dispatch' and c.relkind in ('r', 'p') loop
    execute format('alter table dispatch.%I enable row level security', t.relname);
  end loop;

  revoke all on schema dispatch from public, anon;
  -- authenticated needs USAGE only to evaluate the realtime.messages policies (dispatch.can_read_topic).
  grant usage on schema dispatch to authenticated, service_role;

  revoke all on all tables in schema dispatch from public, anon, authenticated;
  revoke all on all sequences in schema dispatch from public, anon, authenticated;
  revoke all on all functions in schema dispatch from public, anon, authenticated;
  -- service_role reads every dispatch table (admin tools, the doctor) and writes only through the
  -- definer functions and the public.dispatch_worker_* RPCs: a direct write to, say,
  -- counters_def.reconcile_sql would run as postgres in reconcile_counters. For the same reason the
  -- registry functions that store SQL or function names are for the migration role (postgres) only.
  revoke all on all tables in schema dispatch from service_role;
  revoke all on all sequences in schema dispatch from service_role;
  -- a time the wake triggers of WAL-counted tables read in their WHEN clause as the writing role
  -- (055_poke.sql); pg_sequence_last_value needs SELECT on it, nothing else
  grant select on sequence dispatch.worker_wake_until_ms to public;
  grant select on all tables in schema dispatch to service_role;
  grant select on all sequences in schema dispatch to service_role;
  grant execute on all functions in schema dispatch to service_role;
  revoke execute on function dispatch.register_counter(text, text, text, text[], integer, text, text, text) from service_role;
  revoke execute on function dispatch.register_event(text, text, text, text, text, boolean, boolean, text[], text, jsonb)
    from service_role;
  revoke execute on function dispatch.register_source(text, text) from service_role;
  revoke execute on function dispatch.unregister_source(text) from service_role;
  -- DDL on app tables and replication slots (066_counts_from_wal.sql): the migration role and tick only
  revoke execute on function dispatch.count_from_wal(text, text[]) from service_role;
  revoke execute on function dispatch.wal_count_switch(text) from service_role;
  revoke execute on function dispatch.wal_count_switch_back(text) from service_role;
  revoke execute on function dispatch.wal_count_set_triggers(regclass, text) from service_role;
  revoke execute on function dispatch.wal_count_recount(text) from service_role;
  revoke execute on function dispatch.wal_count_unpublish(text) from service_role;
  -- its arguments are the drain's own readings: called with others, it would skip waiting changes
  revoke execute on function dispatch.advance_changes_low_id(bigint, bigint, bigint) from service_role;
  revoke execute on function dispatch.wal_count_release(text) from service_role;
  revoke execute on function dispatch.wal_counts_setup() from service_role;
  revoke execute on function dispatch.wal_counts_setup_alone() from service_role;
  revoke execute on function dispatch.publish_wal_counts(boolean) from service_role;
  revoke execute on function dispatch.publish_wal_counts_now() from service_role;
  grant execute on function dispatch.can_read_topic(text) to authenticated;

  -- Client RPCs: authenticated only; worker RPCs: service_role only.
  for f in select r.sig, r.grantee from dispatch.rpc_functions() r loop
    execute format('revoke all on function %s from public, anon, authenticated, service_role', f.sig);
    execute format('grant execute on function %s to %I', f.sig, f.grantee);
  end loop;
end
$$;

select dispatch.apply_grants();

-- At commit, and only when they differ (030_realtime.sql: the policy DDL locks Auth on hosted).
do $$
begin
  perform dispatch.install_realtime_policies_at_commit();
end
$$;

do $$
begin
  perform dispatch.schedule_jobs();
exception when others then
  raise warning 'supadispatch: pg_cron jobs not scheduled (%); run select dispatch.schedule_jobs()', sqlerrm;
end
$$;
