-- Receipts: the state machine and the worker queue API (what dispatch-worker calls to deliver them).
--
--   pending   --claim-->            sending      (dispatch.claim_receipts; the only place attempt_count grows)
--   scheduled --claim-->            sending
--   sending   --complete-->         sent         (dispatch.complete_receipt)
--   sending   --retry-->            scheduled    (dispatch.retry_receipt; failed when attempts are used up)
--   sending   --fail-->             failed       (dispatch.fail_receipt)
--   sending   --expire-->           scheduled    (dispatch.reclaim_expired_leases; failed when used up)
--   sending   --finish-->           sent / scheduled / failed  (dispatch.finish_receipts in
--                                   061_receipts_batch.sql: complete / retry / fail for many at once)
--   pending   --cancel/scheduled--> cancelled    (dispatch.cancel_receipt)
--   pending   --skip/scheduled-->   skipped      (dispatch.skip_receipt)
--   failed    --requeue-->          scheduled    (dispatch.requeue_receipt, admin "retry now")
-- Receipts are created (by dispatch.create_receipts only, in 062_occurrences.sql) `pending`, `skipped`
-- (preference opt-out) or, for in_app without delay, `sent` together with their notification. A
-- trigger refuses any other status change, so the transition functions are the only way to move a
-- receipt.

create or replace function dispatch.receipt_transition_allowed(p_via text, p_from text, p_to text)
returns boolean
language sql immutable as $$
  select (p_via, p_from, p_to) in (
    ('claim', 'pending', 'sending'), ('claim', 'scheduled', 'sending'),
    ('complete', 'sending', 'sent'),
    ('retry', 'sending', 'scheduled'), ('retry', 'sending', 'failed'),
    ('fail', 'sending', 'failed'),
    ('finish', 'sending', 'sent'), ('finish', 'sending', 'scheduled'), ('finish', 'sending', 'failed'),
    ('expire', 'sending', 'scheduled'), ('expire', 'sending', 'failed'),
    ('cancel', 'pending', 'cancelled'), ('cancel', 'scheduled', 'cancelled'),
    ('skip', 'pending', 'skipped'), ('skip', 'scheduled', 'skipped'),
    ('requeue', 'failed', 'scheduled'))
$$;

create or replace function dispatch.receipts_guard() returns trigger
language plpgsql set search_path = '' as $$
declare
  via text := coalesce(current_setting('dispatch.transition', true), '');
begin
  if new.status is distinct from old.status
     and not dispatch.receipt_transition_allowed(via, old.status, new.status) then
    raise exception 'dispatch: illegal receipt transition % -> % (receipt %)', old.status, new.status, old.id
      using hint = 'change a receipt''s status only through the dispatch.*_receipt(s) functions';
  end if;
  if new.attempt_count is distinct from old.attempt_count and via <> 'claim' then
    raise exception 'dispatch: attempt_count changes only when a receipt is claimed (receipt %)', old.id;
  end if;
  new.updated_at := now();
  return new;
end
$$;

-- Fires only when status or attempt_count change (creation is checked by create_receipts).
drop trigger if exists receipts_guard on dispatch.receipts;
create trigger receipts_guard before update on dispatch.receipts
  for each row when (old.status is distinct from new.status or old.attempt_count is distinct from new.attempt_count)
  execute function dispatch.receipts_guard();

-- Lock one receipt and check the transition; raises the errors every transition shares.
create or replace function dispatch.lock_receipt_for(p_id uuid, p_via text, p_to text, p_token bigint)
returns dispatch.receipts
language plpgsql security definer set search_path = '' as $$
declare
  r dispatch.receipts;
