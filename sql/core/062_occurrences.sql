-- Occurrences and the receipts they expand into. dispatch.fire records occurrences of an event (from a
-- table's processor after commit, from a strict event's trigger inside the write, or through
-- dispatch.emit) and hands them to the event's generated expander, which resolves the recipients and
-- calls dispatch.create_receipts once per channel; dispatch.replay expands an occurrence again.

---------------------------------------------------------------------------------------------------
-- Creating receipts (called by generated expanders)

-- One receipt per (occurrence, channel, recipient); re-expansion creates no duplicates. Opted-out
-- recipients get a `skipped` receipt. in_app with no delay is delivered inline: the receipt is
-- created `sent` with its notification. Returns the number of receipts created.
-- A generic plan (plan_cache_mode): with custom plans, PostgreSQL planned each of its two insert
-- statements again on every call (it judged the generic plan dearer for an array of unknown size),
-- 0.2-0.3 ms each, a fifth of a drain call that takes one change (bench/RESULTS.md, "Session 8").
-- Their plan does not depend on how many recipients there are (one pass over the array, an index
-- probe per recipient), so the generic one serves one recipient and 100,000 alike (bench fanout).
create or replace function dispatch.create_receipts(
  p_event_id text,
  p_channel text,
  p_transport text,
  p_audience text,
  p_delay interval,
  p_recipients dispatch.recipient[]
) returns integer
language plpgsql security definer set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_type text;
  v_category text;
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
  -- the event and whether any recipient has preferences (looked up per recipient only then, inside the
  -- insert: dispatch.preference_verdict is inlined there, an index probe per recipient)
  select e.type, e.category, e.user_configurable and exists (
           select from dispatch.preferences p where p.user_id = any(array(select (r).user_id from unnest(p_recipients) r)))
    into v_type, v_category, v_prefs
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
      left join lateral (select v.enabled from dispatch.preference_verdict(rc.user_id, p_event_id, v_category, p_transport) v
                         where v_prefs) pref on true
      cross join lateral (select case when not coalesce(pref.enabled, true) then 'skipped' else 'sent' end as status) x
      on conflict on constraint receipts_unique_recipient do nothing
      -- only what the notifications need (returning * kept every column of 10,000 rows in memory)
      returning id, occurrence_id, user_id, status, content
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
    left join lateral (select v.enabled from dispatch.preference_verdict(rc.user_id, p_event_id, v_category, p_transport) v
                       where v_prefs and rc.user_id is not null) pref on true
    cross join lateral (select case when not coalesce(pref.enabled, true) then 'skipped' else 'pending' end as status) x
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

---------------------------------------------------------------------------------------------------
-- Occurrences

-- Expand occurrences with the event's expander, a function (occurrences dispatch.occurrences[])
-- returning void that reads the batch with unnest(occurrences). Not strict: an error is stored on the
-- occurrences (status failed, replayable) and the caller goes on (the drain with the rest of its
-- batch, or the transaction that called emit). Strict: the error propagates and aborts the app's write.
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
