-- What the Edge Functions' content side needs from the core (issue 17): module events expanded by
-- the worker, the admin check the preview and trigger functions ask PostgREST, the manual trigger's
-- idempotency key, and auth emails (the Auth "Send Email" hook) as occurrences and receipts.

---------------------------------------------------------------------------------------------------
-- Module events: an event with a module and no channels in the config has no generated expander;
-- its recipients come from the module's recipients(ctx, channel), which only the Edge Functions can
-- run. The core gives such events an expander that queues their occurrences; the worker takes them
-- from the queue (dispatch.module_occurrences_due), calls the module, creates the receipts with
-- dispatch.create_receipts (a second expansion creates nothing: receipts_unique_recipient) and
-- finishes them (dispatch.finish_module_occurrence). dispatch.replay queues an occurrence again.

create table if not exists dispatch.module_queue (
  occurrence_id uuid primary key references dispatch.occurrences (id) on delete cascade,
  event_id text not null,
  queued_at timestamptz not null default now()
);
create index if not exists module_queue_queued_idx on dispatch.module_queue (queued_at);

create or replace function dispatch.queue_module_occurrences(p_occurrences dispatch.occurrences[]) returns void
language sql security definer set search_path = '' as $$
  insert into dispatch.module_queue (occurrence_id, event_id)
  select o.id, o.event_id from unnest(p_occurrences) o
  on conflict (occurrence_id) do nothing
$$;

-- register_event (the generator) passes no expander for module-only events: give them the queue's.
create or replace function dispatch.events_module_expander() returns trigger
language plpgsql set search_path = '' as $$
begin
  if new.expander is null and new.config ? 'module' and jsonb_typeof(new.config -> 'module') = 'string' then
    new.expander := 'dispatch.queue_module_occurrences';
  end if;
  return new;
end
$$;

drop trigger if exists events_module_expander on dispatch.events;
create trigger events_module_expander before insert or update on dispatch.events
  for each row execute function dispatch.events_module_expander();

update dispatch.events set expander = 'dispatch.queue_module_occurrences'
where expander is null and config ? 'module' and jsonb_typeof(config -> 'module') = 'string';

-- The queued occurrences, oldest first (not locked: expanding twice creates nothing new).
create or replace function dispatch.module_occurrences_due(p_max integer default 100)
returns setof dispatch.occurrences
language sql stable security definer set search_path = '' as $$
  select o.* from dispatch.module_queue q
  join dispatch.occurrences o on o.id = q.occurrence_id
  order by q.queued_at, q.occurrence_id
  limit greatest(coalesce(p_max, 100), 1)
$$;

-- Done with a queued occurrence: expanded, or failed with the module's error (then replayable).
create or replace function dispatch.finish_module_occurrence(p_occurrence_id uuid, p_error text default null)
returns void
language plpgsql security definer set search_path = '' as $$
begin
  delete from dispatch.module_queue where occurrence_id = p_occurrence_id;
  if p_error is null then
    update dispatch.occurrences set status = 'expanded', error = null, expanded_at = now()
    where id = p_occurrence_id and status is distinct from 'expanded';
  else
    update dispatch.occurrences set status = 'failed', error = p_error, expanded_at = null
    where id = p_occurrence_id;
  end if;
end
$$;

---------------------------------------------------------------------------------------------------
-- Admin check for the Edge Functions: dispatch-preview and dispatch-trigger call it through
-- PostgREST with the caller's own Authorization header, so the JWT is verified by the platform.

create or replace function public.dispatch_is_admin() returns boolean
language sql stable security definer set search_path = '' as $$
  select dispatch.is_admin(dispatch.current_user_id())
$$;

---------------------------------------------------------------------------------------------------
-- Manual trigger (dispatch-trigger): an admin fires an event for a record. The same idempotency
-- key fires it once: the second call gets the first call's occurrence.

create table if not exists dispatch.manual_triggers (
  idempotency_key text primary key,
  event_id text not null,
  occurrence_id uuid references dispatch.occurrences (id) on delete set null,
  actor uuid,
  created_at timestamptz not null default now(),
  constraint manual_triggers_key_length check (length(idempotency_key) between 1 and 200)
);

-- Returns the occurrence and whether this call created it. A key already used for another event
-- raises (22023), so a reused key never silently returns some other event's receipts.
create or replace function dispatch.emit_once(
  p_idempotency_key text, p_event_id text, p_record jsonb, p_actor uuid default null,
  p_operation text default 'MANUAL'
) returns table (occurrence_id uuid, created boolean)
language plpgsql security definer set search_path = '' as $$
declare
  v_existing dispatch.manual_triggers;
  v_ids uuid[];
