-- Privileges, RLS, realtime policies, pg_cron jobs. Last, so it covers everything above.

-- RLS on every dispatch table. No client policies: clients use the public.dispatch_* RPCs; the
-- owner (postgres) and service_role bypass RLS.
do $$
declare
  t record;
begin
  for t in select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = 'dispatch' and c.relkind in ('r', 'p') loop
    execute format('alter table dispatch.%I enable row level security', t.relname);
  end loop;
end
$$;

revoke all on schema dispatch from public, anon;
-- authenticated needs USAGE only to evaluate the realtime.messages policies (dispatch.can_read_topic).
grant usage on schema dispatch to authenticated, service_role;

revoke all on all tables in schema dispatch from public, anon, authenticated;
revoke all on all sequences in schema dispatch from public, anon, authenticated;
revoke all on all functions in schema dispatch from public, anon, authenticated;
grant select, insert, update, delete on all tables in schema dispatch to service_role;
grant usage, select on all sequences in schema dispatch to service_role;
grant execute on all functions in schema dispatch to service_role;
grant execute on function dispatch.can_read_topic(text) to authenticated;

-- Client RPCs: authenticated only.
do $$
declare
  f record;
begin
  for f in select p.oid::regprocedure as sig, p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname = 'public' and p.proname like 'dispatch\_%' loop
    execute format('revoke all on function %s from public, anon, authenticated, service_role', f.sig);
    if f.proname like 'dispatch\_worker\_%' then
      execute format('grant execute on function %s to service_role', f.sig);
    else
      execute format('grant execute on function %s to authenticated', f.sig);
    end if;
  end loop;
end
$$;

do $$
begin
  perform dispatch.install_realtime_policies();
end
$$;

do $$
begin
  perform dispatch.schedule_jobs();
exception when others then
  raise warning 'supadispatch: pg_cron jobs not scheduled (%); run select dispatch.schedule_jobs()', sqlerrm;
end
$$;
