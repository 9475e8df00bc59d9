-- Client RPCs (public schema, exposed by PostgREST): SECURITY DEFINER, acting on auth.uid().
-- Granted to `authenticated` only (900_grants.sql); `anon` gets "permission denied for function".
-- The worker's RPCs (public.dispatch_worker_*, at the end) are granted to service_role only.

create or replace function dispatch.require_user() returns uuid
language plpgsql stable set search_path = '' as $$
declare
  uid uuid := dispatch.current_user_id();
begin
  if uid is null then
    raise exception 'dispatch: not signed in' using errcode = '42501';
  end if;
  return uid;
end
$$;

-- The page size argument every listing RPC takes.
create or replace function dispatch.require_max_rows(p_max_rows integer, p_limit integer) returns void
language plpgsql immutable set search_path = '' as $$
begin
  if p_max_rows is null or p_max_rows < 1 or p_max_rows > p_limit then
    raise exception 'dispatch: max_rows must be between 1 and %', p_limit using errcode = '22023';
  end if;
end
$$;

create or replace function dispatch.require_admin() returns uuid
language plpgsql stable security definer set search_path = '' as $$
declare
  uid uuid := dispatch.require_user();
begin
  if not dispatch.is_admin(uid) then
    raise exception 'dispatch: admins only' using errcode = '42501';
  end if;
  return uid;
end
$$;

-- A page of a user's notifications, newest first: created_at desc, id desc. The cursor is the last
-- row held: (p_before, p_before_id) pages strictly after it in that order, so notifications that
-- share a created_at (several in one transaction: one now()) are neither skipped nor repeated.
-- p_before alone (the cursor before ids were part of it) keeps its meaning: older than p_before.
-- One static query per case: a filter like "p_before is null or ..." could not use the index
-- (user_id, created_at, id) as a range, and every page would scan every newer row.
drop function if exists dispatch.user_notifications(uuid, timestamptz, integer);
create or replace function dispatch.user_notifications(p_user_id uuid, p_before timestamptz, p_max integer,
                                                       p_before_id uuid default null)
returns jsonb
language plpgsql stable security definer set search_path = '' as $$
declare
  v_page jsonb;
begin
  if p_before_id is not null and p_before is null then
    raise exception 'dispatch: before_id needs before (the createdAt of the same notification)' using errcode = '22023';
  end if;
  if p_before is null then
    select jsonb_agg(dispatch.notification_payload(n) order by n.created_at desc, n.id desc) into v_page
    from (select * from dispatch.notifications x where x.user_id = p_user_id
          order by x.created_at desc, x.id desc limit p_max) n;
  elsif p_before_id is null then
    select jsonb_agg(dispatch.notification_payload(n) order by n.created_at desc, n.id desc) into v_page
    from (select * from dispatch.notifications x where x.user_id = p_user_id and x.created_at < p_before
          order by x.created_at desc, x.id desc limit p_max) n;
  else
    select jsonb_agg(dispatch.notification_payload(n) order by n.created_at desc, n.id desc) into v_page
    from (select * from dispatch.notifications x
          where x.user_id = p_user_id and (x.created_at, x.id) < (p_before, p_before_id)
          order by x.created_at desc, x.id desc limit p_max) n;
  end if;
  return coalesce(v_page, '[]');
end
$$;

create or replace function public.dispatch_initial_state() returns jsonb
language plpgsql stable security definer set search_path = '' as $$
declare
  uid uuid := dispatch.require_user();
  auds text[] := dispatch.user_audiences(uid);
begin
  return jsonb_build_object(
    'counters', coalesce((
      select jsonb_object_agg(d.name, jsonb_build_object(
               'value', coalesce(s.value, 0), 'seq', coalesce(s.seq, 0), 'invalidates', to_jsonb(d.invalidates)))
      from dispatch.counters_def d
      left join dispatch.counter_state s
        on s.name = d.name and s.scope = case d.scope_kind when 'user' then uid::text else d.audience end
      where d.scope_kind = 'user' or d.audience = any(auds)), '{}'),
    'notifications', dispatch.user_notifications(uid, null, 20),
    'topics', to_jsonb(array['dispatch:user:' || uid::text]
                       || array(select 'dispatch:audience:' || a from unnest(auds) a order by a)));
