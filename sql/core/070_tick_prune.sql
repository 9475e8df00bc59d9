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
begin
  while v_drained < v_max loop
    v_batch := dispatch.drain(least(500, v_max - v_drained));
    exit when v_batch = 0;
    v_drained := v_drained + v_batch;
  end loop;
  v_reclaimed := dispatch.reclaim_expired_leases();
  select count(*) into v_due from dispatch.receipts
  where status in ('pending', 'scheduled') and next_attempt_at <= now();
  if v_due > 0 then
    v_poked := dispatch.poke_worker('tick');
  end if;
  return jsonb_build_object('drained', v_drained, 'reclaimed', v_reclaimed, 'due', v_due, 'poked', v_poked);
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

  delete from dispatch.occurrences where id in (
    select o.id from dispatch.occurrences o
    where o.created_at < now() - dispatch.setting_interval('prune_occurrences_after', '30 days')
      and o.status = 'expanded'
      and not exists (select from dispatch.receipts r where r.occurrence_id = o.id)
    limit v_batch);
  get diagnostics v_occurrences = row_count;

  return jsonb_build_object('receipts', v_receipts, 'failed_receipts', v_failed, 'attempts', v_attempts,
                            'notifications', v_notifications, 'occurrences', v_occurrences);
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
