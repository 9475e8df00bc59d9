-- Periodic work: dispatch.tick() (pg_cron, every minute by default) and dispatch.prune() (daily).

-- Also the safety net of change processing: drains what no worker drained (no worker deployed, a
-- poke lost), up to tick_drain_max changes per run.
create or replace function dispatch.tick() returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_reclaimed integer;
  v_due integer;
  v_poked boolean := false;
  v_drained integer := 0;
  v_batch integer;
  v_max integer := greatest(dispatch.setting_int('tick_drain_max', 5000)::integer, 0);
  v_wal text;
  v_switched integer;
begin
  -- Realtime policies the install could not create (the auth locks were busy): a run that creates
  -- them holds those locks until it commits, so it returns at once and leaves the drain to the next.
  if dispatch.setting('realtime_policies_pending') is not null then
    if dispatch.install_realtime_policies() then
      return jsonb_build_object('realtime_policies', 'installed');
    end if;
  end if;
  -- Counts from the WAL (068_wal_slot.sql): the slot can only be created before this
  -- transaction writes, so first; a switch holds the tables' locks until commit, so then alone.
  if dispatch.wal_counts_setup_due() then
    select s.done, s.switched into v_wal, v_switched from dispatch.wal_counts_setup() s;
    if v_switched > 0 then
      return jsonb_build_object('counts_from_wal', v_wal);
    end if;
  end if;
  while v_drained < v_max loop
    v_batch := dispatch.drain(least(500, v_max - v_drained));
    exit when v_batch = 0;
    v_drained := v_drained + v_batch;
  end loop;
  -- counts from the WAL a drain's spaced publish left (067_wal_publish.sql)
  perform dispatch.publish_wal_counts_now();
  v_reclaimed := dispatch.reclaim_expired_leases();
  -- due now, or within worker_wake_within_ms (056_worker_alarm.sql): the poked run waits for it or
  -- hands over, so a receipt due between two ticks is not a minute late
  select count(*) into v_due from dispatch.receipts
  where status in ('pending', 'scheduled') and next_attempt_at <= now() + dispatch.worker_wake_within();
  if v_due > 0 then
    v_poked := dispatch.poke_worker('tick');
  end if;
  return jsonb_build_object('drained', v_drained, 'reclaimed', v_reclaimed, 'due', v_due, 'poked', v_poked)
    || case when v_wal is null then '{}'::jsonb else jsonb_build_object('counts_from_wal', v_wal) end;
end
$$;

-- Remove old rows in bounded batches: sent/skipped/cancelled receipts, failed receipts, attempts,
-- read notifications, occurrences without receipts. Run it again for more.
create or replace function dispatch.prune() returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_batch integer := dispatch.setting_int('prune_batch_size', 5000)::integer;
  v_receipts integer;
  v_failed integer;
  v_attempts integer;
  v_notifications integer;
  v_occurrences integer;
  v_cron_runs integer := 0;
begin
  delete from dispatch.attempts where id in (
    select id from dispatch.attempts
    where started_at < now() - dispatch.setting_interval('prune_attempts_after', '30 days') limit v_batch);
  get diagnostics v_attempts = row_count;

  delete from dispatch.receipts where id in (
    select id from dispatch.receipts
    where status in ('sent', 'skipped', 'cancelled')
      and updated_at < now() - dispatch.setting_interval('prune_receipts_after', '30 days') limit v_batch);
  get diagnostics v_receipts = row_count;

  delete from dispatch.receipts where id in (
    select id from dispatch.receipts
    where status = 'failed'
      and updated_at < now() - dispatch.setting_interval('prune_failed_receipts_after', '90 days') limit v_batch);
  get diagnostics v_failed = row_count;

  delete from dispatch.notifications where id in (
    select id from dispatch.notifications
    where read_at is not null
      and read_at < now() - dispatch.setting_interval('prune_read_notifications_after', '90 days') limit v_batch);
  get diagnostics v_notifications = row_count;

  -- pg_cron never trims cron.job_run_details: one row per run (1,440 a day for a job each minute).
  -- Only this plugin's jobs' rows; runs still in progress (no end_time) are kept.
  if to_regclass('cron.job_run_details') is not null then
    execute $q$delete from cron.job_run_details where runid in (
        select d.runid from cron.job_run_details d join cron.job j on j.jobid = d.jobid
        where j.jobname in ('dispatch-tick', 'dispatch-prune') and d.end_time is not null
          and d.end_time < now() - $1 limit $2)$q$
      using dispatch.setting_interval('prune_cron_runs_after', '7 days'), v_batch;
    get diagnostics v_cron_runs = row_count;
  end if;

  delete from dispatch.occurrences where id in (
    select o.id from dispatch.occurrences o
    where o.created_at < now() - dispatch.setting_interval('prune_occurrences_after', '30 days')
      and o.status = 'expanded'
      and not exists (select from dispatch.receipts r where r.occurrence_id = o.id)
    limit v_batch);
  get diagnostics v_occurrences = row_count;

  return jsonb_build_object('receipts', v_receipts, 'failed_receipts', v_failed, 'attempts', v_attempts,
                            'notifications', v_notifications, 'occurrences', v_occurrences,
                            'cron_runs', v_cron_runs);
end
$$;

-- Schedule tick and prune with pg_cron, by name (cron.schedule upserts: idempotent).
-- Returns false when pg_cron is not installed.
create or replace function dispatch.schedule_jobs() returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  if to_regprocedure('cron.schedule(text,text,text)') is null then
    return false;
  end if;
  perform cron.schedule('dispatch-tick', coalesce(dispatch.setting('tick_schedule') #>> '{}', '* * * * *'),
                        'select dispatch.tick()');
  perform cron.schedule('dispatch-prune', coalesce(dispatch.setting('prune_schedule') #>> '{}', '17 3 * * *'),
                        'select dispatch.prune()');
  return true;
end
$$;

-- The uninstall side: unschedule tick and prune. cron.unschedule raises for a job that does not
-- exist (facts §6), so each is looked up first (and by this role, as cron.unschedule(name) only sees
-- the caller's jobs). Returns how many were unscheduled; 0 without pg_cron.
create or replace function dispatch.unschedule_jobs() returns integer
language plpgsql security definer set search_path = '' as $$
declare
  v_name text;
  v_count integer := 0;
begin
  if to_regclass('cron.job') is null then
    return 0;
  end if;
  foreach v_name in array array['dispatch-tick', 'dispatch-prune'] loop
    if exists (select from cron.job where jobname = v_name and username = current_user) then
      perform cron.unschedule(v_name);
      v_count := v_count + 1;
    end if;
  end loop;
  return v_count;
end
$$;
