-- Outbox: occurrences, receipts, attempts, preferences. An app's write does not insert occurrences or
-- receipts itself (it records dispatch.changes, 065_changes.sql): they are made when its changes are
-- processed after commit, or inside the write for strict events.

create table if not exists dispatch.occurrences (
  id uuid primary key default dispatch.uuid_v7(),
  event_id text not null,
  source_table text,
  operation text not null,
  new_record jsonb,
  old_record jsonb,
  actor uuid default dispatch.current_user_id(),
  -- expanded: receipts were created; failed: expansion raised (error says why), replayable
  status text not null default 'expanded' check (status in ('expanded', 'failed')),
  error text,
  replay_count integer not null default 0,
  created_at timestamptz not null default now(),
  expanded_at timestamptz
);
-- time-ordered ids (000_schema.sql, uuid_v7); installs from before 0.4 had gen_random_uuid()
alter table dispatch.occurrences alter column id set default dispatch.uuid_v7();
create index if not exists occurrences_event_created_idx on dispatch.occurrences (event_id, created_at desc);
create index if not exists occurrences_created_idx on dispatch.occurrences (created_at);
create index if not exists occurrences_failed_idx on dispatch.occurrences (created_at) where status = 'failed';

create sequence if not exists dispatch.lease_token_seq;

create table if not exists dispatch.receipts (
  id uuid primary key default dispatch.uuid_v7(),
  -- no foreign key: only dispatch.create_receipts inserts, with ids of occurrences the same expansion
  -- holds, and prune removes only occurrences without receipts (a check per receipt on the hot path)
  occurrence_id uuid not null,
  event_id text not null,
  channel text not null,
  transport text not null,
  audience text,
  user_id uuid,
  address text,
  recipient_key text generated always as (coalesce(user_id::text, '') || '|' || coalesce(address, '')) stored,
  status text not null default 'pending'
    check (status in ('pending', 'scheduled', 'sending', 'sent', 'failed', 'skipped', 'cancelled')),
  attempt_count integer not null default 0,
  max_attempts integer,
  next_attempt_at timestamptz not null default now(),
  lease_owner text,
  lease_expires_at timestamptz,
  lease_token bigint,
  last_error text,
  provider_message_id text,
  provider_response jsonb,
  idempotency_key text generated always as ('dispatch-' || id::text) stored,
  -- rendered once, secrets redacted: {subject, html, text, payload, title, message, ...}
  content jsonb,
  skip_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sent_at timestamptz,
  failed_at timestamptz,
  constraint receipts_recipient_present check (user_id is not null or address is not null),
  constraint receipts_unique_recipient unique (occurrence_id, channel, recipient_key)
);
alter table dispatch.receipts drop constraint if exists receipts_occurrence_id_fkey;
alter table dispatch.receipts alter column id set default dispatch.uuid_v7();
create index if not exists receipts_due_idx on dispatch.receipts (next_attempt_at)
  where status in ('pending', 'scheduled');
create index if not exists receipts_lease_idx on dispatch.receipts (lease_expires_at) where status = 'sending';
create index if not exists receipts_event_created_idx on dispatch.receipts (event_id, created_at desc);
-- (no index by user or by status+age: admin filters by recipient and prune's age scan are rare; every
-- receipt index costs each app write)

create table if not exists dispatch.attempts (
  id bigint generated always as identity primary key,
  receipt_id uuid not null references dispatch.receipts (id) on delete cascade,
  attempt integer not null,
  lease_token bigint not null,
  worker text,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  outcome text check (outcome in ('sent', 'retry', 'failed', 'expired')),
  http_status integer,
  error text,
  duration_ms integer,
  unique (receipt_id, attempt)
);
create index if not exists attempts_started_idx on dispatch.attempts (started_at);

-- Preferences: '*' is a wildcard. The most specific row wins: event beats category beats '*',
-- then a named transport beats '*'. No row = enabled.
create table if not exists dispatch.preferences (
  user_id uuid not null,
  event_id text not null default '*',
  category text not null default '*',
  transport text not null default '*',
  enabled boolean not null,
  updated_at timestamptz not null default now(),
  primary key (user_id, event_id, category, transport),
  constraint preferences_one_scope check (event_id = '*' or category = '*')
);

-- Recipients handed by expanders to dispatch.create_receipts. `content` is per recipient:
-- for in_app {title, message, actionUrl, actionLabel, type, metadata}; anything for other transports.
do $$
begin
  if to_regtype('dispatch.recipient') is null then
    create type dispatch.recipient as (occurrence_id uuid, user_id uuid, address text, content jsonb);
  end if;
  if to_regtype('dispatch.counter_delta') is null then
    create type dispatch.counter_delta as (scope text, delta bigint);
  end if;
end
$$;

-- The most specific of a user's preference rows for (event, its category, transport): one row with its
-- `enabled`, or none (then: enabled). A set-returning SQL function with no SET clause, so the planner
-- inlines it where it is joined: create_receipts joins every recipient to it, one index probe each (a
-- plpgsql call per recipient, with its own two queries, cost more than the receipt's insert).
drop function if exists dispatch.preference_allows(uuid, text, text, text);
create or replace function dispatch.preference_verdict(p_user_id uuid, p_event_id text, p_category text,
                                                       p_transport text)
returns table (enabled boolean)
language sql stable as $$
  select p.enabled
  from dispatch.preferences p
  where p.user_id = p_user_id
    and (p.event_id = p_event_id or (p.event_id = '*' and (p.category = '*' or p.category = p_category)))
    and p.transport in (p_transport, '*')
  order by (p.event_id <> '*') desc, (p.category <> '*') desc, (p.transport <> '*') desc
  limit 1
$$;

-- Is channel (event, transport) enabled for a user? Ignores preferences for events that are not
-- user-configurable.
create or replace function dispatch.preference_enabled(p_user_id uuid, p_event_id text, p_transport text)
returns boolean
language plpgsql stable security definer set search_path = '' as $$
begin
  return coalesce((select v.enabled from dispatch.preference_verdict(
                     p_user_id, p_event_id, (select e.category from dispatch.events e where e.id = p_event_id),
                     p_transport) v), true)
  or coalesce((select not e.user_configurable from dispatch.events e where e.id = p_event_id), false);
end
$$;