begin
  if p_id is null then
    raise exception 'dispatch: receipt id must not be null';
  end if;
  select * into r from dispatch.receipts where id = p_id for update;
  if not found then
    raise exception 'dispatch: receipt % not found', p_id;
  end if;
  -- A lease holder's report after its lease ended (reclaimed: scheduled; or claimed again, maybe
  -- finished, by a new owner: another token) is stale, whatever the status now: 40001, which the
  -- worker drops, not an illegal-transition error (found by e2e/chaos/stale-worker.test.ts)
  if p_token is not null and r.lease_token is not null
     and (p_token is distinct from r.lease_token or r.status = 'scheduled') then
    raise exception 'dispatch: stale lease token % for receipt % (current %)', p_token, p_id, r.lease_token
      using errcode = '40001', hint = 'the lease expired and the receipt was claimed again; drop this result';
  end if;
  if not dispatch.receipt_transition_allowed(p_via, r.status, p_to) then
    raise exception 'dispatch: illegal receipt transition % -> % (receipt %)', r.status, p_to, p_id;
  end if;
  if r.status = 'sending' and p_token is distinct from r.lease_token then
    raise exception 'dispatch: stale lease token % for receipt % (current %)', p_token, p_id, r.lease_token
      using errcode = '40001', hint = 'the lease expired and the receipt was claimed again; drop this result';
  end if;
  perform set_config('dispatch.transition', p_via, true);
  return r;
end
$$;

create or replace function dispatch.end_transition() returns void
language sql set search_path = '' as $$ select set_config('dispatch.transition', '', true) $$;

-- Close the attempt opened by claim.
create or replace function dispatch.finish_attempt(
  r dispatch.receipts, p_outcome text, p_http_status integer, p_error text, p_duration_ms integer
) returns void
language sql security definer set search_path = '' as $$
  update dispatch.attempts a set
    finished_at = now(), outcome = p_outcome, http_status = p_http_status, error = p_error,
    duration_ms = coalesce(p_duration_ms, (extract(epoch from (now() - a.started_at)) * 1000)::integer)
  where a.receipt_id = r.id and a.attempt = r.attempt_count
$$;

-- Retry delay after attempt n: base * 2^(n-1), capped, with up to 10% jitter.
create or replace function dispatch.backoff(p_attempt integer) returns interval
language sql volatile set search_path = '' as $$
  select make_interval(secs => least(
    dispatch.setting_int('backoff_max_seconds', 3600)::float8,
    dispatch.setting_int('backoff_base_seconds', 30)::float8 * power(2, greatest(p_attempt, 1) - 1)
  ) * (1 + random() * 0.1))
$$;

-- Replace each secret (tokens, codes) in content with [redacted] before it is stored.
create or replace function dispatch.redact(p_content jsonb, p_secrets text[]) returns jsonb
language plpgsql immutable set search_path = '' as $$
declare
  s text;
  t text := p_content::text;
begin
  if p_content is null or p_secrets is null then
    return p_content;
  end if;
  foreach s in array p_secrets loop
    if s is not null and length(s) > 0 then
      -- the secret as it appears inside a JSON string
      t := replace(t, substr(to_jsonb(s)::text, 2, length(to_jsonb(s)::text) - 2), '[redacted]');
    end if;
  end loop;
  return t::jsonb;
end
$$;

---------------------------------------------------------------------------------------------------
-- Worker queue API

-- Claim up to p_max due receipts (pending/scheduled, next_attempt_at <= now()) for p_worker with a
-- lease and a fresh fencing token each; opens an attempt per receipt.
create or replace function dispatch.claim_receipts(
  p_worker text,
  p_max integer default 10,
  p_lease_seconds integer default null,
  p_transports text[] default null
) returns setof dispatch.receipts
language plpgsql security definer set search_path = '' as $$
declare
  v_lease interval := make_interval(secs => coalesce(p_lease_seconds, dispatch.setting_int('lease_seconds', 300)));
