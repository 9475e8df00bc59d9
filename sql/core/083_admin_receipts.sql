-- Admin: receipts that failed (every attempt with them), and requeueing them — what an admin UI's
-- "failed deliveries" page calls. Admin-checked on the server (dispatch.require_admin), granted to
-- `authenticated` (900_grants.sql, dispatch.rpc_functions()).

-- Failed receipts are few; the partial index keeps listing them cheap without costing other writes
-- (a pending or sent receipt is not in it; status changes are already non-HOT: receipts_due_idx).
create index if not exists receipts_failed_idx on dispatch.receipts (failed_at desc) where status = 'failed';

-- A receipt's attempts, oldest first, as the admin RPCs return them.
create or replace function dispatch.receipt_attempts_json(p_receipt_id uuid) returns jsonb
language sql stable security definer set search_path = '' as $$
  select coalesce(jsonb_agg(jsonb_build_object(
    'attempt', a.attempt, 'outcome', a.outcome, 'httpStatus', a.http_status, 'error', a.error,
    'worker', a.worker, 'startedAt', a.started_at, 'finishedAt', a.finished_at, 'durationMs', a.duration_ms)
    order by a.attempt), '[]')
  from dispatch.attempts a where a.receipt_id = p_receipt_id
$$;

-- Admin: failed receipts, most recently failed first, each with its attempts.
create or replace function public.dispatch_failed_receipts(
  event_id text default null, since timestamptz default null, max_rows integer default 50
) returns jsonb
language plpgsql stable security definer set search_path = '' as $$
begin
  perform dispatch.require_admin();
  perform dispatch.require_max_rows(max_rows, 500);
  return coalesce((
    select jsonb_agg(jsonb_build_object(
      'id', r.id, 'occurrenceId', r.occurrence_id, 'eventId', r.event_id, 'channel', r.channel,
      'transport', r.transport, 'audience', r.audience, 'userId', r.user_id, 'address', r.address,
      'attemptCount', r.attempt_count, 'lastError', r.last_error, 'content', r.content,
      'createdAt', r.created_at, 'failedAt', r.failed_at,
      'attempts', dispatch.receipt_attempts_json(r.id))
      order by r.failed_at desc nulls last, r.id desc)
    from (select * from dispatch.receipts x
          where x.status = 'failed'
            and (dispatch_failed_receipts.event_id is null or x.event_id = dispatch_failed_receipts.event_id)
            and (since is null or x.failed_at >= since)
          order by x.failed_at desc nulls last, x.id desc limit max_rows) r), '[]');
end
$$;

-- Admin: send failed receipts again (at `at`, default now; the worker is poked when due). Each gets
-- one more attempt. Receipts that are not failed (already requeued, sent meanwhile, unknown) are
-- returned in `skipped` with their status, not an error, so a page of ids can be sent as it is.
create or replace function public.dispatch_requeue_receipts(receipt_ids uuid[], at timestamptz default null)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_id uuid;
  v_status text;
  v_requeued jsonb := '[]';
  v_skipped jsonb := '[]';
begin
  perform dispatch.require_admin();
  if receipt_ids is null or cardinality(receipt_ids) = 0 then
    raise exception 'dispatch: receipt_ids must name at least one receipt' using errcode = '22023';
  end if;
  if cardinality(receipt_ids) > 1000 then
    raise exception 'dispatch: at most 1000 receipt_ids at once' using errcode = '22023';
  end if;
  for v_id in select distinct u.id from unnest(receipt_ids) u(id) where u.id is not null order by 1 loop
    -- locked so that a concurrent requeue of the same receipt sees it scheduled and skips it
    select r.status into v_status from dispatch.receipts r where r.id = v_id for update;
    if not found then
      v_skipped := v_skipped || jsonb_build_object('id', v_id, 'status', null);
    elsif v_status <> 'failed' then
      v_skipped := v_skipped || jsonb_build_object('id', v_id, 'status', v_status);
    else
      perform dispatch.requeue_receipt(v_id, at);
      v_requeued := v_requeued || to_jsonb(v_id);
    end if;
  end loop;
  return jsonb_build_object('requeued', v_requeued, 'skipped', v_skipped);
end
$$;