end
$$;

-- A page older than the last notification held: pass its createdAt as before and its id as before_id
-- (before alone: older than that instant, which skips the rest of a page boundary's timestamp).
-- before_id comes last so positional calls (before, max_rows) keep working.
drop function if exists public.dispatch_notifications(timestamptz, integer);
create or replace function public.dispatch_notifications(before timestamptz default null, max_rows integer default 20,
                                                         before_id uuid default null)
returns jsonb
language plpgsql stable security definer set search_path = '' as $$
declare
  uid uuid := dispatch.require_user();
begin
  perform dispatch.require_max_rows(max_rows, 100);
  return dispatch.user_notifications(uid, before, max_rows, before_id);
end
$$;

create or replace function public.dispatch_mark_read(ids uuid[]) returns integer
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := dispatch.require_user();
begin
  if ids is null then
    raise exception 'dispatch: ids must not be null (use dispatch_mark_all_read)' using errcode = '22023';
  end if;
  if cardinality(ids) > 1000 then
    raise exception 'dispatch: at most 1000 ids at once' using errcode = '22023';
  end if;
  return dispatch.mark_read(uid, ids);
end
$$;

create or replace function public.dispatch_mark_all_read() returns integer
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := dispatch.require_user();
begin
  return dispatch.mark_read(uid, null);
end
$$;

create or replace function public.dispatch_preferences() returns jsonb
language plpgsql stable security definer set search_path = '' as $$
declare
  uid uuid := dispatch.require_user();
begin
  return jsonb_build_object(
    'events', coalesce((
      select jsonb_agg(jsonb_build_object('id', e.id, 'category', e.category, 'type', e.type,
                                          'description', e.description, 'transports', to_jsonb(e.transports))
                       order by e.id)
      from dispatch.events e where e.user_configurable), '[]'),
    'preferences', coalesce((
      select jsonb_agg(jsonb_build_object(
               'eventId', nullif(p.event_id, '*'), 'category', nullif(p.category, '*'),
               'transport', nullif(p.transport, '*'), 'enabled', p.enabled)
             order by p.event_id, p.category, p.transport)
      from dispatch.preferences p where p.user_id = uid), '[]'));
end
$$;

-- event_id null + category: a category-wide preference; transport null: every transport.
-- transport: one of the event's transports (event preference), or of dispatch.known_transports()
-- and the transports of the category's events (category preference). event_id and category are at
-- most 200 characters, transport 32; a user has at most max_preferences_per_user rows (default 500;
-- changing an existing row is always allowed).
create or replace function public.dispatch_set_preference(event_id text, transport text, enabled boolean,
                                                          category text default null)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := dispatch.require_user();
  ev dispatch.events;
  allowed text[];
  max_rows bigint;
begin
  if enabled is null then
    raise exception 'dispatch: enabled must be true or false' using errcode = '22023';
  end if;
  if event_id is null and category is null then
    raise exception 'dispatch: give an event_id or a category' using errcode = '22023';
  end if;
  if event_id is not null and category is not null then
    raise exception 'dispatch: give an event_id or a category, not both' using errcode = '22023';
  end if;
  if length(event_id) > 200 then
    raise exception 'dispatch: event_id is longer than 200 characters' using errcode = '22023';
  end if;
  if length(category) > 200 then
    raise exception 'dispatch: category is longer than 200 characters' using errcode = '22023';
  end if;
  if length(transport) > 32 then
    raise exception 'dispatch: transport is longer than 32 characters' using errcode = '22023';
  end if;
  if event_id is not null then
    select * into ev from dispatch.events e where e.id = dispatch_set_preference.event_id;
    if not found then
      raise exception 'dispatch: unknown event %', event_id using errcode = '22023';
    end if;
    if not ev.user_configurable then
      raise exception 'dispatch: event % is not user-configurable', event_id using errcode = '22023';
    end if;
    if transport is not null and not transport = any (ev.transports) then
      raise exception 'dispatch: transport % is not a transport of event % (%)', transport, event_id,
        coalesce(nullif(array_to_string(array(select t from unnest(ev.transports) t order by t), ', '), ''), 'none')
        using errcode = '22023';
    end if;
  else
    if not exists (select from dispatch.events e where e.category = dispatch_set_preference.category) then
      raise exception 'dispatch: unknown category %', category using errcode = '22023';
    end if;
    if transport is not null then
      allowed := array(select distinct t from (
                         select unnest(dispatch.known_transports()) as t
                         union
                         select unnest(e.transports) from dispatch.events e
                         where e.category = dispatch_set_preference.category) s order by t);
      if not transport = any (allowed) then
        raise exception 'dispatch: unknown transport % (%)', transport, array_to_string(allowed, ', ')
          using errcode = '22023';
      end if;
    end if;
  end if;
  if not exists (select from dispatch.preferences p
                 where p.user_id = uid and p.event_id = coalesce(dispatch_set_preference.event_id, '*')
                   and p.category = coalesce(dispatch_set_preference.category, '*')
                   and p.transport = coalesce(dispatch_set_preference.transport, '*')) then
    -- one writer per user at a time, so concurrent calls cannot pass the cap together
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('dispatch.preferences:' || uid::text));
    max_rows := dispatch.setting_int('max_preferences_per_user', 500);
    if (select count(*) from dispatch.preferences p where p.user_id = uid) >= max_rows then
      raise exception 'dispatch: too many preferences (at most % per user)', max_rows using errcode = '22023';
    end if;
  end if;
  insert into dispatch.preferences as p (user_id, event_id, category, transport, enabled)
  values (uid, coalesce(dispatch_set_preference.event_id, '*'), coalesce(dispatch_set_preference.category, '*'),
          coalesce(dispatch_set_preference.transport, '*'), dispatch_set_preference.enabled)
  on conflict on constraint preferences_pkey
  do update set enabled = excluded.enabled, updated_at = now();
  return jsonb_build_object('eventId', dispatch_set_preference.event_id, 'category', dispatch_set_preference.category,
                            'transport', dispatch_set_preference.transport, 'enabled', dispatch_set_preference.enabled);
