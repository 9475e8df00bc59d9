-- In-app notifications, their broadcasts and the built-in unread_notifications counter.

create table if not exists dispatch.notifications (
  id uuid primary key default dispatch.uuid_v7(),
  user_id uuid not null,
  event_id text,
  -- the occurrence and receipt it came from. No foreign keys: the hot path (in_app inline creates a
  -- notification per recipient) paid three index probes per row for them (bench/RESULTS.md, drain
  -- profile), and no guarantee needs them: both are set only by create_receipts /
  -- deliver_in_app_receipt from rows that exist, and a pruned receipt or occurrence leaves the id
  -- behind (a historical reference, as a provider's message id is) instead of a null.
  occurrence_id uuid,
  receipt_id uuid,
  type text not null default 'info',
  title text not null default '',
  message text not null default '',
  action_url text,
  action_label text,
  metadata jsonb not null default '{}',
  read_at timestamptz,
  created_at timestamptz not null default now()
);
-- A user's pages (dispatch.user_notifications): created_at desc, id desc is this index scanned backward,
-- with the cursor (created_at, id) < (before, before_id) as its range. The index it replaces had
-- id ascending under created_at desc, so each page sorted every row of its boundary's timestamp.
drop index if exists dispatch.notifications_user_created_idx;
create index if not exists notifications_user_created_id_idx on dispatch.notifications (user_id, created_at, id);
create index if not exists notifications_unread_idx on dispatch.notifications (user_id) where read_at is null;
create index if not exists notifications_read_idx on dispatch.notifications (read_at) where read_at is not null;
-- (their indexes served only the foreign keys' on-delete actions)
alter table dispatch.notifications drop constraint if exists notifications_occurrence_id_fkey;
alter table dispatch.notifications drop constraint if exists notifications_receipt_id_fkey;
-- time-ordered ids (000_schema.sql, uuid_v7); installs from before 0.4 had gen_random_uuid()
alter table dispatch.notifications alter column id set default dispatch.uuid_v7();
drop index if exists dispatch.notifications_receipt_idx;
drop index if exists dispatch.notifications_occurrence_idx;

-- The `notification` broadcast payload (DESIGN.md), defined once: as json (notifications_after_insert
-- merges payloads as text, and json prints without a jsonb round trip; a SQL function, inlined where
-- it is called) and as jsonb.
create or replace function dispatch.notification_payload_json(n dispatch.notifications) returns json
language sql stable as $$
  select json_build_object(
    'id', n.id, 'eventId', n.event_id, 'type', n.type, 'title', n.title, 'message', n.message,
    'actionUrl', n.action_url, 'actionLabel', n.action_label, 'metadata', n.metadata,
    'read', n.read_at is not null, 'createdAt', n.created_at)
$$;

create or replace function dispatch.notification_payload(n dispatch.notifications) returns jsonb
language sql stable as $$
  select dispatch.notification_payload_json(n)::jsonb
$$;

-- invalidates the client core's notifications key, ['dispatch', 'notifications'] (JSON-encoded)
select dispatch.register_counter(
  'unread_notifications', 'user', null, array['["dispatch","notifications"]'], 1, 'dispatch.notifications',
  'select user_id::text, count(*) from dispatch.notifications where read_at is null group by user_id',
  'unread in-app notifications of the user (built in)');

-- New notifications: one `notification` message each and the unread counter's new values, sent with
-- one call (per user topic, one `batch` broadcast: its notifications, then its counter). The payloads
-- are notification_payload_json's, as text: merging per topic works on text
-- (030_realtime.sql, send_merged), and a jsonb payload would be built, printed and parsed again. One
-- sort of the new rows for their order (the aggregates read them in it), not one per array.
create or replace function dispatch.notifications_after_insert() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_topics text[];
  v_events text[];
  v_payloads text[];
  c record;
begin
  select array_agg(s.topic), array_agg('notification'::text), array_agg(s.payload)
    into v_topics, v_events, v_payloads
  from (select 'dispatch:user:' || n.user_id::text as topic, dispatch.notification_payload_json(n)::text as payload
        from new_rows n order by n.created_at, n.id) s;
  if v_topics is null then
    return null;
  end if;
  c := dispatch.counter_apply('unread_notifications', array(
    select row(user_id::text, count(*))::dispatch.counter_delta from new_rows where read_at is null group by user_id));
  perform dispatch.send_batch_text(v_topics || c.topics, v_events || c.events,
                                   v_payloads || array(select p::text from unnest(c.payloads) as p));
  return null;
end
$$;

create or replace function dispatch.notifications_after_update() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  read_all boolean := coalesce(current_setting('dispatch.read_all', true), '') = 'on';
  c record;
  v_topics text[];
  v_events text[];
  v_payloads jsonb[];
begin
  c := dispatch.counter_apply('unread_notifications', array(
    select row(scope, sum(delta))::dispatch.counter_delta from (
      select n.user_id::text as scope, 1 as delta from new_rows n where n.read_at is null
      union all
      select o.user_id::text, -1 from old_rows o where o.read_at is null
    ) x group by scope));
  -- notifications_read: per user, the ids that went from unread to read (null = all of them)
  select array_agg('dispatch:user:' || r.user_id::text order by r.user_id),
         array_agg('notifications_read'::text order by r.user_id),
         array_agg(jsonb_build_object('ids', case when read_all then null else to_jsonb(r.ids) end) order by r.user_id)
    into v_topics, v_events, v_payloads
  from (select n.user_id, array_agg(n.id order by n.id) as ids
        from new_rows n join old_rows o on o.id = n.id
        where o.read_at is null and n.read_at is not null
        group by n.user_id) r;
  -- the new unread values first, then what was read (as before: counter, then notifications_read)
  perform dispatch.send_batch(c.topics || v_topics, c.events || v_events, c.payloads || v_payloads);
  return null;
end
$$;

create or replace function dispatch.notifications_after_delete() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.apply_counter_deltas('unread_notifications', array(
    select row(user_id::text, -count(*))::dispatch.counter_delta from old_rows where read_at is null group by user_id));
  return null;
end
$$;

drop trigger if exists notifications_insert on dispatch.notifications;
create trigger notifications_insert after insert on dispatch.notifications
  referencing new table as new_rows for each statement execute function dispatch.notifications_after_insert();
drop trigger if exists notifications_update on dispatch.notifications;
create trigger notifications_update after update on dispatch.notifications
  referencing old table as old_rows new table as new_rows
  for each statement execute function dispatch.notifications_after_update();
drop trigger if exists notifications_delete on dispatch.notifications;
create trigger notifications_delete after delete on dispatch.notifications
  referencing old table as old_rows for each statement execute function dispatch.notifications_after_delete();

-- Send an in-app notification from app SQL. Returns its id.
create or replace function dispatch.notify(
  p_user_id uuid,
  p_event_id text,
  p_title text,
  p_message text,
  p_action_url text default null,
  p_action_label text default null,
  p_metadata jsonb default '{}',
  p_type text default null
) returns uuid
language plpgsql security definer set search_path = '' as $$
declare
  v_id uuid;
begin
  if p_user_id is null then
    raise exception 'dispatch: notify needs a user id';
  end if;
  insert into dispatch.notifications (user_id, event_id, type, title, message, action_url, action_label, metadata)
  values (p_user_id, p_event_id,
          coalesce(p_type, (select e.type from dispatch.events e where e.id = p_event_id), 'info'),
          coalesce(p_title, ''), coalesce(p_message, ''), p_action_url, p_action_label, coalesce(p_metadata, '{}'))
  returning id into v_id;
  return v_id;
end
$$;

-- Mark a user's notifications read (ids null = all). Returns how many changed.
create or replace function dispatch.mark_read(p_user_id uuid, p_ids uuid[]) returns integer
language plpgsql security definer set search_path = '' as $$
declare
  v_count integer;
begin
  if p_ids is null then
    perform set_config('dispatch.read_all', 'on', true);
    update dispatch.notifications set read_at = now() where user_id = p_user_id and read_at is null;
    get diagnostics v_count = row_count;
    perform set_config('dispatch.read_all', '', true);
  else
    update dispatch.notifications set read_at = now()
    where user_id = p_user_id and read_at is null and id = any(p_ids);
    get diagnostics v_count = row_count;
  end if;
  return v_count;
end
$$;
