-- Receipts: the state machine, creation from expanders, occurrences (fire / emit / replay), the
-- once-per-transaction worker poke.
--
--   pending   --claim-->            sending      (dispatch.claim_receipts; the only place attempt_count grows)
--   scheduled --claim-->            sending
--   sending   --complete-->         sent         (dispatch.complete_receipt)
--   sending   --retry-->            scheduled    (dispatch.retry_receipt; failed when attempts are used up)
--   sending   --fail-->             failed       (dispatch.fail_receipt)
--   sending   --expire-->           scheduled    (dispatch.reclaim_expired_leases; failed when used up)
--   pending   --cancel/scheduled--> cancelled    (dispatch.cancel_receipt)
--   pending   --skip/scheduled-->   skipped      (dispatch.skip_receipt)
--   failed    --requeue-->          scheduled    (dispatch.requeue_receipt, admin "retry now")
-- Receipts are created (by dispatch.create_receipts only) `pending`, `skipped` (preference opt-out)
-- or, for in_app without delay, `sent` together with their notification. A trigger refuses any other
-- status change, so the transition functions are the only way to move a receipt.

create or replace function dispatch.receipt_transition_allowed(p_via text, p_from text, p_to text)
returns boolean
language sql immutable as $$
  select (p_via, p_from, p_to) in (
    ('claim', 'pending', 'sending'), ('claim', 'scheduled', 'sending'),
    ('complete', 'sending', 'sent'),
    ('retry', 'sending', 'scheduled'), ('retry', 'sending', 'failed'),
    ('fail', 'sending', 'failed'),
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
    select r.id from dispatch.receipts r
    where r.status in ('pending', 'scheduled') and r.next_attempt_at <= now()
      and (p_transports is null or r.transport = any(p_transports))
    order by r.next_attempt_at, r.id
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
  v_max := coalesce(r.max_attempts, dispatch.setting_int('max_attempts', 5)::integer);
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
    max_attempts = case when attempt_count >= coalesce(max_attempts, dispatch.setting_int('max_attempts', 5)::integer)
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
  v_default_max integer := dispatch.setting_int('max_attempts', 5)::integer;
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

---------------------------------------------------------------------------------------------------
-- Poking the worker

-- Ask pg_net to call the worker (Vault secrets dispatch_worker_url / dispatch_worker_secret), at most
-- once per transaction and, across transactions, at most once per poke_interval_ms (a poked worker
-- keeps draining and claiming for that long, see dispatch.worker_linger_ms, so it sees the work of
-- the transactions that did not poke). pg_net sends at COMMIT, so a rollback sends nothing. Missing
-- pg_net, Vault or secrets is not an error: work waits for dispatch.tick() and `doctor` explains.
create or replace function dispatch.poke_worker(p_reason text default 'due') returns boolean
language plpgsql security definer set search_path = '' as $$
declare
  v_enabled boolean;
  v_timeout integer;
  v_url text;
  v_secret text;
begin
  if current_setting('dispatch.poked', true) = 'on' then
    return false;
  end if;
  perform set_config('dispatch.poked', 'on', true);
  -- debounce first: most transactions stop at this one read
  if exists (select from dispatch.worker_wake w where w.next_poke_at > clock_timestamp()) then
    return false;
  end if;
  -- one transaction per interval gets here. If another holds the row (it is poking: its poke goes out
  -- when it commits, e.g. a drain that created due receipts), skip instead of waiting: an app's commit
  -- must never wait for a drain.
  perform from dispatch.worker_wake w where w.id = 1 and w.next_poke_at <= clock_timestamp()
    for update skip locked;
  if not found then
    return false;
  end if;
  update dispatch.worker_wake w set poked_at = clock_timestamp(),
    next_poke_at = clock_timestamp() + make_interval(secs => dispatch.setting_int('poke_interval_ms', 200) / 1000.0)
  where w.id = 1;
  select coalesce(bool_and((s.value #>> '{}')::boolean) filter (where s.key = 'poke_worker'), true),
         coalesce(max((s.value #>> '{}')::integer) filter (where s.key = 'worker_timeout_ms'), 5000)
    into v_enabled, v_timeout
  from dispatch.settings s where s.key in ('poke_worker', 'worker_timeout_ms');
  if not v_enabled
     or to_regprocedure('net.http_post(text,jsonb,jsonb,jsonb,integer)') is null
     or to_regclass('vault.decrypted_secrets') is null then
    return false;
  end if;
  -- read on every poke (not cached): a changed secret applies to the next transaction. Hosted Vault
  -- decrypts with libsodium (microseconds); the local stand-in is comparable.
  select max(s.decrypted_secret) filter (where s.name = 'dispatch_worker_url'),
         max(s.decrypted_secret) filter (where s.name = 'dispatch_worker_secret')
    into v_url, v_secret
  from vault.decrypted_secrets s where s.name in ('dispatch_worker_url', 'dispatch_worker_secret');
  if v_url is null or v_url = '' then
    return false;
  end if;
  perform net.http_post(
    url := v_url,
    body := jsonb_build_object('reason', p_reason),
    headers := jsonb_build_object('Content-Type', 'application/json', 'x-dispatch-secret', coalesce(v_secret, '')),
    timeout_milliseconds := v_timeout);
  return true;
end
$$;

---------------------------------------------------------------------------------------------------
-- Creating receipts (called by generated expanders)

-- One receipt per (occurrence, channel, recipient); re-expansion creates no duplicates. Opted-out
-- recipients get a `skipped` receipt. in_app with no delay is delivered inline: the receipt is
-- created `sent` with its notification. Returns the number of receipts created.
create or replace function dispatch.create_receipts(
  p_event_id text,
  p_channel text,
  p_transport text,
  p_audience text,
  p_delay interval,
  p_recipients dispatch.recipient[]
) returns integer
language plpgsql security definer set search_path = '' as $$
declare
  v_type text;
  v_created integer;
  v_due integer;
  v_inline boolean := p_transport = 'in_app' and coalesce(p_delay, interval '0') <= interval '0';
  v_prefs boolean;
begin
  if p_recipients is null or cardinality(p_recipients) = 0 then
    return 0;
  end if;
  if p_channel is null or p_transport is null then
    raise exception 'dispatch: create_receipts needs a channel and a transport';
  end if;
  -- the event and whether any recipient has preferences (looked up per recipient only then)
  select e.type, e.user_configurable and exists (
           select from dispatch.preferences p where p.user_id = any(array(select (r).user_id from unnest(p_recipients) r)))
    into v_type, v_prefs
  from dispatch.events e where e.id = p_event_id;
  if not found then
    raise exception 'dispatch: unknown event %', p_event_id;
  end if;
  if v_inline then
    -- receipts created sent, with their notifications (the receipt stays: it is the audit record and
    -- its unique key is what keeps a replay from notifying twice)
    with rc as (
      select distinct on (t.occurrence_id, t.user_id, t.address) t.*
      from unnest(p_recipients) t
      where t.occurrence_id is not null and t.user_id is not null
    ), ins as (
      insert into dispatch.receipts (occurrence_id, event_id, channel, transport, audience, user_id, address,
                                     status, next_attempt_at, content, skip_reason, sent_at)
      select rc.occurrence_id, p_event_id, p_channel, p_transport, p_audience, rc.user_id, rc.address,
             x.status, now(), rc.content,
             case when x.status = 'skipped' then 'preference' end,
             case when x.status = 'sent' then now() end
      from rc
      cross join lateral (select case
          when v_prefs and not dispatch.preference_enabled(rc.user_id, p_event_id, p_transport) then 'skipped'
          else 'sent' end as status) x
      on conflict on constraint receipts_unique_recipient do nothing
      returning *
    ), notif as (
      insert into dispatch.notifications (user_id, event_id, occurrence_id, receipt_id, type, title, message,
                                          action_url, action_label, metadata)
      select i.user_id, p_event_id, i.occurrence_id, i.id,
             coalesce(i.content ->> 'type', v_type, 'info'),
             coalesce(i.content ->> 'title', ''), coalesce(i.content ->> 'message', ''),
             i.content ->> 'actionUrl', i.content ->> 'actionLabel', coalesce(i.content -> 'metadata', '{}')
      from ins i where i.status = 'sent' order by i.occurrence_id, i.user_id
    )
    select count(*) into v_created from ins;
    return v_created;
  end if;
  -- no notification insert here: even with no rows it would run the notifications statement trigger
  with rc as (
    select distinct on (t.occurrence_id, t.user_id, t.address) t.*
    from unnest(p_recipients) t
    where t.occurrence_id is not null and (t.user_id is not null or (t.address is not null and p_transport <> 'in_app'))
  ), ins as (
    insert into dispatch.receipts (occurrence_id, event_id, channel, transport, audience, user_id, address,
                                   status, next_attempt_at, content, skip_reason)
    select rc.occurrence_id, p_event_id, p_channel, p_transport, p_audience, rc.user_id, rc.address,
           x.status, now() + coalesce(p_delay, interval '0'), rc.content,
           case when x.status = 'skipped' then 'preference' end
    from rc
    cross join lateral (select case
        when v_prefs and rc.user_id is not null
             and not dispatch.preference_enabled(rc.user_id, p_event_id, p_transport) then 'skipped'
        else 'pending' end as status) x
    on conflict on constraint receipts_unique_recipient do nothing
    returning status, next_attempt_at
  )
  select count(*), count(*) filter (where i.status = 'pending' and i.next_attempt_at <= now())
    into v_created, v_due
  from ins i;
  if v_due > 0 then
    perform dispatch.poke_worker('due');
  end if;
  return v_created;
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

---------------------------------------------------------------------------------------------------
-- Occurrences

-- Expand occurrences with the event's expander, a function (occurrences dispatch.occurrences[])
-- returning void that reads the batch with unnest(occurrences). Not strict: an error is stored on the
-- occurrences (status failed, replayable) and the app's write goes on. Strict: the error propagates.
create or replace function dispatch.expand(p_event_id text, p_occurrences dispatch.occurrences[]) returns boolean
language plpgsql security definer set search_path = '' as $$
declare
  ev dispatch.events;
  v_state text;
  v_msg text;
begin
  select * into ev from dispatch.events where id = p_event_id;
  if not found then
    update dispatch.occurrences set status = 'failed', error = format('dispatch: unknown event %s', p_event_id)
    where id = any(array(select (o).id from unnest(p_occurrences) o));
    return false;
  end if;
  if ev.expander is null then
    return true;
  end if;
  if ev.is_strict then
    execute format('select %s($1)', ev.expander::regproc) using p_occurrences;
    return true;
  end if;
  begin
    execute format('select %s($1)', ev.expander::regproc) using p_occurrences;
  exception when others then
    get stacked diagnostics v_state = returned_sqlstate, v_msg = message_text;
    update dispatch.occurrences set status = 'failed', error = v_state || ': ' || v_msg, expanded_at = null
    where id = any(array(select (o).id from unnest(p_occurrences) o));
    return false;
  end;
  return true;
end
$$;

-- Record occurrences of an event (one per element of p_records: [{"new": {...}, "old": {...}}, ...])
-- and expand them. Generated processors call it once per event per batch of captured changes, each
-- record carrying its writer and capture time ("actor", "at"; they win over p_actor / p_occurred_at);
-- strict events' generated triggers call it inside the write.
-- Returns the ids.
drop function if exists dispatch.fire(text, text, text, jsonb);
create or replace function dispatch.fire(p_event_id text, p_operation text, p_source_table text, p_records jsonb,
                                         p_actor uuid default dispatch.current_user_id(),
                                         p_occurred_at timestamptz default now())
returns uuid[]
language plpgsql security definer set search_path = '' as $$
declare
  v_occ dispatch.occurrences[];
  v_ids uuid[];
begin
  if p_records is null or jsonb_typeof(p_records) <> 'array' or jsonb_array_length(p_records) = 0 then
    return '{}';
  end if;
  with ins as (
    insert into dispatch.occurrences (event_id, source_table, operation, new_record, old_record, actor, created_at,
                                      expanded_at)
    select p_event_id, p_source_table, upper(p_operation), nullif(e -> 'new', 'null'), nullif(e -> 'old', 'null'),
           case when e ? 'actor' then (e ->> 'actor')::uuid else p_actor end,
           coalesce((e ->> 'at')::timestamptz, p_occurred_at, now()), now()
    from jsonb_array_elements(p_records) e
    returning *
  )
  select array_agg(row(ins.*)::dispatch.occurrences), array_agg(ins.id) into v_occ, v_ids from ins;
  perform dispatch.expand(p_event_id, v_occ);
  return v_ids;
end
$$;

-- Fire an event by hand (admin trigger, app SQL): one occurrence for one record. Returns its id.
create or replace function dispatch.emit(p_event_id text, p_record jsonb, p_old_record jsonb default null,
                                         p_operation text default 'MANUAL')
returns uuid
language plpgsql security definer set search_path = '' as $$
declare
  v_ids uuid[];
begin
  if not exists (select from dispatch.events where id = p_event_id) then
    raise exception 'dispatch: unknown event %', p_event_id;
  end if;
  v_ids := dispatch.fire(p_event_id, coalesce(p_operation, 'MANUAL'),
                         (select source_table from dispatch.events where id = p_event_id),
                         jsonb_build_array(jsonb_build_object('new', p_record, 'old', p_old_record)));
  return v_ids[1];
end
$$;

-- Expand an occurrence again (after fixing what made it fail). Receipts that exist are kept, so a
-- replay never duplicates. Raises if the expansion fails again. Returns receipts created.
create or replace function dispatch.replay(p_occurrence_id uuid) returns integer
language plpgsql security definer set search_path = '' as $$
declare
  o dispatch.occurrences;
  ev dispatch.events;
  v_before integer;
  v_after integer;
begin
  select * into o from dispatch.occurrences where id = p_occurrence_id for update;
  if not found then
    raise exception 'dispatch: occurrence % not found', p_occurrence_id;
  end if;
  select * into ev from dispatch.events where id = o.event_id;
  if not found then
    raise exception 'dispatch: unknown event %', o.event_id;
  end if;
  select count(*) into v_before from dispatch.receipts where occurrence_id = p_occurrence_id;
  if ev.expander is not null then
    execute format('select %s($1)', ev.expander::regproc) using array[o];
  end if;
  select count(*) into v_after from dispatch.receipts where occurrence_id = p_occurrence_id;
  update dispatch.occurrences set status = 'expanded', error = null, expanded_at = now(),
    replay_count = replay_count + 1
  where id = p_occurrence_id;
  return v_after - v_before;
end
$$;