end
$$;

-- Admin: receipts, newest first, filtered.
create or replace function public.dispatch_receipts(
  event_id text default null, status text default null, recipient uuid default null,
  since timestamptz default null, until timestamptz default null, max_rows integer default 50
) returns jsonb
language plpgsql stable security definer set search_path = '' as $$
begin
  perform dispatch.require_admin();
  perform dispatch.require_max_rows(max_rows, 500);
  if status is not null and status not in ('pending', 'scheduled', 'sending', 'sent', 'failed', 'skipped', 'cancelled') then
    raise exception 'dispatch: unknown status %', status using errcode = '22023';
  end if;
  return coalesce((
    select jsonb_agg(jsonb_build_object(
      'id', r.id, 'occurrenceId', r.occurrence_id, 'eventId', r.event_id, 'channel', r.channel,
      'transport', r.transport, 'audience', r.audience, 'userId', r.user_id, 'address', r.address,
      'status', r.status, 'attemptCount', r.attempt_count, 'nextAttemptAt', r.next_attempt_at,
      'lastError', r.last_error, 'providerMessageId', r.provider_message_id, 'skipReason', r.skip_reason,
      'content', r.content, 'createdAt', r.created_at, 'updatedAt', r.updated_at, 'sentAt', r.sent_at)
      order by r.created_at desc, r.id desc)
    from (select * from dispatch.receipts x
          where (dispatch_receipts.event_id is null or x.event_id = dispatch_receipts.event_id)
            and (dispatch_receipts.status is null or x.status = dispatch_receipts.status)
            and (recipient is null or x.user_id = recipient)
            and (since is null or x.created_at >= since) and (until is null or x.created_at < until)
          order by x.created_at desc, x.id desc limit max_rows) r), '[]');