begin
  if not exists (select from dispatch.events where id = p_event_id) then
    raise exception 'dispatch: unknown event %', p_event_id using errcode = '22023';
  end if;
  if p_idempotency_key is null then
    v_ids := dispatch.fire(p_event_id, coalesce(p_operation, 'MANUAL'),
                           (select source_table from dispatch.events where id = p_event_id),
                           jsonb_build_array(jsonb_build_object('new', p_record)), p_actor);
    return query select v_ids[1], true;
    return;
  end if;
  -- a concurrent call with the same key waits here until the first commits, then finds its row
  insert into dispatch.manual_triggers (idempotency_key, event_id, actor)
  values (p_idempotency_key, p_event_id, p_actor)
  on conflict (idempotency_key) do nothing;
  if not found then
    select * into v_existing from dispatch.manual_triggers t where t.idempotency_key = p_idempotency_key;
    if v_existing.event_id <> p_event_id then
      raise exception 'dispatch: idempotency key % was used for event %', p_idempotency_key, v_existing.event_id
        using errcode = '22023';
    end if;
    return query select v_existing.occurrence_id, false;
    return;
  end if;
  v_ids := dispatch.fire(p_event_id, coalesce(p_operation, 'MANUAL'),
                         (select source_table from dispatch.events where id = p_event_id),
                         jsonb_build_array(jsonb_build_object('new', p_record)), p_actor);
  update dispatch.manual_triggers t set occurrence_id = v_ids[1] where t.idempotency_key = p_idempotency_key;
  return query select v_ids[1], true;
end
$$;

-- A dry run: fires the event as emit_once would, collects the receipts it would create, and rolls all
-- of it back (a subtransaction ended by an exception of our own): nothing is written, poked or
-- broadcast. Returns {occurrence: {status, error}, receipts: [{channel, transport, audience, userId,
-- address, status, content}]}. Module events show no receipts (their recipients come from the module).
create or replace function dispatch.dry_run_emit(p_event_id text, p_record jsonb, p_actor uuid default null)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_ids uuid[];
  v_result jsonb;
begin
  if not exists (select from dispatch.events where id = p_event_id) then
    raise exception 'dispatch: unknown event %', p_event_id using errcode = '22023';
  end if;
  begin
    v_ids := dispatch.fire(p_event_id, 'MANUAL', (select source_table from dispatch.events where id = p_event_id),
                           jsonb_build_array(jsonb_build_object('new', p_record)), p_actor);
    select jsonb_build_object(
      'occurrence', (select jsonb_build_object('status', o.status, 'error', o.error)
                     from dispatch.occurrences o where o.id = v_ids[1]),
      'receipts', coalesce(jsonb_agg(jsonb_build_object('channel', r.channel, 'transport', r.transport,
                     'audience', r.audience, 'userId', r.user_id, 'address', r.address, 'status', r.status,
                     'content', r.content) order by r.channel, r.recipient_key), '[]'::jsonb))
      into v_result
    from dispatch.receipts r where r.occurrence_id = any(v_ids);
    raise exception 'dispatch: dry run' using errcode = 'P0D01';
  exception when sqlstate 'P0D01' then
    null;
  end;
  return v_result;
end
$$;

---------------------------------------------------------------------------------------------------
-- Auth emails (dispatch-auth-email): one occurrence and one email receipt to the address the Auth
-- hook names. The event is the config's `auth.*` event when it has one (restyled content), else a
-- built-in row. No expander runs: the hook, not an audience, decides the recipient, and preferences
-- are not consulted (an account email is never opted out of), so the receipt carries the address
-- only; the user is the occurrence's actor. The record holds no token: the function seals it.

create or replace function dispatch.auth_email_receipt(
  p_event_id text, p_channel text, p_user_id uuid, p_address text, p_record jsonb
) returns uuid
language plpgsql security definer set search_path = '' as $$
declare
  v_occurrence uuid;
  v_receipt uuid;
begin
  if p_event_id is null or p_event_id !~ '^auth\.[a-z_]+$' then
    raise exception 'dispatch: % is not an auth event', p_event_id using errcode = '22023';
  end if;
  if p_address is null or length(p_address) = 0 then
    raise exception 'dispatch: an auth email needs an address' using errcode = '22023';
  end if;
  insert into dispatch.events (id, type, user_configurable, transports, description, config)
  values (p_event_id, 'info', false, array['email'], 'Supabase Auth email (built in)', '{"builtin": "auth"}')
  on conflict (id) do nothing;
  insert into dispatch.occurrences (event_id, operation, new_record, actor, expanded_at)
  values (p_event_id, 'AUTH', p_record, p_user_id, now())
  returning id into v_occurrence;
  perform dispatch.create_receipts(p_event_id, coalesce(p_channel, 'email:user'), 'email', 'user', interval '0',
    array[row(v_occurrence, null, p_address, null)::dispatch.recipient]);
  select r.id into v_receipt from dispatch.receipts r where r.occurrence_id = v_occurrence;
  return v_receipt;
end
$$;