begin
  if p_worker is null or length(p_worker) = 0 then
    raise exception 'dispatch: claim needs a worker name';
  end if;
  if p_max is null or p_max < 1 or p_max > 1000 then
    raise exception 'dispatch: claim size must be between 1 and 1000';
  end if;
  perform set_config('dispatch.transition', 'claim', true);
  return query
  with due as (
    -- ordered by next_attempt_at alone, so receipts_due_idx (next_attempt_at) hands the first p_max
    -- over in order (ties in the index's order, their physical order: about first made, first claimed).
    -- With `, r.id` too the index could not give the order: every claim read and sorted every due
    -- receipt (3.3 ms for a backlog of 5,000, most of a claim's cost; found in session 5)
    select r.id from dispatch.receipts r
    where r.status in ('pending', 'scheduled') and r.next_attempt_at <= now()
      and (p_transports is null or r.transport = any(p_transports))
    order by r.next_attempt_at
    limit p_max
    for update skip locked
  ), claimed as (
    update dispatch.receipts r set
      status = 'sending', attempt_count = r.attempt_count + 1, lease_owner = p_worker,
      lease_expires_at = now() + v_lease, lease_token = nextval('dispatch.lease_token_seq')
    from due where r.id = due.id
    returning r.*
  ), att as (
    insert into dispatch.attempts (receipt_id, attempt, lease_token, worker)
    select c.id, c.attempt_count, c.lease_token, p_worker from claimed c
  )
  select * from claimed order by next_attempt_at, id;
  perform dispatch.end_transition();
end
$$;

-- Store the rendered content once (secrets redacted). Only by the lease holder.
create or replace function dispatch.set_receipt_content(
  p_id uuid, p_token bigint, p_content jsonb, p_secrets text[] default null
) returns void
language plpgsql security definer set search_path = '' as $$
declare
  r dispatch.receipts;
begin
  select * into r from dispatch.receipts where id = p_id for update;
  if not found then
    raise exception 'dispatch: receipt % not found', p_id;
  end if;
  if r.status <> 'sending' or p_token is distinct from r.lease_token then
    raise exception 'dispatch: stale lease token % for receipt % (current %)', p_token, p_id, r.lease_token
      using errcode = '40001';
  end if;
  update dispatch.receipts set content = dispatch.redact(p_content, p_secrets) where id = p_id;
end
$$;

create or replace function dispatch.complete_receipt(
  p_id uuid, p_token bigint, p_provider_message_id text default null,
  p_provider_response jsonb default null, p_http_status integer default null, p_duration_ms integer default null
) returns dispatch.receipts
language plpgsql security definer set search_path = '' as $$
declare
  r dispatch.receipts;
begin
  r := dispatch.lock_receipt_for(p_id, 'complete', 'sent', p_token);
  perform dispatch.finish_attempt(r, 'sent', p_http_status, null, p_duration_ms);
  update dispatch.receipts set status = 'sent', sent_at = now(), provider_message_id = p_provider_message_id,
    provider_response = p_provider_response, last_error = null, lease_owner = null, lease_expires_at = null
  where id = p_id returning * into r;
  perform dispatch.end_transition();
  return r;
end
$$;

-- A failed attempt that may be retried: scheduled at p_retry_at (default: backoff), or failed when
-- the receipt has used its attempts.
create or replace function dispatch.retry_receipt(
  p_id uuid, p_token bigint, p_error text, p_retry_at timestamptz default null,
  p_http_status integer default null, p_duration_ms integer default null
) returns dispatch.receipts
language plpgsql security definer set search_path = '' as $$
declare
  r dispatch.receipts;
  v_max integer;
begin
  r := dispatch.lock_receipt_for(p_id, 'retry', 'scheduled', p_token);
  v_max := coalesce(r.max_attempts, dispatch.setting_int('max_attempts', 8)::integer);
  perform dispatch.finish_attempt(r, case when r.attempt_count >= v_max then 'failed' else 'retry' end,
                                  p_http_status, p_error, p_duration_ms);
  if r.attempt_count >= v_max then
    update dispatch.receipts set status = 'failed', failed_at = now(), last_error = p_error,
      lease_owner = null, lease_expires_at = null
    where id = p_id returning * into r;
  else
    update dispatch.receipts set status = 'scheduled', last_error = p_error,
      next_attempt_at = coalesce(p_retry_at, now() + dispatch.backoff(r.attempt_count)),
      lease_owner = null, lease_expires_at = null
    where id = p_id returning * into r;
  end if;
  perform dispatch.end_transition();
  return r;
end
$$;

create or replace function dispatch.fail_receipt(
  p_id uuid, p_token bigint, p_error text, p_http_status integer default null, p_duration_ms integer default null
) returns dispatch.receipts
language plpgsql security definer set search_path = '' as $$
declare
  r dispatch.receipts;
begin
  r := dispatch.lock_receipt_for(p_id, 'fail', 'failed', p_token);
  perform dispatch.finish_attempt(r, 'failed', p_http_status, p_error, p_duration_ms);
  update dispatch.receipts set status = 'failed', failed_at = now(), last_error = p_error,
    lease_owner = null, lease_expires_at = null
  where id = p_id returning * into r;
  perform dispatch.end_transition();
  return r;
end
$$;

create or replace function dispatch.cancel_receipt(p_id uuid, p_reason text default null) returns dispatch.receipts
language plpgsql security definer set search_path = '' as $$
declare
  r dispatch.receipts;
begin
  r := dispatch.lock_receipt_for(p_id, 'cancel', 'cancelled', null);
  update dispatch.receipts set status = 'cancelled', last_error = coalesce(p_reason, last_error)
  where id = p_id returning * into r;
  perform dispatch.end_transition();
  return r;
end
$$;

create or replace function dispatch.skip_receipt(p_id uuid, p_reason text default 'preference') returns dispatch.receipts
language plpgsql security definer set search_path = '' as $$
declare
  r dispatch.receipts;
begin
  r := dispatch.lock_receipt_for(p_id, 'skip', 'skipped', null);
  update dispatch.receipts set status = 'skipped', skip_reason = p_reason where id = p_id returning * into r;
  perform dispatch.end_transition();
  return r;
end
$$;

create or replace function dispatch.requeue_receipt(p_id uuid, p_at timestamptz default null) returns dispatch.receipts
language plpgsql security definer set search_path = '' as $$
declare
  r dispatch.receipts;
begin
  r := dispatch.lock_receipt_for(p_id, 'requeue', 'scheduled', null);
  -- one more attempt than it has used
  update dispatch.receipts set status = 'scheduled', next_attempt_at = coalesce(p_at, now()), failed_at = null,
    max_attempts = case when attempt_count >= coalesce(max_attempts, dispatch.setting_int('max_attempts', 8)::integer)
                        then attempt_count + 1 else max_attempts end
  where id = p_id returning * into r;
  perform dispatch.end_transition();
  if r.next_attempt_at <= now() then
    perform dispatch.poke_worker();
  end if;
  return r;
end
$$;

-- Leases that expired (the worker died or overran): back to scheduled (or failed when used up).
create or replace function dispatch.reclaim_expired_leases() returns integer
language plpgsql security definer set search_path = '' as $$
declare
  v_count integer;
  v_default_max integer := dispatch.setting_int('max_attempts', 8)::integer;
begin
  perform set_config('dispatch.transition', 'expire', true);
  with expired as (
    select r.id from dispatch.receipts r
    where r.status = 'sending' and r.lease_expires_at < now()
    for update skip locked
  ), upd as (
    update dispatch.receipts r set
      status = case when r.attempt_count >= coalesce(r.max_attempts, v_default_max) then 'failed' else 'scheduled' end,
      failed_at = case when r.attempt_count >= coalesce(r.max_attempts, v_default_max) then now() end,
      last_error = 'lease expired', next_attempt_at = now(), lease_owner = null, lease_expires_at = null
    from expired where r.id = expired.id
    returning r.id, r.attempt_count
  ), att as (
    update dispatch.attempts a set finished_at = now(), outcome = 'expired', error = 'lease expired'
    from upd where a.receipt_id = upd.id and a.attempt = upd.attempt_count and a.finished_at is null
  )
  select count(*) into v_count from upd;
  perform dispatch.end_transition();
  return v_count;
end
$$;

-- Deliver a delayed in_app receipt the worker claimed: creates the notification and completes it.
create or replace function dispatch.deliver_in_app_receipt(p_id uuid, p_token bigint) returns uuid
language plpgsql security definer set search_path = '' as $$
declare
  r dispatch.receipts;
  ev dispatch.events;
  v_id uuid;
begin
  select * into r from dispatch.receipts where id = p_id;
  if found and r.transport <> 'in_app' then
    raise exception 'dispatch: receipt % is not an in_app receipt', p_id;
  end if;
  -- checks status and token
  r := dispatch.lock_receipt_for(p_id, 'complete', 'sent', p_token);
  perform dispatch.end_transition();
  select * into ev from dispatch.events where id = r.event_id;
  insert into dispatch.notifications (user_id, event_id, occurrence_id, receipt_id, type, title, message,
                                      action_url, action_label, metadata)
  values (r.user_id, r.event_id, r.occurrence_id, r.id, coalesce(r.content ->> 'type', ev.type, 'info'),
          coalesce(r.content ->> 'title', ''), coalesce(r.content ->> 'message', ''),
          r.content ->> 'actionUrl', r.content ->> 'actionLabel', coalesce(r.content -> 'metadata', '{}'))
  returning id into v_id;
  perform dispatch.complete_receipt(p_id, p_token);
  return v_id;
end
$$;