end
$$;

-- Admin: occurrences, newest first, filtered (status failed = the ones to replay).
create or replace function public.dispatch_occurrences(
  event_id text default null, status text default null,
  since timestamptz default null, until timestamptz default null, max_rows integer default 50
) returns jsonb
language plpgsql stable security definer set search_path = '' as $$
begin
  perform dispatch.require_admin();
  perform dispatch.require_max_rows(max_rows, 500);
  return coalesce((
    select jsonb_agg(jsonb_build_object(
      'id', o.id, 'eventId', o.event_id, 'sourceTable', o.source_table, 'operation', o.operation,
      'record', o.new_record, 'oldRecord', o.old_record, 'actor', o.actor, 'status', o.status,
      'error', o.error, 'replayCount', o.replay_count, 'createdAt', o.created_at,
      'receipts', (select count(*) from dispatch.receipts r where r.occurrence_id = o.id))
      order by o.created_at desc, o.id desc)
    from (select * from dispatch.occurrences x
          where (dispatch_occurrences.event_id is null or x.event_id = dispatch_occurrences.event_id)
            and (dispatch_occurrences.status is null or x.status = dispatch_occurrences.status)
            and (since is null or x.created_at >= since) and (until is null or x.created_at < until)
          order by x.created_at desc, x.id desc limit max_rows) o), '[]');
end
$$;

-- Admin: replay a failed occurrence.
create or replace function public.dispatch_replay(occurrence_id uuid) returns integer
language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.require_admin();
  return dispatch.replay(occurrence_id);
end
$$;

-- Admin: captured changes whose processing failed ('failed': their events did not fire and their
-- counters did not move until replayed) or that still wait for a drain ('waiting'), oldest first.
-- The captured rows themselves are not returned (they can be large): rowCount says how many.
create or replace function public.dispatch_changes(status text default 'failed', max_rows integer default 50)
returns jsonb
language plpgsql stable security definer set search_path = '' as $$
begin
  perform dispatch.require_admin();
  if status is null or status not in ('failed', 'waiting') then
    raise exception 'dispatch: status must be failed or waiting (got %)', coalesce(status, 'null') using errcode = '22023';
  end if;
  perform dispatch.require_max_rows(max_rows, 500);
  return coalesce((
    select jsonb_agg(jsonb_build_object(
      'id', c.id, 'sourceTable', c.source_table, 'operation', c.operation, 'actor', c.actor,
      'rowCount', c.row_count, 'capturedAt', c.captured_at, 'attempts', c.attempts, 'error', c.error,
      'failedAt', c.failed_at) order by c.id)
    from (select * from dispatch.changes x
          where (x.error is not null) = (dispatch_changes.status = 'failed')
          order by x.id limit max_rows) c), '[]');
end
$$;

-- Admin: process a failed change again (after fixing its cause). Raises if it fails again.
create or replace function public.dispatch_replay_change(change_id bigint) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.require_admin();
  perform dispatch.replay_change(change_id);
end
$$;

-- Worker API over PostgREST (service_role only): thin wrappers of the queue functions.
create or replace function public.dispatch_worker_claim(worker text, max_count integer default 10,
                                                        lease_seconds integer default null, transports text[] default null)
returns setof dispatch.receipts
language sql security definer set search_path = '' as $$
  select * from dispatch.claim_receipts(worker, max_count, lease_seconds, transports)
$$;

create or replace function public.dispatch_worker_set_content(id uuid, lease_token bigint, content jsonb,
                                                              secrets text[] default null)
returns void
language sql security definer set search_path = '' as $$
  select dispatch.set_receipt_content(id, lease_token, content, secrets)
$$;

create or replace function public.dispatch_worker_complete(id uuid, lease_token bigint, provider_message_id text default null,
                                                           provider_response jsonb default null, http_status integer default null,
                                                           duration_ms integer default null)
returns dispatch.receipts
language sql security definer set search_path = '' as $$
  select * from dispatch.complete_receipt(id, lease_token, provider_message_id, provider_response, http_status, duration_ms)
$$;

create or replace function public.dispatch_worker_retry(id uuid, lease_token bigint, error text, retry_at timestamptz default null,
                                                        http_status integer default null, duration_ms integer default null)
returns dispatch.receipts
language sql security definer set search_path = '' as $$
  select * from dispatch.retry_receipt(id, lease_token, error, retry_at, http_status, duration_ms)
$$;

create or replace function public.dispatch_worker_fail(id uuid, lease_token bigint, error text,
                                                       http_status integer default null, duration_ms integer default null)
returns dispatch.receipts
language sql security definer set search_path = '' as $$
  select * from dispatch.fail_receipt(id, lease_token, error, http_status, duration_ms)
$$;

create or replace function public.dispatch_worker_deliver_in_app(id uuid, lease_token bigint) returns uuid
language sql security definer set search_path = '' as $$
  select dispatch.deliver_in_app_receipt(id, lease_token)
$$;

-- The worker's first step on every poke: process captured changes (dispatch.drain). Returns
-- {processed, remaining, lingerMs}; call again while processed > 0, and keep polling every few
-- hundred ms while lingerMs > 0 (writers that saw this poke did not poke again).
create or replace function public.dispatch_worker_drain(max_changes integer default 500) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_processed integer;
  v_linger integer;
begin
  -- the caller is the worker: receipts this drain makes due are claimed by it next, so they must not
  -- poke it again (as if this transaction had poked already)
  perform set_config('dispatch.poked', 'on', true);
  v_processed := dispatch.drain(max_changes);
  v_linger := dispatch.worker_linger_ms();
  -- the run stops polling: counts from the WAL that a drain's spaced publish left (067) go out now,
  -- unless a publish ran after the linger's end (writers that saw this run lingering committed before
  -- it: next_poke_at + 1 s, as worker_linger_ms counts)
  if v_linger = 0 and v_processed = 0
     and exists (select from dispatch.wal_count_state st, dispatch.worker_wake w
                 where st.id = 1 and w.id = 1 and st.published_lsn is not null
                   and (st.published_at is null or st.published_at < w.next_poke_at + interval '1 second')) then
    perform dispatch.publish_wal_counts_now();
  end if;
  -- `remaining` is counted up to 1000 (a hint for the caller's log): counting the whole backlog
  -- after every drain read all of it each time, under load a scan per 500 changes drained
  return jsonb_build_object('processed', v_processed,
                            'remaining', (select count(*) from (select from dispatch.changes c
                                                                where c.error is null and c.id >= (select dispatch.changes_low_id())
                                                                limit 1000) w),
                            'lingerMs', v_linger);
end
$$;

-- Batched: the rendered content of a claim's receipts in one call, and a group of outcomes in one
-- call (dispatch.set_receipts_content / dispatch.finish_receipts: lease token checked per receipt;
-- they return the ids accepted, a missing id is a lost lease).
create or replace function public.dispatch_worker_store_content(items jsonb) returns setof uuid
language sql security definer set search_path = '' as $$
  select * from dispatch.set_receipts_content(items)
$$;

create or replace function public.dispatch_worker_finish(outcomes jsonb) returns table (id uuid, status text)
language sql security definer set search_path = '' as $$
  select * from dispatch.finish_receipts(outcomes)
$$;
