-- supadispatch core 0.4.1: generated from sql/core — do not edit.
-- Regenerate with `npx tsx sql/build.ts`. Installs as the `postgres` role; re-running is a no-op.

-- ==== sql/core/000_schema.sql ====
-- supadispatch core: schema, extensions, settings.
-- Installs as the non-superuser `postgres` role (supabase db push); re-running is a no-op.

create schema if not exists dispatch;
comment on schema dispatch is 'supadispatch: notifications, delivery receipts and realtime counters';

-- pg_cron and pg_net are optional: created where available and allowed (hosted Supabase allow-lists
-- both; pg_cron lives in pg_catalog there, pg_net's extension record in `extensions`). Without them
-- nothing breaks: captured changes and due receipts wait and `supadispatch doctor` says why.
do $$
begin
  if not exists (select from pg_extension where extname = 'pg_cron')
     and exists (select from pg_available_extensions where name = 'pg_cron') then
    begin
      create extension if not exists pg_cron with schema pg_catalog;
    exception when others then
      raise warning 'supadispatch: pg_cron not created (%); schedule dispatch.tick() another way', sqlerrm;
    end;
  end if;
  if not exists (select from pg_extension where extname = 'pg_net')
     and to_regnamespace('net') is null
     and exists (select from pg_available_extensions where name = 'pg_net') then
    begin
      create extension if not exists pg_net with schema extensions;
    exception when others then
      raise warning 'supadispatch: pg_net not created (%); the worker will only be called by dispatch.tick()', sqlerrm;
    end;
  end if;
end
$$;

create or replace function dispatch.version() returns text
language sql immutable set search_path = '' as $$ select '0.4.1'::text $$;

-- Ages, limits and switches. A table, not database GUCs (ALTER DATABASE SET is refused on hosted).
create table if not exists dispatch.settings (
  key text primary key,
  value jsonb not null,
  description text not null default '',
  updated_at timestamptz not null default now()
);

insert into dispatch.settings (key, value, description) values
  ('lease_seconds', '300', 'how long a claimed receipt stays leased to one worker'),
  ('max_attempts', '8', 'attempts before a receipt fails permanently (8: the default retry schedule, like Svix)'),
  ('backoff_base_seconds', '30', 'first retry delay; doubles per attempt'),
  ('backoff_max_seconds', '3600', 'upper bound of the retry delay'),
  ('poke_worker', 'true', 'call the worker through pg_net when a transaction captured changes or created due receipts (debounced: poke_interval_ms)'),
  ('worker_timeout_ms', '5000', 'pg_net timeout of the worker call'),
  ('tick_schedule', '"* * * * *"', 'pg_cron schedule of dispatch.tick() ("5 seconds" needs pg_cron >= 1.5)'),
  ('prune_schedule', '"17 3 * * *"', 'pg_cron schedule of dispatch.prune()'),
  ('prune_receipts_after', '"30 days"', 'age after which sent/skipped/cancelled receipts are removed'),
  ('prune_failed_receipts_after', '"90 days"', 'age after which failed receipts are removed'),
  ('prune_attempts_after', '"30 days"', 'age after which attempt log rows are removed'),
  ('prune_read_notifications_after', '"90 days"', 'age after which read notifications are removed'),
  ('prune_occurrences_after', '"30 days"', 'age after which occurrences without receipts are removed'),
  ('prune_batch_size', '5000', 'rows removed per table per prune() call'),
  ('counter_default_shards', '16', 'shards used by register_counter(... shards => null) for audience counters'),
  ('max_preferences_per_user', '500', 'preference rows a user may have (dispatch_set_preference)'),
  ('render_max_length', '100000', 'dispatch.render output cap in characters; longer results are cut and end with '' [truncated]''')
on conflict (key) do nothing;

-- plpgsql, not sql: a non-inlinable SQL function (security definer, SET) is parsed and planned again
-- in every transaction that calls it (~0.2 ms); plpgsql keeps its plans for the session.
create or replace function dispatch.setting(p_key text) returns jsonb
language plpgsql stable security definer set search_path = '' as $$
begin
  return (select value from dispatch.settings where key = p_key);
end
$$;

create or replace function dispatch.setting_int(p_key text, p_default bigint) returns bigint
language plpgsql stable security definer set search_path = '' as $$
begin
  return coalesce((select (value #>> '{}')::bigint from dispatch.settings where key = p_key), p_default);
end
$$;

create or replace function dispatch.setting_bool(p_key text, p_default boolean) returns boolean
language plpgsql stable security definer set search_path = '' as $$
begin
  return coalesce((select (value #>> '{}')::boolean from dispatch.settings where key = p_key), p_default);
end
$$;

create or replace function dispatch.setting_interval(p_key text, p_default interval) returns interval
language plpgsql stable security definer set search_path = '' as $$
begin
  return coalesce((select (value #>> '{}')::interval from dispatch.settings where key = p_key), p_default);
end
$$;

create or replace function dispatch.set_setting(p_key text, p_value jsonb) returns void
language plpgsql security definer set search_path = '' as $$
begin
  if p_key is null or p_value is null then
    raise exception 'dispatch: setting key and value must not be null';
  end if;
  insert into dispatch.settings (key, value) values (p_key, p_value)
  on conflict (key) do update set value = excluded.value, updated_at = now();
end
$$;

-- The signed-in user, as auth.uid() computes it (claim `sub`), without a hard dependency on auth.
-- Small non-definer SQL helpers here and elsewhere carry no SET clause so the planner inlines them
-- (a SET makes every call parse and plan the body again); they name only pg_catalog objects.
-- A `sub` that is not a uuid (a third-party auth's user id) gives null: app writes that fire events go
-- on (no actor) and the client RPCs answer `dispatch: not signed in`, instead of every write failing
-- on the cast. Only the canonical 8-4-4-4-12 form (any case) and 32 hex digits are taken.
create or replace function dispatch.current_user_id() returns uuid
language sql stable as $$
  select (regexp_match(coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  ), '^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32})$'))[1]::uuid
$$;

-- Ids of the outbox rows (occurrences, receipts, notifications): UUID version 7 (RFC 9562), the Unix
-- time in ms in the first 48 bits, then 74 random bits. PostgreSQL 15 has no uuidv7() (18 has).
-- Why: a random (v4) key lands each insert on a random leaf of every index that leads with it (the
-- primary keys, receipts' (occurrence_id, channel, recipient)), so once the tables hold history a
-- drain dirties a different index page per row, and after each checkpoint writes each of them whole
-- to the WAL. Time-ordered keys go to the right edge of the index. Measured with a million
-- occurrences of history, full_page_writes on (bench/drain-history.ts): 11.3 KiB of WAL per drained
-- change with v4 ids, 5.0 KiB with v7, and 12 % less drain CPU. The random part keeps
-- ids unguessable; the time part says when the row was made, which created_at says anyway.
-- No SET clause and only pg_catalog names, so the planner inlines both (see current_user_id above).
-- uuid_v7_at: the id of a row made at p_at (history, backfills, bench/drain-history.ts).
create or replace function dispatch.uuid_v7_at(p_at timestamptz) returns uuid
language sql volatile parallel safe as $$
  select pg_catalog.encode(pg_catalog.set_bit(pg_catalog.set_bit(
    overlay(pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
            placing substring(pg_catalog.int8send((extract(epoch from p_at) * 1000)::bigint) from 3)
            from 1 for 6),
    52, 1), 53, 1), 'hex')::uuid  -- version bits 0111 (v4's 0100 with two bits set); the variant stays 10
$$;

create or replace function dispatch.uuid_v7() returns uuid
language sql volatile parallel safe as $$ select dispatch.uuid_v7_at(pg_catalog.clock_timestamp()) $$;

-- ==== sql/core/010_registry.sql ====
-- Registries the generator fills: events, audiences (admin check); counters in 040, source tables in 065.

create table if not exists dispatch.events (
  id text primary key,
  source_table text,
  category text,
  type text not null default 'info',
  description text not null default '',
  user_configurable boolean not null default true,
  is_strict boolean not null default false,
  -- function (occurrences dispatch.occurrences[]) returns void that creates the receipts of a batch
  -- of occurrences of this event (generated); null = an event without channels.
  expander text,
  transports text[] not null default '{}',
  config jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint events_id_format check (id ~ '^[A-Za-z0-9_.:-]+$')
);

create or replace function dispatch.register_event(
  p_id text,
  p_expander text default null,
  p_source_table text default null,
  p_category text default null,
  p_type text default 'info',
  p_user_configurable boolean default true,
  p_strict boolean default false,
  p_transports text[] default '{}',
  p_description text default '',
  p_config jsonb default '{}'
) returns void
language plpgsql security definer set search_path = '' as $$
begin
  if p_expander is not null and to_regproc(p_expander) is null then
    raise exception 'dispatch: expander % does not exist', p_expander;
  end if;
  insert into dispatch.events as e (id, expander, source_table, category, type, user_configurable, is_strict,
                                    transports, description, config)
  values (p_id, p_expander, p_source_table, p_category, coalesce(p_type, 'info'), coalesce(p_user_configurable, true),
          coalesce(p_strict, false), coalesce(p_transports, '{}'), coalesce(p_description, ''), coalesce(p_config, '{}'))
  on conflict (id) do update set
    expander = excluded.expander, source_table = excluded.source_table, category = excluded.category,
    type = excluded.type, user_configurable = excluded.user_configurable, is_strict = excluded.is_strict,
    transports = excluded.transports, description = excluded.description, config = excluded.config,
    updated_at = now();
end
$$;

-- Transports the plugin delivers (the worker's providers, plus in_app in SQL).
create or replace function dispatch.known_transports() returns text[]
language sql immutable as $$ select array['discord', 'email', 'in_app', 'slack', 'sms', 'webhook']::text[] $$;

-- Admins: a user is an admin if listed here or if auth.users.raw_app_meta_data->>'role' = 'admin'
-- (app_metadata is writable only with the service role). The generator may redefine
-- dispatch.is_admin(uuid) from the config's admin audience.
create table if not exists dispatch.admins (
  user_id uuid primary key,
  created_at timestamptz not null default now()
);

-- Members of named audiences (for audience topics and counters) where no generated rule exists.
create table if not exists dispatch.audience_members (
  audience text not null,
  user_id uuid not null,
  created_at timestamptz not null default now(),
  primary key (audience, user_id)
);
create index if not exists audience_members_user_idx on dispatch.audience_members (user_id);

create or replace function dispatch.is_admin(p_user_id uuid) returns boolean
language plpgsql stable security definer set search_path = '' as $$
begin
  if p_user_id is null then
    return false;
  end if;
  if exists (select from dispatch.admins a where a.user_id = p_user_id) then
    return true;
  end if;
  if to_regclass('auth.users') is not null then
    return exists (select from auth.users u where u.id = p_user_id and u.raw_app_meta_data ->> 'role' = 'admin');
  end if;
  return false;
end
$$;

-- Audience membership for topics `dispatch:audience:<name>`. The generator redefines this function
-- to compile the config's audiences; the default knows `admin` and dispatch.audience_members.
create or replace function dispatch.is_audience_member(p_user_id uuid, p_audience text) returns boolean
language plpgsql stable security definer set search_path = '' as $$
begin
  if p_user_id is null or p_audience is null then
    return false;
  end if;
  if p_audience = 'admin' and dispatch.is_admin(p_user_id) then
    return true;
  end if;
  return exists (select from dispatch.audience_members m where m.audience = p_audience and m.user_id = p_user_id);
end
$$;

-- Audiences a user belongs to (for dispatch_initial_state topics). Redefinable like the above.
create or replace function dispatch.user_audiences(p_user_id uuid) returns text[]
language plpgsql stable security definer set search_path = '' as $$
begin
  return array(
    select a from (
      select 'admin'::text as a where dispatch.is_admin(p_user_id)
      union
      select m.audience from dispatch.audience_members m where m.user_id = p_user_id
    ) s order by a
  );
end
$$;

-- The length cap of rendered text (setting render_max_length) and the cut at it, shared by
-- dispatch.render and by generated expanders, whose in-app templates are compiled to SQL when `gen`
-- runs (sdk/src/generator/sql/template.ts: a concat of the literal parts and `#>>` lookups): they read
-- the cap once per expander call and apply it to each text, exactly as dispatch.render does.
create or replace function dispatch.render_cap() returns integer
language plpgsql stable security definer set search_path = '' as $$
begin
  return greatest(coalesce(dispatch.setting_int('render_max_length', 100000), 100000), length(' [truncated]'));
end
$$;

-- plpgsql, not SQL: a SQL function handed an expression it reads three times is either not inlined
-- (a call with its own executor start per row) or evaluates the expression again for each use.
create or replace function dispatch.render_fit(p_text text, p_cap integer) returns text
language plpgsql immutable set search_path = '' as $$
begin
  if p_text is null or length(p_text) <= p_cap then
    return p_text;
  end if;
  return left(p_text, p_cap - length(' [truncated]')) || ' [truncated]';
end
$$;

-- {{column}} / {{a.b}} interpolation against a record (jsonb). Missing values render as ''.
-- One left-to-right pass: the template is split on the placeholders and each one is replaced by its
-- value from the record, so an inserted value is never scanned again (a value containing `{{x}}`
-- stays literal text). The output is capped at the setting render_max_length (characters, default
-- 100000): a longer result is cut and ends with ' [truncated]' (the whole result is then exactly
-- render_max_length long), so rendering never fails the expansion because of the size of the data.
create or replace function dispatch.render(p_template text, p_record jsonb) returns text
language plpgsql stable set search_path = '' as $$
declare
  pattern constant text := '\{\{\s*([A-Za-z0-9_.]+)\s*\}\}';
  cap integer;
  parts text[];
  keys text[];
  pieces text[];
  piece text;
  total bigint;
  i integer;
begin
  if p_template is null then
    return null;
  end if;
  if strpos(p_template, '{{') = 0 then
    parts := array[p_template];
    keys := '{}';
  else
    parts := regexp_split_to_array(p_template, pattern);
    keys := array(select m[1] from regexp_matches(p_template, pattern, 'g') m);
  end if;
  cap := dispatch.render_cap();
  pieces := array[parts[1]];
  total := length(parts[1]);
  i := 1;
  while total <= cap and i <= cardinality(keys) loop
    piece := coalesce(p_record #>> string_to_array(keys[i], '.'), '');
    pieces := pieces || piece || parts[i + 1];
    total := total + length(piece) + length(parts[i + 1]);
    i := i + 1;
  end loop;
  return dispatch.render_fit(array_to_string(pieces, ''), cap);
end
$$;

-- ==== sql/core/020_outbox.sql ====
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

-- ==== sql/core/030_realtime.sql ====
-- Realtime glue: topics, broadcast helper, RLS on realtime.messages.
-- Broadcasts are sent from SECURITY DEFINER functions (owner postgres, BYPASSRLS), so realtime.send's
-- INSERT passes RLS; realtime.send swallows its own errors (a WARNING), so a broadcast never aborts
-- the transaction that sends it (a drain processing captured changes, or an app's write).

create or replace function dispatch.user_topic(p_user_id uuid) returns text
language sql immutable as $$ select 'dispatch:user:' || p_user_id::text $$;

create or replace function dispatch.audience_topic(p_audience text) returns text
language sql immutable as $$ select 'dispatch:audience:' || p_audience $$;

create or replace function dispatch.broadcast(p_topic text, p_event text, p_payload jsonb) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform realtime.send(p_payload, p_event, p_topic, true);
end
$$;

-- One broadcast per topic (bench/RESULTS.md, "Session 5"; docs/decisions.md, "One realtime message per
-- topic per batch"): the messages one call (a statement's notifications and counters) or one drain
-- produces for a topic go out as ONE `batch` broadcast, payload { messages: [{ event, payload }, ...] }
-- in the order they were produced, each inner message in its DESIGN.md shape (no `id` added inside:
-- the batch carries one). A topic with a single message keeps its plain event. A topic's batch is
-- cut into several so that none exceeds realtime_batch_max_bytes (hosted Realtime refuses a broadcast
-- payload over 256 KB on the Free plan, 3,000 KB on paid ones: supabase.com/docs/guides/realtime/limits).
-- realtime_batch_messages = false sends every message on its own, as before (apps with raw
-- realtime-js listeners on `notification` / `counter`).
insert into dispatch.settings (key, value, description) values
  ('realtime_batch_messages', 'true',
   'send the messages of a statement or a drain bound for one topic as one `batch` broadcast (false: one broadcast per message, for raw realtime-js listeners of notification/counter)'),
  ('realtime_batch_max_bytes', '200000',
   'largest `batch` broadcast payload in bytes (JSON text); hosted Realtime refuses payloads over 256 KB on the Free plan')
on conflict (key) do nothing;

drop function if exists dispatch.merge_broadcasts(text[], text[], jsonb[], integer[], integer);
drop function if exists dispatch.send_messages(text[], text[], jsonb[], integer[], boolean);

-- Merge messages per topic (payloads as JSON text: a batch is built as text and parsed once, where
-- jsonb_agg would take every payload apart and put it together again): one `batch` per topic, cut so
-- that no batch's payload exceeds p_max_bytes. A message's size: its payload's text, its event and
-- ~30 bytes of wrapping. Per topic, the order produced; topics in bytewise order. A batch's payload
-- gets its `id` here (the messages inside get none).
create or replace function dispatch.merge_broadcasts(p_topics text[], p_events text[], p_payloads text[],
  p_max_bytes integer, out topics text[], out events text[], out payloads jsonb[])
language plpgsql volatile security definer set search_path = '' set work_mem = '64MB' set enable_hashagg = off as $$
declare
  v_half bigint := greatest(coalesce(p_max_bytes, 200000) - 70, 2) / 2;
  v_over boolean;
begin
  -- One sort of the messages by (topic, order produced), bytewise (collate "C": a locale's comparison
  -- costs more than the rest), in memory (work_mem: an event to 10,000 recipients merges 20,000
  -- messages); then one pass groups each topic (GroupAggregate over the sorted rows, so the aggregates
  -- see them in order with no ORDER BY of their own, which in PostgreSQL 15 would sort each topic
  -- again; a hash aggregate of 10,000 topics' texts spills to disk) and the output keeps that order.
  select array_agg(g.topic), array_agg(case when g.n = 1 then g.event else 'batch' end),
         array_agg((case when g.n = 1 then g.payload
                         else '{"id":"' || gen_random_uuid()::text || '","messages":[' || g.inner_text || ']}' end)::jsonb),
         bool_or(g.size > 2 * v_half)
    into topics, events, payloads, v_over
  from (select m.topic, count(*) as n, sum(m.size) as size, min(m.event) as event,
               string_agg(m.payload, '') as payload,  -- the payload, when it is the topic's only one
               string_agg('{"event":' || m.ev || ',"payload":' || m.payload || '}', ',') as inner_text
        from (select t.topic collate "C" as topic, t.o, t.event collate "C" as event, t.payload,
                     case when t.event in ('notification', 'counter', 'notifications_read') then '"' || t.event || '"'
                          else to_json(t.event)::text end as ev,
                     octet_length(t.payload) + octet_length(t.event) + 30 as size
              from unnest(p_topics, p_events, p_payloads) with ordinality as t(topic, event, payload, o)
              where t.topic is not null and t.payload is not null
              order by 1, t.o) m
        group by m.topic) g;
  if not coalesce(v_over, false) then
    return;
  end if;
  -- A topic over the cap (rare: a large fan-in to one user in one drain): cut every topic by where
  -- each message starts in its topic's running total, in buckets of half the cap (less the batch's
  -- own wrapping): a bucket holds messages that start within half a cap, each at most half a cap, so
  -- it stays under the cap; a message over half a cap goes alone (a batch of one is its plain event).
  select array_agg(g.topic), array_agg(case when g.n = 1 then g.event else 'batch' end),
         array_agg((case when g.n = 1 then g.payload
                         else '{"id":"' || gen_random_uuid()::text || '","messages":[' || g.inner_text || ']}' end)::jsonb)
    into topics, events, payloads
  from (select w.topic, min(w.o) as o, count(*) as n, min(w.event) as event, string_agg(w.payload, '') as payload,
               string_agg('{"event":' || w.ev || ',"payload":' || w.payload || '}', ',' order by w.o) as inner_text
        from (select m.*, sum(m.size) over (partition by m.topic order by m.o rows unbounded preceding) - m.size as start
              from (select t.topic collate "C" as topic, t.o, t.event collate "C" as event, t.payload,
                           to_json(t.event)::text as ev, octet_length(t.payload) + octet_length(t.event) + 30 as size
                    from unnest(p_topics, p_events, p_payloads) with ordinality as t(topic, event, payload, o)
                    where t.topic is not null and t.payload is not null) m
             ) w
        group by w.topic, w.start / v_half, case when w.size > v_half then w.o else 0 end
        order by 1, 2) g;
end
$$;

-- Is this insert error "no partition of realtime.messages for now()"? Then (see insert_messages) the
-- messages are dropped, with one WARNING per transaction.
create or replace function dispatch.no_partition(p_sqlstate text, p_message text) returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  if p_sqlstate <> '23514' or p_message not like 'no partition of relation%' then
    return false;
  end if;
  if coalesce(current_setting('dispatch.no_partition_warned', true), '') = '' then
    perform set_config('dispatch.no_partition_warned', 'on', true);
    raise warning 'supadispatch: realtime.messages has no partition for %; broadcasts dropped (no Realtime client has connected to this project recently: Realtime creates the partitions when one connects)',
      (now() at time zone 'utc')::date;
  end if;
  return true;
end
$$;

-- Broadcasts, one or many at once: one INSERT into realtime.messages -- the same rows realtime.send
-- writes (extension broadcast, private, an `id` added to payloads without one) -- inside one
-- exception block, so a statement costs one subtransaction however many messages it sends, and no
-- realtime.send call per message. If the insert fails (say, a changed table), each message goes
-- through realtime.send, which turns errors into warnings: a broadcast never aborts the transaction
-- that sends it.
-- Except when there is no partition for now(): hosted Realtime creates the daily partitions only for
-- tenants with a connected client (RT tenants/connect.ex, janitor.ex), so an idle project has none
-- for today, and realtime.send would fail the same way for each message. Then nobody is listening
-- anyway: the messages are dropped with one WARNING per transaction, no per-message fallback.
create or replace function dispatch.insert_messages(p_topics text[], p_events text[], p_payloads jsonb[]) returns void
language plpgsql security definer set search_path = '' as $$
declare
  i integer;
begin
  if p_topics is null or cardinality(p_topics) = 0 then
    return;
  end if;
  begin
    -- row ids time-ordered (000_schema.sql, uuid_v7): realtime.messages' primary key is (id, inserted_at)
    -- in a partition that takes a whole day's broadcasts
    insert into realtime.messages (id, topic, extension, event, payload, private)
    select dispatch.uuid_v7(), t.topic, 'broadcast', t.event,
           case when t.payload ? 'id' then t.payload else t.payload || jsonb_build_object('id', gen_random_uuid()) end, true
    from unnest(p_topics, p_events, p_payloads) as t(topic, event, payload);
  exception when others then
    if dispatch.no_partition(sqlstate, sqlerrm) then
      return;
    end if;
    for i in 1 .. cardinality(p_topics) loop
      perform realtime.send(p_payloads[i], p_events[i], p_topics[i], true);
    end loop;
  end;
end
$$;

-- Messages (payloads as JSON text) merged per topic and inserted. In one statement: the rows grouped
-- per topic go straight into realtime.messages (no arrays of batches built, unnested and copied again
-- in between: at 10,000 topics that round trip cost as much as the insert), unless a topic's batch is
-- over realtime_batch_max_bytes; then nothing is inserted by it and merge_broadcasts cuts the batches
-- (rare: a large fan-in to one user in one statement or drain). The grouping is merge_broadcasts'
-- first pass: one sort by (topic, order produced), bytewise; topics inserted in that order. One
-- exception block, as insert_messages: a failed insert never aborts the caller.
create or replace function dispatch.send_merged(p_topics text[], p_events text[], p_payloads text[]) returns void
language plpgsql security definer set search_path = '' set work_mem = '64MB' set enable_hashagg = off as $$
declare
  v_max integer := dispatch.setting_int('realtime_batch_max_bytes', 200000)::integer;
  v_half bigint := greatest(coalesce(v_max, 200000) - 70, 2) / 2;
  v_over boolean;
  v_cut record;
  i integer;
begin
  if p_topics is null or cardinality(p_topics) = 0 then
    return;
  end if;
  begin
    with g as materialized (
      select m.topic, count(*) as n, sum(m.size) as size, min(m.event) as event,
             string_agg('{"event":' || m.ev || ',"payload":' || m.payload || '}', ',') as inner_text
      from (select t.topic collate "C" as topic, t.o, t.event collate "C" as event, t.payload,
                   case when t.event in ('notification', 'counter', 'notifications_read') then '"' || t.event || '"'
                        else to_json(t.event)::text end as ev,
                   octet_length(t.payload) + octet_length(t.event) + 30 as size
            from unnest(p_topics, p_events, p_payloads) with ordinality as t(topic, event, payload, o)
            where t.topic is not null and t.payload is not null
            order by 1, t.o) m
      group by m.topic
    ), over as (
      select coalesce(bool_or(g.size > 2 * v_half), false) as v from g
    ), ins as (
      -- row ids time-ordered, as insert_messages
      insert into realtime.messages (id, topic, extension, event, payload, private)
      select dispatch.uuid_v7(), g.topic, 'broadcast', case when g.n = 1 then g.event else 'batch' end,
             case when g.n > 1 then ('{"id":"' || gen_random_uuid()::text || '","messages":[' || g.inner_text || ']}')::jsonb
                  when p.one ? 'id' then p.one
                  else p.one || jsonb_build_object('id', gen_random_uuid()) end,
             true
      from g
      -- a topic's only message: its payload, plain (parsed from its wrapping; batches are parsed whole)
      cross join lateral (select case when g.n = 1 then g.inner_text::jsonb -> 'payload' end as one) p
      where not (select over.v from over)
    )
    select over.v into v_over from over;
  exception when others then
    if dispatch.no_partition(sqlstate, sqlerrm) then
      return;
    end if;
    -- as insert_messages: each broadcast through realtime.send, which turns errors into warnings
    v_cut := dispatch.merge_broadcasts(p_topics, p_events, p_payloads, v_max);
    for i in 1 .. coalesce(cardinality(v_cut.topics), 0) loop
      perform realtime.send(v_cut.payloads[i], v_cut.events[i], v_cut.topics[i], true);
    end loop;
    return;
  end;
  if v_over then
    v_cut := dispatch.merge_broadcasts(p_topics, p_events, p_payloads, v_max);
    perform dispatch.insert_messages(v_cut.topics, v_cut.events, v_cut.payloads);
  end if;
end
$$;

-- Whether messages for one topic are merged (setting realtime_batch_messages, default on).
create or replace function dispatch.batch_messages_on() returns boolean
language plpgsql stable security definer set search_path = '' as $$
begin
  return dispatch.setting_bool('realtime_batch_messages', true);
end
$$;

-- What the core calls to broadcast. Outside a drain: merged per topic within the call (one call per
-- statement: a statement's notifications and the unread counter's new values). During a drain
-- (dispatch.broadcast_defer = 'on', set by dispatch.drain / replay_change): appended to the
-- transaction's buffer, sent merged by dispatch.flush_broadcasts() at the drain's end. The buffer is
-- a GUC (set_config local: a failed batch's subtransaction takes its messages back with its rows),
-- text: topic US event US payload-JSON, messages separated by RS (ASCII 0x1f / 0x1e, which JSON text
-- never holds unescaped; stripped from topics and events). One append per call (a statement), not
-- per message.
create or replace function dispatch.send_batch(p_topics text[], p_events text[], p_payloads jsonb[]) returns void
language plpgsql security definer set search_path = '' as $$
begin
  if p_topics is null or cardinality(p_topics) = 0 then
    return;
  end if;
  if current_setting('dispatch.broadcast_defer', true) = 'on'
     or (cardinality(p_topics) > 1 and dispatch.batch_messages_on()) then
    perform dispatch.send_batch_text(p_topics, p_events, array(select p::text from unnest(p_payloads) as p));
  else
    perform dispatch.insert_messages(p_topics, p_events, p_payloads);
  end if;
end
$$;

-- send_batch with payloads already as JSON text (notifications_after_insert builds them so: merging
-- works on text, and a payload built as jsonb would be turned into text once more for it).
create or replace function dispatch.send_batch_text(p_topics text[], p_events text[], p_payloads text[]) returns void
language plpgsql security definer set search_path = '' as $$
begin
  if p_topics is null or cardinality(p_topics) = 0 then
    return;
  end if;
  if current_setting('dispatch.broadcast_defer', true) = 'on' then
    perform set_config('dispatch.broadcast_buffer',
      concat_ws(E'\x1e', nullif(current_setting('dispatch.broadcast_buffer', true), ''),
                (select string_agg(translate(t.topic, E'\x1e\x1f', '') || E'\x1f' || translate(t.event, E'\x1e\x1f', '')
                                   || E'\x1f' || t.payload, E'\x1e' order by t.o)
                 from unnest(p_topics, p_events, p_payloads) with ordinality as t(topic, event, payload, o)
                 where t.topic is not null and t.payload is not null)),
      true);
  elsif cardinality(p_topics) > 1 and dispatch.batch_messages_on() then
    perform dispatch.send_merged(p_topics, p_events, p_payloads);
  else
    perform dispatch.insert_messages(p_topics, p_events, array(select p::jsonb from unnest(p_payloads) as p));
  end if;
end
$$;

-- Start buffering this transaction's broadcasts (dispatch.drain, replay_change). Returns false when
-- they are buffered already (an enclosing caller flushes) or merging is off (nothing to buffer for).
create or replace function dispatch.defer_broadcasts() returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  if current_setting('dispatch.broadcast_defer', true) = 'on' or not dispatch.batch_messages_on() then
    return false;
  end if;
  perform set_config('dispatch.broadcast_defer', 'on', true);
  return true;
end
$$;

-- Stop buffering and send what the buffer holds, merged per topic.
create or replace function dispatch.flush_broadcasts() returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_buffer text := current_setting('dispatch.broadcast_buffer', true);
  v_topics text[];
  v_events text[];
  v_payloads text[];
begin
  perform set_config('dispatch.broadcast_defer', '', true);
  if coalesce(v_buffer, '') = '' then
    return;
  end if;
  perform set_config('dispatch.broadcast_buffer', '', true);
  select array_agg(split_part(x.m, E'\x1f', 1) order by x.o), array_agg(split_part(x.m, E'\x1f', 2) order by x.o),
         array_agg(split_part(x.m, E'\x1f', 3) order by x.o)
    into v_topics, v_events, v_payloads
  from string_to_table(v_buffer, E'\x1e') with ordinality as x(m, o);
  perform dispatch.send_merged(v_topics, v_events, v_payloads);
end
$$;

-- May the signed-in user (auth.uid()) read a dispatch topic?
create or replace function dispatch.can_read_topic(p_topic text) returns boolean
language plpgsql stable security definer set search_path = '' as $$
declare
  uid uuid := dispatch.current_user_id();
begin
  if uid is null or p_topic is null then
    return false;
  end if;
  if p_topic = 'dispatch:user:' || uid::text then
    return true;
  end if;
  if p_topic like 'dispatch:audience:%' then
    return dispatch.is_audience_member(uid, substr(p_topic, length('dispatch:audience:') + 1));
  end if;
  return false;
end
$$;

-- Policies on realtime.messages:
--   dispatch_read       (permissive, SELECT, authenticated): own user topic and member audience topics.
--   dispatch_read_guard (restrictive, SELECT, authenticated): no other policy of the project can open
--                        dispatch:* topics to a signed-in user beyond dispatch_read's.
--   dispatch_read_guard_public (restrictive, SELECT, public): every other role (anon, a custom JWT role
--                        of a third-party auth, ...) reads no dispatch:* topic, whatever the app's policies.
--                        Its expression names only pg_catalog, so roles without USAGE on dispatch can
--                        evaluate it; members of authenticated are left to dispatch_read_guard.
--   dispatch_send_guard (restrictive, INSERT, public): nobody but the database (owner postgres,
--                        BYPASSRLS) sends on dispatch:* topics.
create or replace function dispatch.realtime_policy_defs()
returns table (name text, permissive boolean, cmd text, role_name text, using_expr text, check_expr text)
language sql immutable set search_path = '' as $$
  values
    ('dispatch_read', true, 'select', 'authenticated',
     $e$extension = 'broadcast' and topic like 'dispatch:%' and dispatch.can_read_topic(topic)$e$, null::text),
    ('dispatch_read_guard', false, 'select', 'authenticated',
     $e$topic not like 'dispatch:%' or dispatch.can_read_topic(topic)$e$, null),
    ('dispatch_read_guard_public', false, 'select', 'public',
     $e$topic not like 'dispatch:%' or pg_catalog.pg_has_role('authenticated', 'member')$e$, null),
    ('dispatch_send_guard', false, 'insert', 'public', null, $e$topic not like 'dispatch:%'$e$)
$$;

create or replace function dispatch.realtime_policy_sql(p_table text, p_name text, p_permissive boolean, p_cmd text,
  p_role text, p_using text, p_check text) returns text
language sql immutable set search_path = '' as $$
  select format('create policy %I on %s as %s for %s to %s', p_name, p_table,
                case when p_permissive then 'permissive' else 'restrictive' end, p_cmd, p_role)
         || coalesce(' using (' || p_using || ')', '') || coalesce(' with check (' || p_check || ')', '')
$$;

-- Do the policies on realtime.messages already say what realtime_policy_defs() says? Compared with
-- the same policies on a temporary table of the same columns (the server deparses both alike, on
-- any version); no lock on realtime.messages or auth.
create or replace function dispatch.realtime_policies_match() returns boolean
language plpgsql set search_path = '' as $$
declare
  d record;
  -- One probe table per role: a temporary table can only be dropped by its owner, and the install,
  -- a test or tick may call this as different roles in one transaction.
  v_probe text := 'pg_temp.' || quote_ident('dispatch_policy_probe_' || current_user::regrole::oid::text);
  v_match boolean;
begin
  if to_regclass('realtime.messages') is null then
    return false;
  end if;
  if exists (select from pg_catalog.pg_policy where polrelid = 'realtime.messages'::regclass
             and polname = 'dispatch_read_guard_anon') then  -- 0.1.0's, replaced by _public
    return false;
  end if;
  if to_regclass(v_probe) is not null then
    execute 'drop table ' || v_probe;
  end if;
  execute 'create temporary table ' || v_probe || ' (topic text, extension text) on commit drop';
  for d in select * from dispatch.realtime_policy_defs() loop
    execute dispatch.realtime_policy_sql(v_probe, d.name, d.permissive, d.cmd, d.role_name, d.using_expr, d.check_expr);
  end loop;
  select not exists (
    select from dispatch.realtime_policy_defs() def
    join pg_catalog.pg_policy t on t.polrelid = to_regclass(v_probe) and t.polname = def.name
    left join pg_catalog.pg_policy r on r.polrelid = 'realtime.messages'::regclass and r.polname = def.name
    where r.oid is null
       or r.polpermissive <> t.polpermissive or r.polcmd <> t.polcmd or r.polroles <> t.polroles
       or pg_catalog.pg_get_expr(r.polqual, r.polrelid) is distinct from pg_catalog.pg_get_expr(t.polqual, t.polrelid)
       or pg_catalog.pg_get_expr(r.polwithcheck, r.polrelid) is distinct from pg_catalog.pg_get_expr(t.polwithcheck, t.polrelid))
  into v_match;
  execute 'drop table ' || v_probe;
  return v_match;
end
$$;

-- Creates (or re-creates) the policies when they differ from realtime_policy_defs(); when they match,
-- it does no DDL at all. Policy DDL on realtime.messages takes, through supautils' policy grants,
-- ACCESS EXCLUSIVE on auth.audit_log_entries, identities, refresh_tokens, sessions, users and
-- realtime.messages until commit (sign-ins, token refreshes and channel joins wait): so it waits at
-- most `realtime_policy_lock_timeout` (setting, default 3s) for those locks, and gives up with a
-- WARNING rather than queueing every sign-in behind it; dispatch.tick() tries again.
-- Creating policies on realtime.messages needs supautils' policy grant (hosted; emulated by the local
-- stack) or the table owner; without either this returns false with a WARNING instead of failing the
-- install, and can be re-run by a privileged role: select dispatch.install_realtime_policies();
create or replace function dispatch.install_realtime_policies() returns boolean
language plpgsql set search_path = '' as $$
declare
  d record;
  v_lock_timeout text := current_setting('lock_timeout');
begin
  if to_regclass('realtime.messages') is null then
    raise warning 'supadispatch: realtime.messages does not exist; realtime policies not installed';
    return false;
  end if;
  if dispatch.realtime_policies_match() then
    delete from dispatch.settings where key = 'realtime_policies_pending';
    return true;
  end if;
  perform set_config('lock_timeout',
    coalesce(dispatch.setting('realtime_policy_lock_timeout') #>> '{}', '3s'), true);
  begin
    execute 'drop policy if exists dispatch_read_guard_anon on realtime.messages';  -- 0.1.0, replaced by _public
    for d in select * from dispatch.realtime_policy_defs() loop
      execute format('drop policy if exists %I on realtime.messages', d.name);
      execute dispatch.realtime_policy_sql('realtime.messages', d.name, d.permissive, d.cmd, d.role_name,
                                           d.using_expr, d.check_expr);
    end loop;
  exception
    when insufficient_privilege then
      perform set_config('lock_timeout', v_lock_timeout, true);
      raise warning 'supadispatch: realtime policies not installed (%): run select dispatch.install_realtime_policies() as the owner of realtime.messages', sqlerrm;
      return false;
    when lock_not_available or deadlock_detected then
      perform set_config('lock_timeout', v_lock_timeout, true);
      perform dispatch.set_setting('realtime_policies_pending', 'true');
      raise warning 'supadispatch: realtime policies not installed: % (Auth or Realtime held the locks); dispatch.tick() retries, or run select dispatch.install_realtime_policies()', sqlerrm;
      return false;
  end;
  perform set_config('lock_timeout', v_lock_timeout, true);
  delete from dispatch.settings where key = 'realtime_policies_pending';
  return true;
end
$$;

-- The install's policy step runs at COMMIT, not where the install runs: a migration that installs
-- the core then registers counters would otherwise hold the auth locks of the policy DDL through
-- reconcile_counters and drain (sign-ins stalled for the whole migration; an app write with a foreign
-- key to auth.users deadlocking against it). A deferred constraint trigger on this table runs after
-- every statement of the transaction, just before commit; the row is gone when it commits.
create table if not exists dispatch.deferred_installs (
  task text primary key check (task in ('realtime_policies'))
);

create or replace function dispatch.run_deferred_install() returns trigger
language plpgsql set search_path = '' as $$
begin
  delete from dispatch.deferred_installs where task = new.task;
  if new.task = 'realtime_policies' then
    perform dispatch.install_realtime_policies();
  end if;
  return null;
end
$$;

drop trigger if exists deferred_installs_run on dispatch.deferred_installs;
create constraint trigger deferred_installs_run after insert on dispatch.deferred_installs
  deferrable initially deferred for each row execute function dispatch.run_deferred_install();

-- Called by the install: nothing when the policies match (the usual re-install takes no lock on
-- auth or realtime), else the policy step at commit.
create or replace function dispatch.install_realtime_policies_at_commit() returns boolean
language plpgsql set search_path = '' as $$
begin
  if to_regclass('realtime.messages') is null or dispatch.realtime_policies_match() then
    return false;
  end if;
  insert into dispatch.deferred_installs (task) values ('realtime_policies') on conflict do nothing;
  return true;
end
$$;

-- ==== sql/core/040_counters.sql ====
-- Exact realtime counters.
--
-- A counter has one value per scope: a user (topic dispatch:user:<uuid>) or an audience
-- (topic dispatch:audience:<name>). Its deltas, one per scope, go to
-- dispatch.apply_counter_deltas(name, deltas). Generated code calls it after commit: the app's write
-- only captures its rows (065_changes.sql), and dispatch.drain() hands the table's processor a batch
-- of changes, which applies each counter once per batch (deferred to the drain's end, see below). A hand-written statement
-- trigger may call it inside the app's write instead, once per statement (as sql/test/040_counters.sql
-- does). "The transaction" below is the caller's: the drain's or the app's.
--
-- Unsharded (shards = 1): the delta is added to dispatch.counter_state under its row lock (held to
-- commit), seq is bumped and the new value broadcast at once. Right for per-user counters, where
-- two writers rarely touch the same row.
-- Sharded (shards > 1; audience counters, where every writer touches the same row): the transaction's
-- net delta per scope waits in dispatch.counter_dirty (a row only this transaction sees) and is added
-- to the state row at commit by a deferred constraint trigger: the row lock is held only from that
-- update to the end of the commit, seq is bumped and one broadcast sent per transaction. A writer
-- that commits later waits for the lock, then updates the latest committed version, so seq follows
-- commit order and each value includes every earlier commit.
-- Either way the broadcast with the highest seq carries the value of all committed writes, so
-- a subscriber's last value equals dispatch.reconcile_counters() once writers stop.
-- (Until 0.1.x sharded deltas went to N rows of dispatch.counter_shards, summed at commit; that
-- table is kept, empty: the install folds any rows it still has into counter_state.)

create table if not exists dispatch.counters_def (
  name text primary key,
  scope_kind text not null check (scope_kind in ('user', 'audience')),
  audience text,
  invalidates text[] not null default '{}',
  shards integer not null default 1 check (shards between 1 and 1024),
  source_table text,
  -- select <scope text>, <value bigint> ... : recomputes every scope from scratch (reconcile)
  reconcile_sql text,
  description text not null default '',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint counters_def_name_format check (name ~ '^[A-Za-z0-9_.:-]+$'),
  constraint counters_def_audience check (scope_kind = 'user' or audience is not null)
);

create table if not exists dispatch.counter_state (
  name text not null references dispatch.counters_def (name) on delete cascade,
  scope text not null,
  value bigint not null default 0,
  seq bigint not null default 0,
  updated_at timestamptz not null default now(),
  primary key (name, scope)
);

-- Room on each page for the next version of its rows: every counter update is then a HOT update (no
-- new index entry, dead versions pruned in place). At fillfactor 100 an event to 10,000 users updated
-- 10,000 rows of full pages, nearly none HOT: each added a primary-key entry, and the table grew with
-- every round (docs/decisions.md, "One event to many recipients"). New pages only; existing ones
-- fill up as they are rewritten.
do $$
begin
  if not coalesce((select 'fillfactor=70' = any(c.reloptions) from pg_catalog.pg_class c
                   where c.oid = 'dispatch.counter_state'::regclass), false) then
    alter table dispatch.counter_state set (fillfactor = 70);
  end if;
end
$$;

create table if not exists dispatch.counter_shards (
  name text not null references dispatch.counters_def (name) on delete cascade,
  scope text not null,
  shard integer not null,
  value bigint not null default 0,
  primary key (name, scope, shard)
);

-- Net deltas of sharded counters changed by the current transaction; rows live only inside it.
create unlogged table if not exists dispatch.counter_dirty (
  xid xid8 not null,
  name text not null,
  scope text not null,
  primary key (xid, name, scope)
);
alter table dispatch.counter_dirty add column if not exists delta bigint not null default 0;

-- Older installs kept sharded values in counter_shards, with counter_state holding the last
-- published sum: make counter_state the value (no broadcast) and empty the shards. Idempotent.
with sums as (select sh.name, sh.scope, sum(sh.value)::bigint as value from dispatch.counter_shards sh group by 1, 2)
insert into dispatch.counter_state as c (name, scope, value, seq)
select sums.name, sums.scope, sums.value, 0 from sums
on conflict (name, scope) do update set value = excluded.value;
delete from dispatch.counter_shards;

create or replace function dispatch.register_counter(
  p_name text,
  p_scope_kind text,
  p_audience text default null,
  p_invalidates text[] default '{}',
  p_shards integer default 1,
  p_source_table text default null,
  p_reconcile_sql text default null,
  p_description text default ''
) returns void
language plpgsql security definer set search_path = '' as $$
begin
  if p_scope_kind is null or p_scope_kind not in ('user', 'audience') then
    raise exception 'dispatch: counter % scope_kind must be user or audience', p_name;
  end if;
  insert into dispatch.counters_def as d (name, scope_kind, audience, invalidates, shards, source_table,
                                          reconcile_sql, description)
  values (p_name, p_scope_kind, p_audience, coalesce(p_invalidates, '{}'),
          coalesce(p_shards, case when p_scope_kind = 'audience'
                                  then dispatch.setting_int('counter_default_shards', 16)::int else 1 end),
          p_source_table, p_reconcile_sql, coalesce(p_description, ''))
  on conflict (name) do update set
    scope_kind = excluded.scope_kind, audience = excluded.audience, invalidates = excluded.invalidates,
    shards = excluded.shards, source_table = excluded.source_table, reconcile_sql = excluded.reconcile_sql,
    description = excluded.description, updated_at = now();
end
$$;

create or replace function dispatch.counter_topic(p_scope_kind text, p_scope text) returns text
language sql immutable as $$
  select case p_scope_kind when 'user' then 'dispatch:user:' else 'dispatch:audience:' end || p_scope
$$;

create or replace function dispatch.broadcast_counter(
  p_name text, p_scope_kind text, p_scope text, p_value bigint, p_seq bigint, p_invalidates text[]
) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform realtime.send(
    jsonb_build_object('name', p_name, 'value', p_value, 'seq', p_seq,
                       'invalidates', to_jsonb(coalesce(p_invalidates, '{}'::text[]))),
    'counter', dispatch.counter_topic(p_scope_kind, p_scope), true);
end
$$;

-- Publish a counter scope again: seq +1 and a broadcast of its current value (under the row lock).
-- Returns the value. (Kept for callers of 0.1.x, where it summed the shards.)
create or replace function dispatch.publish_sharded_counter(p_name text, p_scope text) returns bigint
language plpgsql security definer set search_path = '' as $$
declare
  d dispatch.counters_def;
  v_seq bigint;
  v_value bigint;
begin
  select * into d from dispatch.counters_def where name = p_name;
  insert into dispatch.counter_state as c (name, scope, value, seq) values (p_name, p_scope, 0, 1)
  on conflict (name, scope) do update set seq = c.seq + 1, updated_at = now()
  returning c.value, c.seq into v_value, v_seq;
  perform dispatch.broadcast_counter(p_name, d.scope_kind, p_scope, v_value, v_seq, d.invalidates);
  return v_value;
end
$$;

-- Transactions with deltas waiting in counter_dirty for their commit: one row each, whose deferred
-- trigger publishes them (one trigger firing per transaction, not one per scope).
create unlogged table if not exists dispatch.counter_dirty_tx (
  xid xid8 primary key
);
drop trigger if exists counter_dirty_publish on dispatch.counter_dirty;

-- Apply the current transaction's waiting deltas (a zero too: the scope was touched) to the state
-- rows in (name, scope) order -- one lock order for every caller: waits for a writer committing the
-- same scope and then updates its committed version -- bump seq, one INSERT for the broadcasts.
-- Called at commit (publish_dirty_counters) and at the end of each dispatch.drain().
create or replace function dispatch.flush_counters() returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_topics text[];
  v_events text[];
  v_payloads jsonb[];
  -- a drain's deltas (counter_apply's deferred mode), JSON objects separated by commas
  v_buffer text := nullif(current_setting('dispatch.counter_buffer', true), '');
begin
  if v_buffer is not null then
    perform set_config('dispatch.counter_buffer', '', true);
  end if;
  delete from dispatch.counter_dirty_tx where xid = pg_current_xact_id();
  with gone as (
    delete from dispatch.counter_dirty where xid = pg_current_xact_id() returning name, scope, delta
  ), dirty as (
    select g.name, g.scope, sum(g.delta)::bigint as delta
    from (select gone.name, gone.scope, gone.delta from gone
          union all
          select b.n, b.s, b.d from json_to_recordset(('[' || coalesce(v_buffer, '') || ']')::json) as b(n text, s text, d bigint)) g
    group by g.name, g.scope
  ), up as (
    insert into dispatch.counter_state as c (name, scope, value, seq)
    select dirty.name, dirty.scope, dirty.delta, 1 from dirty order by dirty.name, dirty.scope
    on conflict (name, scope) do update set value = c.value + excluded.value, seq = c.seq + 1, updated_at = now()
    returning c.name, c.scope, c.value, c.seq
  )
  select array_agg(dispatch.counter_topic(d.scope_kind, up.scope) order by up.name, up.scope),
         array_agg('counter'::text order by up.name, up.scope),
         array_agg(jsonb_build_object('name', up.name, 'value', up.value, 'seq', up.seq,
                                      'invalidates', to_jsonb(d.invalidates)) order by up.name, up.scope)
    into v_topics, v_events, v_payloads
  from up join dispatch.counters_def d on d.name = up.name;
  perform dispatch.send_batch(v_topics, v_events, v_payloads);
end
$$;

-- At commit (deferred constraint trigger on counter_dirty_tx): publish what is still waiting.
create or replace function dispatch.publish_dirty_counters() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.flush_counters();
  return null;
end
$$;

-- (named as its predecessor on counter_dirty: `set constraints dispatch.counter_dirty_publish` stays valid)
drop trigger if exists counter_dirty_publish on dispatch.counter_dirty_tx;
create constraint trigger counter_dirty_publish after insert on dispatch.counter_dirty_tx
  deferrable initially deferred for each row execute function dispatch.publish_dirty_counters();

-- The current transaction has deltas waiting in counter_dirty: flush them at its commit, unless its
-- caller flushes first (flush_counters deletes the row). Called once per statement that added deltas
-- (counter_apply's sharded or deferred deltas, publish_counter_pending, publish_wal_counts), never
-- per row: a call costs about 3 us more than the INSERT written in place (plpgsql; a SQL function,
-- planned again at every call, about 7 us).
create or replace function dispatch.flush_counters_at_commit() returns void
language plpgsql security definer set search_path = '' as $$
begin
  insert into dispatch.counter_dirty_tx (xid) values (pg_current_xact_id()) on conflict (xid) do nothing;
end
$$;

-- Applies deltas and returns the broadcasts of an unsharded counter instead of sending them (callers
-- that broadcast more in the same statement send everything with one INSERT); a sharded counter
-- publishes at commit and returns nulls. Deltas may repeat a scope and contain zeros; they are
-- summed per scope and applied in scope order (no deadlocks between two statements of this kind).
-- Deferred mode (the GUC dispatch.counter_defer = 'on', set by dispatch.drain): every counter's net
-- deltas wait in the transaction's buffer (the GUC dispatch.counter_buffer) for
-- dispatch.flush_counters (returns nulls), so one transaction that applies several counters still
-- takes their row locks in one (name, scope) order.
create or replace function dispatch.counter_apply(
  p_name text, p_deltas dispatch.counter_delta[], out topics text[], out events text[], out payloads jsonb[]
)
language plpgsql security definer set search_path = '' as $$
declare
  d dispatch.counters_def;
  v_add text;
begin
  if p_deltas is null or cardinality(p_deltas) = 0 then
    return;
  end if;
  select * into d from dispatch.counters_def where name = p_name;
  if not found then
    raise exception 'dispatch: unknown counter %', p_name;
  end if;
  if d.shards = 1 and current_setting('dispatch.counter_defer', true) is distinct from 'on' then
    with up as (
      insert into dispatch.counter_state as c (name, scope, value, seq)
      select p_name, x.scope, x.delta, 1
      from (select t.scope, sum(t.delta)::bigint as delta from unnest(p_deltas) t
            where t.scope is not null group by t.scope having sum(t.delta) <> 0) x
      order by x.scope
      on conflict (name, scope) do update set value = c.value + excluded.value, seq = c.seq + 1, updated_at = now()
      returning c.scope, c.value, c.seq
    )
    select array_agg(dispatch.counter_topic(d.scope_kind, up.scope) order by up.scope),
           array_agg('counter'::text order by up.scope),
           array_agg(jsonb_build_object('name', p_name, 'value', up.value, 'seq', up.seq,
                                        'invalidates', to_jsonb(d.invalidates)) order by up.scope)
      into topics, events, payloads
    from up;
  elsif current_setting('dispatch.counter_defer', true) = 'on' then
    -- deferred (a drain): the net deltas wait in a transaction-local buffer for flush_counters at the
    -- drain's end (a failed batch's subtransaction takes its deltas back, as its rows). Not rows of
    -- counter_dirty: writing them and deleting them again was about a quarter of what counters cost
    -- a drain (bench/RESULTS.md, "Session 9"). The commit still flushes what a caller left in it.
    select string_agg(json_build_object('n', p_name, 's', x.scope, 'd', x.delta)::text, ',') into v_add
    from (select t.scope, sum(t.delta)::bigint as delta from unnest(p_deltas) t
          where t.scope is not null group by t.scope having sum(t.delta) <> 0) x;
    if v_add is not null then
      perform set_config('dispatch.counter_buffer',
        concat_ws(',', nullif(current_setting('dispatch.counter_buffer', true), ''), v_add), true);
      perform dispatch.flush_counters_at_commit();
    end if;
  else
    -- sharded: the net delta waits for flush_counters (at commit, or at the drain's end)
    insert into dispatch.counter_dirty as c (xid, name, scope, delta)
    select pg_current_xact_id(), p_name, x.scope, x.delta
    from (select t.scope, sum(t.delta)::bigint as delta from unnest(p_deltas) t
          where t.scope is not null group by t.scope having sum(t.delta) <> 0) x
    order by x.scope
    on conflict (xid, name, scope) do update set delta = c.delta + excluded.delta;
    if found then
      perform dispatch.flush_counters_at_commit();
    end if;
  end if;
end
$$;

-- Counts-only counters: the writers keep running totals, a drain publishes their sum.
--
-- A counter that counts every row of its table into one audience scope needs nothing from a write but
-- its row count. Its table's generated triggers run dispatch.count_changes (065_changes.sql), which adds
-- the statement's row count (+ INSERT, - DELETE) to this backend's slot row here (slot = the backend's
-- pid: an UPDATE of a row no other live backend writes, HOT, on a page of few rows (fillfactor), no new
-- index entry) instead of inserting a dispatch.changes row that a drain must claim, process and delete.
-- A slot shared by several backends (pid % 64 at first) made two unrelated app transactions wait for
-- each other, and deadlock when they wrote two counted tables in opposite orders. Rows of backends
-- that have ended are folded into slot 0 by the publisher, so the table holds about one row per live
-- writer and counter scope.
-- The totals only grow or shrink with committed writes; nobody resets them. counter_state.pending_seen
-- holds the sum of the totals its value already includes: dispatch.publish_counter_pending (every
-- dispatch.drain()) locks the state row, sums the totals in a snapshot taken after that lock, and hands
-- the difference to flush_counters (one seq and one broadcast per scope, in the drain's lock order).
-- Exact, without either side waiting for the other: a snapshot holds every delta committed before it
-- and none after, so the sum is the count at that moment (a DELETE commits after the INSERT of its row:
-- a snapshot with the DELETE has the INSERT, so the value never goes below zero); publishers follow
-- each other on the state row, so each sum includes the previous one. A rolled-back write never
-- reaches the totals. A writer's commit pokes the worker as a captured change does (changes_committing).
create table if not exists dispatch.counter_pending (
  name text not null references dispatch.counters_def (name) on delete cascade,
  scope text not null,
  slot integer not null,
  total bigint not null default 0,
  -- worker_wake.next_poke_at as the writer's statement read it: the commit-time poke check compares
  -- the clock with it instead of querying worker_wake again (changes_committing, 065_changes.sql)
  wake_until timestamptz,
  primary key (name, scope, slot)
) with (fillfactor = 10);
alter table dispatch.counter_state add column if not exists pending_seen bigint not null default 0;

-- The scopes whose summed totals differ from what their value already includes (pending_seen): what
-- the next publish moves (publish_counter_pending), and what keeps a poked worker polling
-- (worker_linger_ms, 055_poke.sql).
create or replace function dispatch.counter_pending_unpublished() returns table (name text, scope text)
language sql stable as $$
  select p.name, p.scope from dispatch.counter_pending p
  left join dispatch.counter_state st on st.name = p.name and st.scope = p.scope
  group by p.name, p.scope
  having sum(p.total) <> coalesce(min(st.pending_seen), 0)
$$;

-- Publish what writers of counts-only counters committed since the last publish: the difference per
-- scope goes to dispatch.counter_dirty, which the caller's flush_counters applies (or the commit, as
-- for counter_apply's deferred deltas). Called by dispatch.drain() before its flush, also when it found
-- no change. Never waits for a writer; waits only for another publisher of the same scope (the state
-- row lock, held to its commit). Returns the scopes whose value moved.
create or replace function dispatch.publish_counter_pending() returns integer
language plpgsql security definer set search_path = '' as $$
declare
  r record;
  v_seen bigint;
  v_sum bigint;
  v_moved integer := 0;
begin
  for r in select u.name, u.scope from dispatch.counter_pending_unpublished() u order by u.name, u.scope loop
    -- the state row, locked (waits for a publisher of the scope that has not committed yet)
    insert into dispatch.counter_state as c (name, scope, value, seq) values (r.name, r.scope, 0, 0)
    on conflict (name, scope) do update set pending_seen = c.pending_seen
    returning c.pending_seen into v_seen;
    -- rows of backends that have ended move into slot 0 (the sum is unchanged; a row whose pid a new
    -- backend has taken and is writing is locked, skipped, and folded another time)
    with gone as (
      delete from dispatch.counter_pending p
      where p.ctid in (select q.ctid from dispatch.counter_pending q
                       where q.name = r.name and q.scope = r.scope and q.slot <> 0
                         and not exists (select from pg_catalog.pg_stat_activity a where a.pid = q.slot)
                       for update skip locked)
      returning p.total
    )
    insert into dispatch.counter_pending as c (name, scope, slot, total)
    select r.name, r.scope, 0, sum(g.total) from gone g having count(*) > 0
    on conflict (name, scope, slot) do update set total = c.total + excluded.total;
    -- a new statement, so a snapshot taken after that lock: it holds every sum published before
    select coalesce(sum(p.total), 0)::bigint into v_sum
    from dispatch.counter_pending p where p.name = r.name and p.scope = r.scope;
    if v_sum <> v_seen then
      update dispatch.counter_state c set pending_seen = v_sum where c.name = r.name and c.scope = r.scope;
      insert into dispatch.counter_dirty as c (xid, name, scope, delta)
      values (pg_current_xact_id(), r.name, r.scope, v_sum - v_seen)
      on conflict (xid, name, scope) do update set delta = c.delta + excluded.delta;
      v_moved := v_moved + 1;
    end if;
  end loop;
  if v_moved > 0 then
    perform dispatch.flush_counters_at_commit();
  end if;
  return v_moved;
end
$$;

-- The one entry point of counter maintenance (generated processors call it once per counter per batch
-- of captured changes, a hand-written trigger once per statement): unsharded counters broadcast at
-- once, sharded ones at commit.
create or replace function dispatch.apply_counter_deltas(p_name text, p_deltas dispatch.counter_delta[])
returns void
language plpgsql security definer set search_path = '' as $$
declare
  b record;
begin
  if p_deltas is null or cardinality(p_deltas) = 0 then
    return;
  end if;
  b := dispatch.counter_apply(p_name, p_deltas);
  if b.topics is not null then
    perform dispatch.send_batch(b.topics, b.events, b.payloads);
  end if;
end
$$;

-- Current value of a counter scope (committed; sharded counters: as of the last commit).
create or replace function dispatch.counter_value(p_name text, p_scope text) returns bigint
language sql stable security definer set search_path = '' as $$
  select coalesce((select value from dispatch.counter_state where name = p_name and scope = p_scope), 0)
$$;

-- Recompute counters from their source (reconcile_sql). With p_apply, differences are corrected
-- (and broadcast with a new seq). Counter deltas are applied after commit, by dispatch.drain(), so
-- with p_apply the source tables are locked against writes (SHARE) for the rest of the transaction
-- and every captured change is drained first: what is recomputed then matches what was applied.
-- Changes that failed (dispatch.changes.error) are not applied: replay them before reconciling (a
-- warning names them), or a later replay counts them twice. A counter without source_table, or whose
-- table this role may not lock (a warning says so), is not locked: exact only when writes are quiet.
create or replace function dispatch.reconcile_counters(p_name text default null, p_apply boolean default true)
returns table (name text, scope text, expected bigint, actual bigint, seq bigint, corrected boolean)
language plpgsql security definer set search_path = '' as $$
declare
  d dispatch.counters_def;
  r record;
  v_seq bigint;
  v_value bigint;
begin
  if p_name is not null and not exists (select from dispatch.counters_def c where c.name = p_name) then
    raise exception 'dispatch: unknown counter %', p_name;
  end if;
  if p_apply then
    for d in select * from dispatch.counters_def c
             where (p_name is null or c.name = p_name) and c.reconcile_sql is not null
               and dispatch.source_regclass(c.source_table) is not null
             order by c.source_table loop
      begin
        execute format('lock table %s in share mode', dispatch.source_regclass(d.source_table));
      exception when insufficient_privilege then
        -- SHARE needs UPDATE, DELETE or TRUNCATE on the table (postgres owns the tables it migrates;
        -- a table owned by another role may not grant them): recount without the lock
        raise warning 'dispatch: reconcile_counters could not lock % (%); writes committed during the recount may be counted twice: run it again when writes are quiet',
          d.source_table, sqlerrm;
      end;
    end loop;
    -- waits for the running drains, then drains what is left (drain's own try-locks are ours already)
    perform dispatch.lock_drains();
    while dispatch.drain(500) > 0 loop
    end loop;
    -- and everything the WAL holds of the locked tables (067_wal_publish.sql)
    perform dispatch.publish_wal_counts_now();
    if exists (select from dispatch.changes ch where ch.error is not null) then
      raise warning 'dispatch: % failed change(s) are not applied to counters; replay them with dispatch.replay_change(id)',
        (select count(*) from dispatch.changes ch where ch.error is not null);
    end if;
  end if;
  for d in select * from dispatch.counters_def c
           where (p_name is null or c.name = p_name) and c.reconcile_sql is not null order by c.name loop
    for r in execute format($q$
        with e as (select q.scope::text as scope, sum(q.value)::bigint as value
                   from (%s) as q(scope, value) group by 1),
             a as (select st.scope, st.value, st.seq from dispatch.counter_state st where st.name = $1)
        select coalesce(e.scope, a.scope) as scope,
               coalesce(e.value, 0) as expected,
               coalesce(a.value, 0) as actual,
               coalesce(a.seq, 0) as seq
        from e full join a on a.scope = e.scope
        order by 1$q$, d.reconcile_sql) using d.name loop
      name := d.name; scope := r.scope; expected := r.expected; actual := r.actual; seq := r.seq;
      corrected := false;
      if r.expected <> r.actual and p_apply then
        insert into dispatch.counter_state as c (name, scope, value, seq) values (d.name, r.scope, r.expected, 1)
        on conflict on constraint counter_state_pkey do update set value = excluded.value, seq = c.seq + 1, updated_at = now()
        returning c.value, c.seq into v_value, v_seq;
        perform dispatch.broadcast_counter(d.name, d.scope_kind, r.scope, v_value, v_seq, d.invalidates);
        seq := v_seq;
        corrected := true;
      end if;
      return next;
    end loop;
  end loop;
end
$$;

-- ==== sql/core/050_notifications.sql ====
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

-- ==== sql/core/055_poke.sql ====
-- Poking the worker: a pg_net call to the dispatch-worker Edge Function, sent at commit, at most once
-- per transaction and, across transactions, once per poke_interval_ms. Asked for by the commit of a
-- transaction that captured changes (065_changes.sql), by dispatch.create_receipts and
-- dispatch.requeue_receipt when receipts are due now, and by dispatch.tick(). Installed before them:
-- dispatch.changes_committing reads dispatch.worker_wake.

-- When the worker was last poked (one row). Writers read next_poke_at to debounce their pokes (one
-- indexed read; the poke_interval_ms setting is read only by the transaction that pokes).
create table if not exists dispatch.worker_wake (
  id integer primary key default 1 check (id = 1),
  poked_at timestamptz not null default '1970-01-01 00:00:00+00',
  next_poke_at timestamptz not null default '1970-01-01 00:00:00+00'
);
insert into dispatch.worker_wake (id) values (1) on conflict (id) do nothing;

-- next_poke_at again, in epoch milliseconds, for triggers that may not query: a WAL-counted table's wake
-- trigger (066_counts_from_wal.sql) fires only when this has passed, read in its WHEN clause with
-- pg_sequence_last_value (a C function reading one page; a WHEN clause allows no subquery). A sequence,
-- so it is not transactional: a poking transaction that rolls back leaves it ahead, and writes in the
-- next poke_interval_ms do not poke (the next write after it does, or tick). Readable by everyone (the
-- writer evaluates the WHEN clause; 900_grants.sql): it holds a time, nothing else.
create sequence if not exists dispatch.worker_wake_until_ms minvalue 0;

insert into dispatch.settings (key, value, description) values
  ('poke_interval_ms', '200', 'at most one worker poke per this many ms; a poked worker drains for that long (0: every transaction)')
on conflict (key) do nothing;

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
  v_until_ms bigint;
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
  where w.id = 1
  returning (extract(epoch from w.next_poke_at) * 1000)::bigint into v_until_ms;
  perform setval('dispatch.worker_wake_until_ms', v_until_ms);
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

-- Whether the transaction with this 32-bit xid (a row version's xmax) is still in progress: widened to
-- xid8 around the current snapshot's xmax (the signed 32-bit distance to it; an xid at or past it was
-- assigned after this snapshot, so it counts as in progress) for pg_xact_status, which also answers
-- for subtransactions. Zero (no xmax) is not.
create or replace function dispatch.xact_in_progress(p_xid xid) returns boolean
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_top bigint := pg_snapshot_xmax(pg_current_snapshot())::text::bigint;
  v_d bigint;
begin
  if p_xid is null or p_xid = '0'::xid then
    return false;
  end if;
  v_d := ((p_xid::text::bigint - (v_top & 4294967295)) % 4294967296 + 4294967296 + 2147483648) % 4294967296 - 2147483648;
  if v_d >= 0 then
    return true;
  end if;
  return coalesce(pg_xact_status((v_top + v_d)::text::xid8) = 'in progress', false);
end
$$;

-- How long a worker poked now should keep draining: until poke_interval_ms after the last poke (a
-- writer that saw that poke did not poke again), plus a second for its commit to land; and, past
-- that, one more poll (100 ms) while a counts-only counter has a writer in flight or a committed total
-- not published yet (dispatch.counter_pending, 040_counters.sql): such a writer queued no commit-time
-- check because it saw this worker lingering (065_changes.sql, counter_pending_committing).
-- In flight: the slot row version this statement sees has an xmax still in progress. Checked first,
-- each test its own statement with its own snapshot (volatile): a writer in flight at the first either
-- is still in progress when its xmax is checked, or committed before the second one's snapshot, which
-- then sees its total; a writer whose statement starts after the first saw next_poke_at already past
-- (we only get here a second after it) and queued its commit-time check.
create or replace function dispatch.worker_linger_ms() returns integer
language plpgsql security definer set search_path = '' as $$
declare
  v_ms integer := greatest(0, (select extract(epoch from (w.next_poke_at - clock_timestamp())) * 1000 + 1000
                               from dispatch.worker_wake w where w.id = 1))::integer;
begin
  if v_ms > 0 then
    return v_ms;
  end if;
  if exists (select from dispatch.counter_pending p where p.xmax <> '0'::xid and dispatch.xact_in_progress(p.xmax)) then
    return 100;
  end if;
  if exists (select from dispatch.counter_pending_unpublished()) then
    return 100;
  end if;
  return 0;
end
$$;

-- ==== sql/core/056_worker_alarm.sql ====
-- The worker's alarm: near-due work does not wait for the once-a-minute tick (docs/decisions.md, "A
-- self-waking worker"). A worker run that is about to end while a receipt comes due soon (a retry in
-- 5 s, a delayed channel, a short Retry-After) makes sure a run is there when it is due: it waits in
-- its own process (a timer) when the due time fits in its budget, else it hands over to a new run
-- (it calls its own URL, as pg_net would). One row says which run, or chain of hand-overs, does it, so
-- that two runs ending together never both wait or both start a successor: the first to arm holds it,
-- the others see a live holder that wakes no later than they would and end.

insert into dispatch.settings (key, value, description) values
  ('worker_wake_within_ms', '60000', 'a worker run that ends while a receipt is due within this many ms waits for it or hands over to a new run, instead of leaving it to dispatch.tick(); 0 turns it off')
on conflict (key) do nothing;

-- One row. owner: the run, or the chain of hand-overs, that will poll by wake_at; alive_until: past it
-- the alarm is void (its run ended without releasing it, or died). handovers: how many hand-overs were
-- started (for doctor and tests: a count that must grow by one per chain link, never per run).
create table if not exists dispatch.worker_alarm (
  id integer primary key default 1 check (id = 1),
  owner text,
  wake_at timestamptz,
  alive_until timestamptz,
  handovers bigint not null default 0
);
insert into dispatch.worker_alarm (id) values (1) on conflict (id) do nothing;

-- How far ahead a worker run looks when it ends (setting worker_wake_within_ms; 0 = off).
create or replace function dispatch.worker_wake_within() returns interval
language plpgsql stable security definer set search_path = '' as $$
begin
  return make_interval(secs => greatest(dispatch.setting_int('worker_wake_within_ms', 60000), 0) / 1000.0);
end
$$;

-- Called by a worker run that is about to end. p_owner: the run's alarm identity (its name, or the
-- chain it was handed); p_wait_ms: how long it can still wait and then claim; p_successor_ms: how long
-- a run it hands over to lives. Looks at the earliest pending receipt (receipts_due_idx, one row):
--   nothing due within worker_wake_within_ms  → {action: 'none'}, the owner's alarm released;
--   another live holder wakes no later        → {action: 'none', heldBy}: that run sees to it;
--   due within p_wait_ms                      → {action: 'wait', dueInMs}: wait that long, then poll;
--   due later, p_wait_ms >= 1 s               → {action: 'wait', dueInMs, waitMs}: wait waitMs, then
--                                               call again (at the run's end);
--   due later, the run at its end             → {action: 'handover', dueInMs, url}: start a new run at
--                                               url (Vault dispatch_worker_url; null if unset).
-- The row lock serialises runs that end together: exactly one of them arms.
create or replace function dispatch.worker_arm(p_owner text, p_wait_ms integer, p_successor_ms integer)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_now timestamptz := clock_timestamp();
  v_within interval := dispatch.worker_wake_within();
  v_due timestamptz;
  v_due_ms integer;
  v_url text;
  a dispatch.worker_alarm;
begin
  if p_owner is null or p_owner = '' then
    raise exception 'dispatch: worker_arm needs an owner' using errcode = '22023';
  end if;
  if v_within > interval '0' then
    select min(r.next_attempt_at) into v_due from dispatch.receipts r
    where r.status in ('pending', 'scheduled') and r.next_attempt_at <= v_now + v_within;
  end if;
  select * into a from dispatch.worker_alarm w where w.id = 1 for update;
  if v_due is null then
    perform dispatch.worker_disarm(p_owner);
    return jsonb_build_object('action', 'none');
  end if;
  v_due_ms := greatest(0, ceil(extract(epoch from (v_due - v_now)) * 1000))::integer;
  if a.owner is not null and a.owner <> p_owner and a.alive_until > v_now and a.wake_at <= v_due then
    return jsonb_build_object('action', 'none', 'dueInMs', v_due_ms, 'heldBy', a.owner);
  end if;
  if v_due_ms <= greatest(p_wait_ms, 0) then
    update dispatch.worker_alarm set owner = p_owner, wake_at = v_due,
      alive_until = v_now + make_interval(secs => greatest(p_wait_ms, 0) / 1000.0)
    where id = 1;
    return jsonb_build_object('action', 'wait', 'dueInMs', v_due_ms);
  end if;
  -- due after this run's end: it waits as long as it can and looks again, so that a chain hands over
  -- once per run budget, not once per run start (a run that hands over at once would start runs back
  -- to back until the receipt is due)
  if p_wait_ms >= 1000 then
    update dispatch.worker_alarm set owner = p_owner, wake_at = v_due,
      alive_until = v_now + make_interval(secs => p_wait_ms / 1000.0)
    where id = 1;
    return jsonb_build_object('action', 'wait', 'dueInMs', v_due_ms, 'waitMs', p_wait_ms);
  end if;
  -- the successor polls at once and again when it ends (it waits then, or hands over once more)
  update dispatch.worker_alarm set owner = p_owner, wake_at = v_due,
    alive_until = v_now + make_interval(secs => greatest(p_successor_ms, 0) / 1000.0),
    handovers = handovers + 1
  where id = 1;
  if to_regclass('vault.decrypted_secrets') is not null then
    select s.decrypted_secret into v_url from vault.decrypted_secrets s
    where s.name = 'dispatch_worker_url' limit 1;
  end if;
  return jsonb_build_object('action', 'handover', 'dueInMs', v_due_ms, 'url', nullif(v_url, ''));
end
$$;

-- The hand-over did not start a run (no URL, the call failed): release the alarm so that another run,
-- or dispatch.tick(), takes it.
create or replace function dispatch.worker_disarm(p_owner text) returns void
language plpgsql security definer set search_path = '' as $$
begin
  update dispatch.worker_alarm set owner = null, wake_at = null, alive_until = null
  where id = 1 and owner = p_owner;
end
$$;

-- ==== sql/core/060_receipts.sql ====
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

-- ==== sql/core/061_receipts_batch.sql ====
-- Receipts: the worker's batched queue API (issue 17's throughput target): one call per group of
-- receipts instead of one per receipt. The single-receipt functions in 060_receipts.sql stay (tests,
-- admin tools and a caller that records one outcome at a time use them); these do the same transitions.
-- Each element carries its receipt's lease token, checked per row in the one
-- UPDATE, so a stale worker (its lease expired, the receipt claimed again) changes nothing: the
-- functions return the ids they accepted and the caller drops the others' results.

-- The first problem of a batch argument (`p_name`: the argument's name in the message), or null:
-- a json array of at most 1000 objects, each with a receipt id and a lease token, no id twice.
-- plpgsql, not sql: a SQL function that is not inlined (this one, called from plpgsql) is parsed and
-- planned on every call, which cost more than the checks themselves (0.1 ms per delivery, session 5);
-- plpgsql keeps its plan for the connection.
create or replace function dispatch.lease_batch_problem(p_items jsonb, p_name text) returns text
language plpgsql immutable set search_path = '' as $$
begin
  return case
    when p_items is null or jsonb_typeof(p_items) <> 'array' then
      format('%s must be a json array (got %s)', p_name, coalesce(jsonb_typeof(p_items), 'null'))
    when jsonb_array_length(p_items) > 1000 then
      format('%s holds %s elements, at most 1000 per call', p_name, jsonb_array_length(p_items))
    else (
      select coalesce(
        (select format('%s[%s]%s', p_name, e.i - 1, e.problem) from (
           select o.i, case
             when jsonb_typeof(o.v) <> 'object' then ' must be an object'
             when jsonb_typeof(o.v -> 'id') is distinct from 'string'
                  or (o.v ->> 'id') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
               format('.id must be a receipt id (a uuid string), got %s', coalesce((o.v -> 'id')::text, 'nothing'))
             when jsonb_typeof(o.v -> 'leaseToken') not in ('string', 'number')
                  or (o.v -> 'leaseToken') is null or (o.v ->> 'leaseToken') !~ '^[0-9]{1,18}$' then
               format('.leaseToken must be the claim''s lease token (digits), got %s',
                      coalesce((o.v -> 'leaseToken')::text, 'nothing'))
           end as problem
           from jsonb_array_elements(p_items) with ordinality o (v, i)
         ) e where e.problem is not null order by e.i limit 1),
        (select format('%s: receipt %s appears more than once', p_name, d.id) from (
           select o ->> 'id' as id from jsonb_array_elements(p_items) o
           group by lower(o ->> 'id'), o ->> 'id' having count(*) > 1 limit 1) d))
    ) end;
end
$$;

-- Store the rendered content of many receipts (each element `{id, leaseToken, content, secrets?}`,
-- secrets replaced by `[redacted]`), only where the caller still holds the lease. Returns the ids
-- stored; a missing id means the lease was lost (drop that receipt).
create or replace function dispatch.set_receipts_content(p_items jsonb) returns setof uuid
language plpgsql security definer set search_path = '' as $$
declare
  v_problem text := dispatch.lease_batch_problem(p_items, 'items');
begin
  if v_problem is null then
    select format('items[%s]%s', e.i - 1, e.problem) into v_problem from (
      select o.i, case
        when jsonb_typeof(o.v -> 'content') is distinct from 'object' then
          format('.content must be a json object, got %s', coalesce(jsonb_typeof(o.v -> 'content'), 'nothing'))
        when jsonb_typeof(o.v -> 'secrets') not in ('array', 'null') then '.secrets must be an array of strings'
        when exists (select 1 from jsonb_array_elements(case when jsonb_typeof(o.v -> 'secrets') = 'array'
                                                             then o.v -> 'secrets' else '[]' end) s
                     where jsonb_typeof(s) <> 'string') then '.secrets must be an array of strings'
      end as problem
      from jsonb_array_elements(p_items) with ordinality o (v, i)
    ) e where e.problem is not null order by e.i limit 1;
  end if;
  if v_problem is not null then
    raise exception 'dispatch: %', v_problem using errcode = '22023';
  end if;
  return query
  with input as (
    select (o ->> 'id')::uuid as rid, (o ->> 'leaseToken')::bigint as token, o -> 'content' as content,
           case when jsonb_typeof(o -> 'secrets') = 'array'
                then array(select jsonb_array_elements_text(o -> 'secrets')) end as secrets
    from jsonb_array_elements(p_items) o
  ), held as (
    select r.id as rid from dispatch.receipts r join input i on i.rid = r.id
    where r.status = 'sending' and r.lease_token = i.token
    order by r.id
    for update of r
  )
  update dispatch.receipts r set content = dispatch.redact(i.content, i.secrets)
  from held h join input i on i.rid = h.rid
  where r.id = h.rid
  returning r.id;
end
$$;

-- Record many sends' outcomes in one transaction: one UPDATE of the receipts, one of their open
-- attempts. Each element: `{id, leaseToken, kind, error?, retryAt?, httpStatus?, durationMs?,
-- providerMessageId?, providerResponse?}` with kind
--   complete  sending → sent (as complete_receipt)
--   retry     sending → scheduled at retryAt (default: backoff), or failed when the receipt has used
--             its attempts (as retry_receipt); `error` required
--   fail      sending → failed (as fail_receipt); `error` required
-- Only receipts still `sending` under the given lease token change (a stale token changes nothing);
-- returns each accepted receipt's id and new status. Bad input raises 22023 naming the element and field.
create or replace function dispatch.finish_receipts(p_outcomes jsonb)
returns table (id uuid, status text)
language plpgsql security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_problem text := dispatch.lease_batch_problem(p_outcomes, 'outcomes');
  v_default_max integer := dispatch.setting_int('max_attempts', 8)::integer;
begin
  if v_problem is null then
    select format('outcomes[%s]%s', e.i - 1, e.problem) into v_problem from (
      select o.i, case
        when jsonb_typeof(o.v -> 'kind') is distinct from 'string'
             or (o.v ->> 'kind') not in ('complete', 'retry', 'fail') then
          format('.kind must be complete, retry or fail, got %s', coalesce((o.v -> 'kind')::text, 'nothing'))
        when (o.v ->> 'kind') <> 'complete' and jsonb_typeof(o.v -> 'error') is distinct from 'string' then
          format('.error must be a string for kind %s', o.v ->> 'kind')
        when jsonb_typeof(o.v -> 'retryAt') not in ('string', 'null')
             or (jsonb_typeof(o.v -> 'retryAt') = 'string' and (o.v ->> 'retryAt')
                 !~ '^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$') then
          format('.retryAt must be an ISO 8601 timestamp, got %s', (o.v -> 'retryAt')::text)
        when jsonb_typeof(o.v -> 'httpStatus') not in ('number', 'null')
             or (jsonb_typeof(o.v -> 'httpStatus') = 'number' and (o.v ->> 'httpStatus') !~ '^[0-9]{1,3}$') then
          format('.httpStatus must be an integer status code, got %s', (o.v -> 'httpStatus')::text)
        when jsonb_typeof(o.v -> 'durationMs') not in ('number', 'null')
             or (jsonb_typeof(o.v -> 'durationMs') = 'number' and (o.v ->> 'durationMs') !~ '^[0-9]{1,9}$') then
          format('.durationMs must be a whole number of ms, got %s', (o.v -> 'durationMs')::text)
        when jsonb_typeof(o.v -> 'providerMessageId') not in ('string', 'null') then
          format('.providerMessageId must be a string, got %s', (o.v -> 'providerMessageId')::text)
      end as problem
      from jsonb_array_elements(p_outcomes) with ordinality o (v, i)
    ) e where e.problem is not null order by e.i limit 1;
  end if;
  if v_problem is not null then
    raise exception 'dispatch: %', v_problem using errcode = '22023';
  end if;
  perform set_config('dispatch.transition', 'finish', true);
  return query
  with input as (
    select (o ->> 'id')::uuid as rid, (o ->> 'leaseToken')::bigint as token, o ->> 'kind' as kind,
           o ->> 'error' as err, (o ->> 'retryAt')::timestamptz as retry_at,
           (o ->> 'httpStatus')::integer as http_status, (o ->> 'durationMs')::integer as duration_ms,
           o ->> 'providerMessageId' as provider_message_id,
           case when jsonb_typeof(o -> 'providerResponse') = 'null' then null else o -> 'providerResponse' end
             as provider_response
    from jsonb_array_elements(p_outcomes) o
  ), held as (
    -- the lease check, per receipt; rows locked in id order (no deadlock between two batches)
    select r.id as rid, i.kind = 'fail' or (i.kind = 'retry'
             and r.attempt_count >= coalesce(r.max_attempts, v_default_max)) as fails
    from dispatch.receipts r join input i on i.rid = r.id
    where r.status = 'sending' and r.lease_token = i.token
    order by r.id
    for update of r
  ), upd as (
    update dispatch.receipts r set
      status = case when i.kind = 'complete' then 'sent' when h.fails then 'failed' else 'scheduled' end,
      sent_at = case when i.kind = 'complete' then now() else r.sent_at end,
      failed_at = case when h.fails then now() else r.failed_at end,
      next_attempt_at = case when i.kind = 'retry' and not h.fails
                             then coalesce(i.retry_at, now() + dispatch.backoff(r.attempt_count))
                             else r.next_attempt_at end,
      provider_message_id = case when i.kind = 'complete' then i.provider_message_id else r.provider_message_id end,
      provider_response = case when i.kind = 'complete' then i.provider_response else r.provider_response end,
      last_error = case when i.kind = 'complete' then null else i.err end,
      lease_owner = null, lease_expires_at = null
    from held h join input i on i.rid = h.rid
    where r.id = h.rid
    returning r.id, r.status, r.attempt_count
  ), att as (
    update dispatch.attempts a set
      finished_at = now(), outcome = case u.status when 'sent' then 'sent' when 'failed' then 'failed' else 'retry' end,
      http_status = i.http_status, error = case when i.kind = 'complete' then null else i.err end,
      duration_ms = coalesce(i.duration_ms, (extract(epoch from (now() - a.started_at)) * 1000)::integer)
    from upd u join input i on i.rid = u.id
    where a.receipt_id = u.id and a.attempt = u.attempt_count
  )
  select u.id, u.status from upd u;
  perform dispatch.end_transition();
end
$$;

-- ==== sql/core/062_occurrences.sql ====
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

-- ==== sql/core/065_changes.sql ====
-- Change capture: the app's transaction records what changed; events and counters are processed
-- right after commit.
--
-- Why: expanding events (occurrences, receipts, notifications, broadcasts) and applying counters
-- inside the app's transaction took ~25 statements and ~2 ms of CPU per written row
-- (bench/RESULTS.md); a 10,000-row INSERT took 48x as long as without the plugin. Instead, a
-- generated statement trigger on each source table calls dispatch.capture_changes(), which writes ONE
-- row per statement into dispatch.changes: the statement's transition rows as json. That row commits
-- or rolls back with the app's write (the transactional outbox: nothing for a rollback, everything
-- for a commit). dispatch.drain() hands committed changes, in batches per table, to the table's
-- generated processor, which fires the events (occurrences, receipts, notifications) and applies the
-- counter deltas, and deletes the changes, all in one transaction: a change is processed exactly
-- once, and a failing change is kept with its error (dispatch.replay_change) instead of being lost.
--
-- Who drains: the worker, poked through pg_net when a transaction that captured changes commits
-- (debounced: at most one poke per poke_interval_ms, the worker keeps draining that long after its
-- poke, see dispatch.worker_linger_ms); dispatch.tick() every minute as the safety net; and
-- dispatch.reconcile_counters() before it recomputes.
-- Strict events are not captured: their generated trigger still expands inside the app's
-- transaction, so a failure aborts the write.

create table if not exists dispatch.changes (
  id bigint generated always as identity primary key,
  source_table text not null,
  operation text not null check (operation in ('INSERT', 'UPDATE', 'DELETE')),
  actor uuid,
  -- json (not jsonb): json_agg costs a quarter of jsonb_agg on a 10,000-row statement.
  -- `n.*`, not `n`: a source table may have a column named n or o, which `json_agg(n)` would take
  new_rows json,
  old_rows json,
  captured_at timestamptz not null default now(),
  attempts integer not null default 0,
  -- set when processing failed (kept for an admin; drain skips it until dispatch.replay_change)
  error text,
  failed_at timestamptz
);
-- rows in the statement: drain batches changes up to drain_batch_rows rows
alter table dispatch.changes add column if not exists row_count integer not null default 0;
-- worker_wake.next_poke_at as the capturing statement read it (one init-plan read inside its INSERT):
-- the commit-time poke check compares the clock with it instead of running a query of its own
alter table dispatch.changes add column if not exists wake_until timestamptz;
comment on table dispatch.changes is
  'supadispatch outbox: one row per captured statement, processed after commit by dispatch.drain()';

-- Source tables and their generated processors: function (p_changes dispatch.changes[]) returns void,
-- handed a batch of the table's changes in capture order (operations mixed; each change keeps its
-- actor and capture time for the occurrences it fires).
create table if not exists dispatch.sources (
  source_table text primary key,
  processor text not null,
  updated_at timestamptz not null default now()
);

insert into dispatch.settings (key, value, description) values
  ('tick_drain_max', '5000', 'changes dispatch.tick() processes per run (the worker drains the rest)'),
  ('drain_batch_rows', '5000', 'captured rows a processor gets at once (consecutive changes of one table)')
on conflict (key) do nothing;

-- The table a source name ('schema.table' as capture_changes writes it, unquoted, case kept) names.
create or replace function dispatch.source_regclass(p_source_table text) returns regclass
language plpgsql stable security definer set search_path = '' as $$
begin
  return (select c.oid::regclass from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
          where n.nspname || '.' || c.relname = p_source_table and c.relkind in ('r', 'p')
          order by c.oid limit 1);
end
$$;

create or replace function dispatch.register_source(p_source_table text, p_processor text) returns void
language plpgsql security definer set search_path = '' as $$
begin
  if p_source_table is null or dispatch.source_regclass(p_source_table) is null then
    raise exception 'dispatch: register_source: table % does not exist', coalesce(p_source_table, '(null)');
  end if;
  if p_processor is null or to_regprocedure(p_processor || '(dispatch.changes[])') is null then
    raise exception 'dispatch: register_source: processor %(dispatch.changes[]) does not exist', coalesce(p_processor, '(null)');
  end if;
  insert into dispatch.sources as s (source_table, processor) values (p_source_table, p_processor)
  on conflict (source_table) do update set processor = excluded.processor, updated_at = now();
  -- counted from the WAL only while its migration asks for it again (066_counts_from_wal.sql)
  perform dispatch.wal_count_release(p_source_table);
end
$$;

-- Changes of the table still waiting are kept: drain marks them failed ("no processor"), replayable
-- once a processor is registered again.
create or replace function dispatch.unregister_source(p_source_table text) returns void
language plpgsql security definer set search_path = '' as $$
begin
  delete from dispatch.sources where source_table = p_source_table;
  perform dispatch.wal_count_release(p_source_table);
end
$$;

-- The generic capture trigger: AFTER ... FOR EACH STATEMENT, with the transition tables named
-- new_rows / old_rows. One row per statement that changed rows; nothing for an empty statement.
-- An argument picks what is kept of the rows:
--   * none or 'rows': the rows themselves (json), for processors that read columns;
--   * 'count': only how many rows (row_count; new_rows / old_rows null), for a table whose processor
--     needs nothing but the count (the generator uses it when every counter of the table counts
--     every row into one audience scope and no event reads the table): json_agg is about a fifth of
--     the capture's cost for a single row and most of it for a bulk statement.
create or replace function dispatch.capture_changes() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_level <> 'STATEMENT' or tg_when <> 'AFTER' then
    raise exception 'dispatch: capture_changes() must run AFTER ... FOR EACH STATEMENT (trigger % on %.%)',
      tg_name, tg_table_schema, tg_table_name;
  end if;
  if tg_nargs > 0 and tg_argv[0] = 'count' then
    if tg_op = 'DELETE' then
      insert into dispatch.changes (source_table, operation, actor, row_count, wake_until)
      select tg_table_schema || '.' || tg_table_name, 'DELETE', dispatch.current_user_id(), count(*), (select w.next_poke_at from dispatch.worker_wake w where w.id = 1)
      from old_rows o having count(*) > 0;
    else
      insert into dispatch.changes (source_table, operation, actor, row_count, wake_until)
      select tg_table_schema || '.' || tg_table_name, tg_op, dispatch.current_user_id(), count(*), (select w.next_poke_at from dispatch.worker_wake w where w.id = 1)
      from new_rows n having count(*) > 0;
    end if;
    return null;
  end if;
  if tg_nargs > 0 and tg_argv[0] is distinct from 'rows' then
    raise exception 'dispatch: capture_changes(%): the argument is rows or count (trigger % on %.%)',
      tg_argv[0], tg_name, tg_table_schema, tg_table_name;
  end if;
  if tg_op = 'INSERT' then
    insert into dispatch.changes (source_table, operation, actor, new_rows, row_count, wake_until)
    select tg_table_schema || '.' || tg_table_name, 'INSERT', dispatch.current_user_id(), json_agg(n.*), count(*),
           (select w.next_poke_at from dispatch.worker_wake w where w.id = 1)
    from new_rows n having count(*) > 0;
  elsif tg_op = 'UPDATE' then
    insert into dispatch.changes (source_table, operation, actor, new_rows, old_rows, row_count, wake_until)
    select tg_table_schema || '.' || tg_table_name, 'UPDATE', dispatch.current_user_id(), x.n, x.o, x.c,
           (select w.next_poke_at from dispatch.worker_wake w where w.id = 1)
    from (select (select json_agg(n.*) from new_rows n) as n, (select json_agg(o.*) from old_rows o) as o,
                 (select count(*) from new_rows) as c) x
    where x.c > 0;
  elsif tg_op = 'DELETE' then
    insert into dispatch.changes (source_table, operation, actor, old_rows, row_count, wake_until)
    select tg_table_schema || '.' || tg_table_name, 'DELETE', dispatch.current_user_id(), json_agg(o.*), count(*),
           (select w.next_poke_at from dispatch.worker_wake w where w.id = 1)
    from old_rows o having count(*) > 0;
  end if;
  return null;
end
$$;

-- At commit (deferred): ask for the worker once per transaction that captured something. Deferred so
-- the debounce reads the time just before this transaction's commit. Nearly every transaction stops at
-- the first test: the clock against the next_poke_at its capturing statement read (new.wake_until, a
-- column of the change row or of the counts-only slot row), no query. That value is at most
-- poke_interval_ms old at the statement, so a transaction that commits later than it falls through to
-- the full check; one that commits before it commits while the poked worker still lingers (it drains
-- until a second after next_poke_at, dispatch.worker_linger_ms), as the query's answer would say.
-- The full check repeats poke_worker's debounce because most of the rest stop there: one read, no call.
create or replace function dispatch.changes_committing() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if new.wake_until > clock_timestamp() then
    return null;
  end if;
  if current_setting('dispatch.poked', true) is distinct from 'on'
     and not exists (select from dispatch.worker_wake w where w.next_poke_at > clock_timestamp()) then
    perform dispatch.poke_worker('changes');
  end if;
  return null;
end
$$;

drop trigger if exists changes_committing on dispatch.changes;
create constraint trigger changes_committing after insert on dispatch.changes
  deferrable initially deferred for each row execute function dispatch.changes_committing();

-- The capture of a counts-only table (every counter of it counts every row into one audience scope, and
-- no event reads it): AFTER INSERT / DELETE ... FOR EACH STATEMENT, arguments pairs of counter name and
-- scope. Adds the statement's row count (+ INSERT, - DELETE; an UPDATE moves no such counter) to this
-- backend's slot row of each counter in dispatch.counter_pending (040_counters.sql); the next drain
-- publishes the sum. No dispatch.changes row: nothing for a drain to claim, process and delete. The
-- slot row's deferred changes_committing trigger pokes the worker at commit, as a change row's does.
-- Nothing for an empty statement.
create or replace function dispatch.count_changes() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  -- this backend's own row: no two transactions in flight ever share one, so writers of a counted
  -- table never wait for each other nor deadlock over it (040_counters.sql)
  v_slot integer := pg_backend_pid();
  v_delta bigint;
  v_wake timestamptz;
begin
  if tg_level <> 'STATEMENT' or tg_when <> 'AFTER' or tg_nargs = 0 or tg_nargs % 2 <> 0 then
    raise exception 'dispatch: count_changes(counter, scope, ...) must run AFTER ... FOR EACH STATEMENT with pairs of counter and scope (trigger % on %.%)',
      tg_name, tg_table_schema, tg_table_name;
  end if;
  if tg_op = 'UPDATE' or tg_op = 'TRUNCATE' then
    return null;
  end if;
  -- the statement's row count (+ INSERT, - DELETE) and the next_poke_at it read, once for every counter
  if tg_op = 'INSERT' then
    select count(*), (select w.next_poke_at from dispatch.worker_wake w where w.id = 1) into v_delta, v_wake
    from new_rows;
  else
    select -count(*), (select w.next_poke_at from dispatch.worker_wake w where w.id = 1) into v_delta, v_wake
    from old_rows;
  end if;
  if v_delta = 0 then
    return null;
  end if;
  for i in 0 .. tg_nargs / 2 - 1 loop
    update dispatch.counter_pending p set total = p.total + v_delta, wake_until = v_wake
    where p.name = tg_argv[2 * i] and p.scope = tg_argv[2 * i + 1] and p.slot = v_slot;
    if not found then
      -- the slot's first write (or a counter that is not registered: no row)
      insert into dispatch.counter_pending as p (name, scope, slot, total)
      select tg_argv[2 * i], tg_argv[2 * i + 1], v_slot, v_delta
      where exists (select from dispatch.counters_def d where d.name = tg_argv[2 * i])
      on conflict (name, scope, slot) do update set total = p.total + excluded.total, wake_until = null;
    end if;
  end loop;
  return null;
end
$$;

-- Queued only when no poked worker lingers at the statement (new.wake_until, read by the statement,
-- has passed) or on the slot's first write: a lingering worker keeps lingering while a writer of a slot
-- row is in flight or a committed total is not published yet (dispatch.worker_linger_ms), so it
-- publishes this write after its commit without a poke, and the commit does no trigger work at all.
drop trigger if exists counter_pending_committing on dispatch.counter_pending;
create constraint trigger counter_pending_committing after insert or update on dispatch.counter_pending
  deferrable initially deferred for each row
  when (new.wake_until is null or new.wake_until <= clock_timestamp())
  execute function dispatch.changes_committing();

-- Process a batch of one table's changes with the table's processor and delete them. Raises what
-- the processor raises.
drop function if exists dispatch.process_change(dispatch.changes);
create or replace function dispatch.process_changes(p_changes dispatch.changes[]) returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_source text := p_changes[1].source_table;
  v_processor regprocedure;
begin
  if coalesce(cardinality(p_changes), 0) = 0 then
    return;
  end if;
  if exists (select from unnest(p_changes) c where c.source_table is distinct from v_source) then
    raise exception 'dispatch: process_changes: a batch holds the changes of one table';
  end if;
  select to_regprocedure(s.processor || '(dispatch.changes[])') into v_processor
  from dispatch.sources s where s.source_table = v_source;
  if v_processor is null then
    raise exception 'dispatch: no processor registered for %', v_source
      using hint = 'run supadispatch gen and supabase db push, then select dispatch.replay_change(id)';
  end if;
  execute format('select %s($1)', v_processor::oid::regproc) using p_changes;
  delete from dispatch.changes where id = any(array(select c.id from unnest(p_changes) c));
end
$$;

-- A transient failure (deadlock, serialization, lock timeout, cancel): retried by the next drain.
create or replace function dispatch.is_transient_error(p_sqlstate text) returns boolean
language sql immutable as $$ select p_sqlstate in ('40P01', '40001', '55P03', '57014') $$;

-- One batch: all at once; if that fails, change by change, so one failing change keeps its error and
-- the others go through. Returns how many changes it took (processed or failed); fewer than the batch
-- holds means a transient failure stopped it and the drain should end.
drop function if exists dispatch.drain_batch(dispatch.changes[]);
create or replace function dispatch.drain_batch(p_batch dispatch.changes[]) returns integer
language plpgsql security definer set search_path = '' as $$
declare
  c dispatch.changes;
  v_taken integer := 0;
  v_state text;
  v_msg text;
begin
  begin
    perform dispatch.process_changes(p_batch);
    return coalesce(cardinality(p_batch), 0);
  exception when others then
    get stacked diagnostics v_state = returned_sqlstate;
    if dispatch.is_transient_error(v_state) then
      return 0;
    end if;
  end;
  foreach c in array p_batch loop
    begin
      perform dispatch.process_changes(array[c]);
    exception when others then
      get stacked diagnostics v_state = returned_sqlstate, v_msg = message_text;
      if dispatch.is_transient_error(v_state) then
        return v_taken;
      end if;
      update dispatch.changes set error = v_state || ': ' || v_msg, attempts = attempts + 1, failed_at = now()
      where id = c.id;
    end;
    v_taken := v_taken + 1;
  end loop;
  return v_taken;
end
$$;

insert into dispatch.settings (key, value, description) values
  ('drain_parallel', '4', 'drains that may run at once (1-64); each takes other changes, so the rate grows with cores')
on conflict (key) do nothing;

-- Drain slots: advisory locks (key1 hashtext('dispatch.drain'), key2 0..63), one per running drain.
-- dispatch.lock_drains() takes all of them (waiting for the running drains): reconcile_counters does,
-- so nothing is half applied while it recounts. A session that holds them all may still drain
-- (advisory locks are re-entrant within a session).
create or replace function dispatch.lock_drains() returns void
language plpgsql security definer set search_path = '' as $$
begin
  for i in 0 .. 63 loop
    perform pg_advisory_xact_lock(hashtext('dispatch.drain'), i);
  end loop;
end
$$;

-- Process up to p_max_changes committed changes, oldest first, in batches: consecutive changes of one
-- table, up to drain_batch_rows rows (a processor then fires each event and applies each counter
-- once per batch). Returns how many changes were taken (done or failed).
-- Up to drain_parallel drains run at once (a free slot, see lock_drains; with none free a caller
-- returns 0 at once), and they claim disjoint changes (FOR UPDATE SKIP LOCKED; deleted in the same
-- transaction): each change is processed exactly once. Per source table (an advisory lock on it):
--   * while the table's oldest waiting change is an INSERT, drains take it shared and claim only its
--     INSERTs before its first other change: several drains process one table's inserts at once.
--     Their counter deltas only add (an inserted row enters a condition, never leaves one), so the
--     order in which they commit cannot take a value below zero;
--   * an UPDATE or DELETE is processed under the table's lock taken exclusive (no other drain on
--     the table, so every earlier change of it was applied first; a drain alone on a table takes it
--     exclusive whenever its claim holds one): a delta that takes a row out of a condition always
--     follows the one that put it in, and a counter never goes below zero.
-- The counter row locks are ordered too: during a drain every counter delta waits in
-- counter_apply's deferred buffer and dispatch.flush_counters applies them
-- all at the drain's end in (name, scope) order, one seq bump and one broadcast per scope per drain;
-- drains thus never deadlock on counters, hold their locks only from the flush to commit, and seq
-- follows commit order per scope. Its broadcasts wait too (dispatch.defer_broadcasts) and go out at its end,
-- one per topic (030_realtime.sql).
-- A change whose processing fails is kept with its error; a transient failure leaves the rest for
-- the next drain and ends this one.
create or replace function dispatch.drain(p_max_changes integer default 500) returns integer
language plpgsql security definer set search_path = '' as $$
declare
  v_claimed dispatch.changes[];
  v_batch dispatch.changes[] := '{}';
  v_rows bigint := 0;
  v_max_rows bigint := greatest(dispatch.setting_int('drain_batch_rows', 5000), 1);
  v_slots integer := least(greatest(dispatch.setting_int('drain_parallel', 4), 1), 64)::integer;
  v_table_key constant integer := hashtext('dispatch.drain.table');
  v_slot integer;
  v_tables text[] := '{}';
  v_bounds bigint[] := '{}';
  v_inserts_only boolean[] := '{}';
  v_done integer := 0;
  v_taken integer;
  v_flush boolean;
  t record;
  c dispatch.changes;
  -- where the scans start, and the ids handed out so far, read before this drain has an xid
  -- (069_drain_low_mark.sql)
  v_low bigint := dispatch.changes_low_id();
  -- (null when the caller's transaction has an xid already: then the mark is not moved by this drain)
  v_seen_id bigint := case when pg_current_xact_id_if_assigned() is null
                           then pg_sequence_last_value('dispatch.changes_id_seq') end;
begin
  if p_max_changes is null or p_max_changes < 1 then
    raise exception 'dispatch: drain: max_changes must be at least 1 (got %)', coalesce(p_max_changes::text, 'null');
  end if;
  -- a free slot (starting at a per-backend offset so concurrent drains rarely try the same one first)
  for i in 0 .. v_slots - 1 loop
    if pg_try_advisory_xact_lock(hashtext('dispatch.drain'), (pg_backend_pid() + i) % v_slots) then
      v_slot := (pg_backend_pid() + i) % v_slots;
      exit;
    end if;
  end loop;
  if v_slot is null then
    return 0;
  end if;
  -- the tables of the oldest waiting changes, and how this drain may take each (see above). The window
  -- holds what every slot's drain may claim at once (p_max_changes each): with only p_max_changes,
  -- the changes a running drain has claimed fill it, a second drain's INSERT bound (the window's end)
  -- falls inside them, and it finds nothing, so drains on one table ran one at a time (session 6)
  for t in
    select s.source_table, min(s.id) as first_id,
           min(s.id) filter (where s.operation <> 'INSERT') as first_other, max(max(s.id)) over () as last_id
    -- the mark read inside the query, not passed as v_low: a parameter the planner can see made it
    -- plan the window (and the claim) again on every call, 0.6 ms, a fifth of a one-change drain
    -- (a later mark than v_low is as valid a start)
    from (select ch.id, ch.source_table, ch.operation from dispatch.changes ch
          where ch.error is null and ch.id >= (select dispatch.changes_low_id())
          order by ch.id limit p_max_changes::bigint * v_slots) s
    group by s.source_table order by 2
  loop
    if t.first_other is null or t.first_other > t.first_id then
      -- the oldest is an INSERT: shared, and exclusive too when no other drain is on the table and an
      -- UPDATE or DELETE follows (a drain alone takes everything in order)
      if not pg_try_advisory_xact_lock_shared(v_table_key, hashtext(t.source_table)) then
        continue;
      end if;
      if t.first_other is not null and pg_try_advisory_xact_lock(v_table_key, hashtext(t.source_table)) then
        v_tables := v_tables || t.source_table; v_bounds := v_bounds || null::bigint; v_inserts_only := v_inserts_only || false;
      else
        v_tables := v_tables || t.source_table; v_inserts_only := v_inserts_only || true;
        v_bounds := v_bounds || coalesce(t.first_other, t.last_id + 1);
      end if;
    elsif pg_try_advisory_xact_lock(v_table_key, hashtext(t.source_table)) then
      v_tables := v_tables || t.source_table; v_bounds := v_bounds || null::bigint; v_inserts_only := v_inserts_only || false;
    end if;
  end loop;
  if cardinality(v_tables) = 0 then
    -- counts-only counters' pending deltas (040_counters.sql) and WAL counts (067_wal_publish.sql)
    -- are published by every drain
    if dispatch.publish_counter_pending() + dispatch.publish_wal_counts() > 0 then
      perform dispatch.flush_counters();
    end if;
    return 0;
  end if;
  perform set_config('dispatch.counter_defer', 'on', true);
  -- every broadcast of the drain waits for its end: one per topic (030_realtime.sql, send_batch)
  v_flush := dispatch.defer_broadcasts();
  -- the locked rows themselves (whole-row p), not ids looked up again: `where id in (...)` planned
  -- generically became a sequential scan of the whole backlog per call (34 ms at 73,000 changes)
  select coalesce(array_agg(l.p order by (l.p).id), '{}') into v_claimed
  from (select p from dispatch.changes p
        join unnest(v_tables, v_bounds, v_inserts_only) as x(source_table, bound, inserts_only)
          on x.source_table = p.source_table
        where p.error is null and p.id >= (select dispatch.changes_low_id())
          and (not x.inserts_only or (p.operation = 'INSERT' and p.id < x.bound))
        order by p.id limit p_max_changes
        for update of p skip locked) l;
  <<batches>>
  begin
    foreach c in array v_claimed loop
      if cardinality(v_batch) > 0 and (c.source_table <> v_batch[1].source_table or v_rows + c.row_count > v_max_rows) then
        v_taken := dispatch.drain_batch(v_batch);
        v_done := v_done + v_taken;
        if v_taken < cardinality(v_batch) then
          v_batch := '{}';
          exit batches;
        end if;
        v_batch := '{}';
        v_rows := 0;
      end if;
      v_batch := v_batch || c;
      v_rows := v_rows + c.row_count;
    end loop;
    if cardinality(v_batch) > 0 then
      v_done := v_done + dispatch.drain_batch(v_batch);
    end if;
  end;
  if cardinality(v_claimed) > 0 then
    perform dispatch.advance_changes_low_id(v_low, v_seen_id, v_claimed[1].id);
  end if;
  -- the counter deltas of every batch that went through, applied in one ordered statement
  perform set_config('dispatch.counter_defer', '', true);
  perform dispatch.publish_counter_pending();
  perform dispatch.publish_wal_counts();
  perform dispatch.flush_counters();
  if v_flush then
    perform dispatch.flush_broadcasts();
  end if;
  return v_done;
end
$$;

-- Process a change again (after fixing what made it fail); raises if it fails again.
create or replace function dispatch.replay_change(p_change_id bigint) returns void
language plpgsql security definer set search_path = '' as $$
declare
  c dispatch.changes;
  v_flush boolean;
begin
  select * into c from dispatch.changes where id = p_change_id for update;
  if not found then
    raise exception 'dispatch: change % not found (already processed?)', p_change_id;
  end if;
  update dispatch.changes set attempts = attempts + 1 where id = p_change_id;
  v_flush := dispatch.defer_broadcasts();  -- one broadcast per topic, as a drain sends
  perform dispatch.process_changes(array[c]);
  if v_flush then
    perform dispatch.flush_broadcasts();
  end if;
end
$$;

-- ==== sql/core/066_counts_from_wal.sql ====
-- Counts from the WAL: a counts-only table's writes counted by logical decoding, not in the write.
--
-- Why: a counts-only counter (every row of its table counted into one audience scope, no event reading
-- the table) was counted by its writers: a statement trigger with a transition table and an UPDATE of
-- the writer's row in dispatch.counter_pending, per transaction (dispatch.count_changes). Measured
-- against the bare table that caps 16 writers on one global counter at 0.55-0.7x (bench/RESULTS.md);
-- the row UPDATE alone costs as much as the rest. Postgres already writes every committed INSERT and
-- DELETE to the WAL, and hosted Supabase runs with wal_level = logical (its Realtime decodes the same
-- WAL). So once a logical replication slot exists, such a table joins the publication
-- supadispatch_counts and its trigger only wakes the worker (dispatch.wake_on_count: no transition
-- table, no write); every drain decodes the committed inserts and deletes since the last publish
-- (pgoutput, counting message types per relation, no column is read) and applies them as counter
-- deltas (dispatch.publish_wal_counts).
--
-- Exactly once: the slot is read with peek (nothing consumed) up to an LSN L; the deltas and L are
-- stored in the drain's transaction (wal_count_state.published_lsn); the next publish first advances
-- the slot to the stored L. A rolled-back drain stores nothing and the slot still holds its changes;
-- a rolled-back write never reaches the WAL as committed. One publisher at a time (an advisory lock):
-- a slot serves one backend at a time anyway.
--
-- Switching a table, exactly: the generated migration installs the counting triggers
-- (count_changes) and calls dispatch.count_from_wal. With a healthy slot it switches the table at once:
-- the triggers are replaced by wake triggers and the table joins the publication in the migration's
-- transaction, whose DDL locks order every write of the table before (counted by the trigger) or after
-- (decoded) it. Without a slot the table stays counted by its writers, and dispatch.tick() (pg_cron)
-- creates the slot (only possible in a transaction that has written nothing: tick's first action,
-- returning at once after it) and switches the table then. A slot that was lost (dropped, or
-- invalidated by max_slot_wal_keep_size) loses what it held: the next tick locks the tables it
-- counted, creates a new slot and recounts their counters (dispatch.reconcile_counters) before the
-- writers go on. Where the slot cannot exist (wal_level below logical, no REPLICATION attribute, every
-- slot in use, the setting count_from_wal = false) the writers keep counting, as before.
--
-- Latency: the wake trigger pokes the worker when no poked worker lingers at the statement, as a
-- captured change does; a transaction that commits more than a second after such a statement, while
-- the worker's linger ends, is published by the next poke or tick (never lost). A WAL-counted write
-- becomes visible to decoding once its commit is flushed (wal_writer_delay with synchronous_commit off).

insert into dispatch.settings (key, value, description) values
  ('count_from_wal', 'true', 'count counts-only tables from the WAL (a logical replication slot) instead of in the write'),
  ('wal_publish_interval_ms', '30000', 'at most this long between two publishes of WAL counts while drains run'),
  ('wal_publish_factor', '4', 'a drain publishes WAL counts once this many times the last publish''s duration has passed'),
  ('wal_publish_max_bytes', '268435456', 'WAL one publish of WAL counts decodes at most (the rest is the next one''s)')
on conflict (key) do nothing;

-- Every write to a WAL-counted table is published here (inserts and deletes; an UPDATE moves no
-- counts-only counter, a TRUNCATE is left to reconcile_counters as with the writers' triggers).
-- A partition's rows are published as its root's, which is the table the generator names.
do $$
begin
  if not exists (select from pg_catalog.pg_publication p where p.pubname = 'supadispatch_counts') then
    create publication supadispatch_counts with (publish = 'insert, delete', publish_via_partition_root = true);
  end if;
end
$$;

-- One row per counts-only source table (dispatch.count_from_wal). pairs: counter, scope, counter,
-- scope... as the writers' trigger takes them. wanted: the last migration asked for WAL counting;
-- live: the table is in the publication and its trigger only wakes; relid: the table's oid as the
-- decoder reports it (kept after a switch back, so changes decoded later still map to the counters);
-- needs_reconcile: counts were lost with a slot, recount when switching.
create table if not exists dispatch.wal_count_sources (
  source_table text primary key,
  pairs text[] not null,
  relid oid,
  wanted boolean not null default true,
  live boolean not null default false,
  needs_reconcile boolean not null default false,
  updated_at timestamptz not null default now()
);

-- The slot's bookkeeping (one row): what the counters include, and why the slot is missing if it is.
create table if not exists dispatch.wal_count_state (
  id integer primary key default 1 check (id = 1),
  -- the counters include every transaction that committed before this LSN
  published_lsn pg_lsn,
  published_at timestamptz,
  slot_created_at timestamptz,
  -- the last reason the slot could not be created (doctor shows it); null when healthy. tick() tries
  -- again 10 minutes after a failure, not every minute
  last_error text
);
alter table dispatch.wal_count_state add column if not exists last_error_at timestamptz;
-- how long the last publish took (its decoding): spaces the next (publish_wal_counts)
alter table dispatch.wal_count_state add column if not exists last_decode_ms double precision;
insert into dispatch.wal_count_state (id) values (1) on conflict (id) do nothing;

create or replace function dispatch.wal_count_slot() returns text
language sql immutable as $$ select 'supadispatch_counts'::text $$;

-- Whether this database can count from the WAL: the setting, wal_level, and the definer's right to
-- decode (the REPLICATION attribute of postgres on hosted Supabase and on the local stack).
create or replace function dispatch.wal_counts_available() returns boolean
language plpgsql stable security definer set search_path = '' as $$
begin
  return coalesce((dispatch.setting('count_from_wal') #>> '{}')::boolean, true)
    and current_setting('wal_level') = 'logical'
    and exists (select from pg_catalog.pg_roles r where r.rolname = current_user and (r.rolreplication or r.rolsuper))
    and exists (select from pg_catalog.pg_publication p where p.pubname = 'supadispatch_counts');
end
$$;

-- Why a table cannot be counted from the WAL, or null when it can:
--   * it must have a replica identity (a primary key, REPLICA IDENTITY USING INDEX or FULL): in a
--     publication of deletes, Postgres refuses every DELETE on a table without one;
--   * its owner must be postgres (or a role postgres belongs to): the switch replaces its triggers and
--     adds it to the publication, which only the owner may do (tables a migration creates are).
-- Such a table stays counted by its writers.
create or replace function dispatch.wal_count_ineligible(p_source_table text) returns text
language sql stable security definer set search_path = '' as $$
  select case
    when c.oid is null then 'the table does not exist'
    when not pg_catalog.pg_has_role(c.relowner, 'USAGE') then
      format('owned by %s, not by %s: the switch needs its owner', pg_catalog.pg_get_userbyid(c.relowner), current_user)
    when not (c.relreplident = 'f'
              or (c.relreplident = 'i' and exists (select from pg_catalog.pg_index i where i.indrelid = c.oid and i.indisreplident))
              or (c.relreplident = 'd' and exists (select from pg_catalog.pg_index i where i.indrelid = c.oid and i.indisprimary)))
      then 'no replica identity: add a primary key to count it from the WAL'
  end
  from (select dispatch.source_regclass(p_source_table)::oid as oid) t
  left join pg_catalog.pg_class c on c.oid = t.oid
$$;

create or replace function dispatch.wal_count_eligible(p_source_table text) returns boolean
language sql stable security definer set search_path = '' as $$
  select dispatch.wal_count_ineligible(p_source_table) is null
$$;

-- The slot, if it exists and can be read ('reserved', 'extended', 'unreserved'; not 'lost').
create or replace function dispatch.wal_count_slot_healthy() returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (select from pg_catalog.pg_replication_slots s
                 where s.slot_name = dispatch.wal_count_slot() and s.database = current_database()
                   and s.plugin = 'pgoutput' and coalesce(s.wal_status, 'reserved') <> 'lost')
$$;

-- Whether the table is in the publication supadispatch_counts.
create or replace function dispatch.wal_count_published(p_rel regclass) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (select from pg_catalog.pg_publication_rel pr join pg_catalog.pg_publication p on p.oid = pr.prpubid
                 where p.pubname = 'supadispatch_counts' and pr.prrelid = p_rel)
$$;

-- The table's two statement triggers, under the generator's names (dispatch_capture_insert / _delete),
-- in place of whatever they were: with p_count_args (quoted counter, scope, ... pairs) the writers'
-- counting triggers (count_changes with transition tables), without them the wake triggers, fired
-- only when no poked worker lingers (a C function in the WHEN clause: no call, no plpgsql, for nearly
-- every statement; 055_poke.sql).
create or replace function dispatch.wal_count_set_triggers(p_rel regclass, p_count_args text) returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_op text;
  v_side text;
begin
  foreach v_op in array array['insert', 'delete'] loop
    execute format('drop trigger if exists dispatch_capture_%s on %s', v_op, p_rel);
    if p_count_args is null then
      execute format('create trigger dispatch_capture_%s after %s on %s for each statement
        when (coalesce(pg_catalog.pg_sequence_last_value(%L::regclass), 0) < (extract(epoch from pg_catalog.clock_timestamp()) * 1000)::bigint)
        execute function dispatch.wake_on_count()', v_op, v_op, p_rel, 'dispatch.worker_wake_until_ms');
    else
      v_side := case v_op when 'insert' then 'new' else 'old' end;
      execute format('create trigger dispatch_capture_%s after %s on %s referencing %s table as %s_rows
        for each statement execute function dispatch.count_changes(%s)', v_op, v_op, p_rel, v_side, v_side,
        p_count_args);
    end if;
  end loop;
end
$$;

-- Replace a table's counting triggers with wake triggers and add it to the publication (the caller
-- holds or takes the table's locks through this DDL).
create or replace function dispatch.wal_count_switch(p_source_table text) returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_rel regclass := dispatch.source_regclass(p_source_table);
begin
  perform dispatch.wal_count_set_triggers(v_rel, null);
  if not dispatch.wal_count_published(v_rel) then
    execute format('alter publication supadispatch_counts add table %s', v_rel);
  end if;
  update dispatch.wal_count_sources s set live = true, relid = v_rel::oid, updated_at = now()
  where s.source_table = p_source_table;
end
$$;

-- Back to the writers' counting triggers (count_changes with the table's pairs) and out of the
-- publication: for a live table that lost what made it eligible (its primary key dropped after the
-- switch: in a publication of deletes Postgres then refuses its DELETEs). Exact as the switch: writes
-- before it were decoded (the row keeps its relid, so they are still published), writes after it
-- are counted by the writers. It stays wanted: switched again once eligible.
create or replace function dispatch.wal_count_switch_back(p_source_table text) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.wal_count_set_triggers(dispatch.source_regclass(p_source_table),
    (select string_agg(quote_literal(x.a), ', ' order by x.o)
     from dispatch.wal_count_sources s, unnest(s.pairs) with ordinality as x(a, o)
     where s.source_table = p_source_table));
  perform dispatch.wal_count_unpublish(p_source_table);
  update dispatch.wal_count_sources s set live = false, updated_at = now() where s.source_table = p_source_table;
end
$$;

-- Out of the publication (its writers' triggers count again, or no counter reads it any more).
create or replace function dispatch.wal_count_unpublish(p_source_table text) returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_rel regclass := dispatch.source_regclass(p_source_table);
begin
  if v_rel is not null and dispatch.wal_count_published(v_rel) then
    execute format('alter publication supadispatch_counts drop table %s', v_rel);
  end if;
end
$$;

-- Recount a table's counters when counts were lost with a slot (needs_reconcile), and clear the mark.
-- The caller holds the table's locks through its DDL (a switch, a migration), so nothing commits
-- between the recount's drain and the recount (reconcile_counters drains and publishes first).
create or replace function dispatch.wal_count_recount(p_source_table text) returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_name text;
begin
  if not exists (select from dispatch.wal_count_sources s where s.source_table = p_source_table and s.needs_reconcile) then
    return;
  end if;
  for v_name in select distinct s.pairs[2 * i - 1] from dispatch.wal_count_sources s,
                  generate_series(1, cardinality(s.pairs) / 2) as i
                where s.source_table = p_source_table order by 1 loop
    if exists (select from dispatch.counters_def d where d.name = v_name) then
      perform dispatch.reconcile_counters(v_name, true);
    end if;
  end loop;
  update dispatch.wal_count_sources s set needs_reconcile = false where s.source_table = p_source_table;
end
$$;

-- Called by the generated migration of a counts-only table, after it installed the writers' counting
-- triggers (count_changes with the same pairs). Switches the table now when a healthy slot exists;
-- otherwise leaves the writers counting until dispatch.tick() switches it. Returns what it did.
create or replace function dispatch.count_from_wal(p_source_table text, p_pairs text[]) returns text
language plpgsql security definer set search_path = '' as $$
declare
  v_was dispatch.wal_count_sources;
  v_why text;
begin
  if dispatch.source_regclass(p_source_table) is null then
    raise exception 'dispatch: count_from_wal: table % does not exist', coalesce(p_source_table, '(null)');
  end if;
  if p_pairs is null or cardinality(p_pairs) = 0 or cardinality(p_pairs) % 2 <> 0 then
    raise exception 'dispatch: count_from_wal(%): pairs of counter and scope expected, got %', p_source_table, p_pairs;
  end if;
  select * into v_was from dispatch.wal_count_sources s where s.source_table = p_source_table;
  insert into dispatch.wal_count_sources as s (source_table, pairs, wanted, live)
  values (p_source_table, p_pairs, true, false)
  on conflict (source_table) do update set pairs = excluded.pairs, wanted = true, live = false, updated_at = now();
  -- a live table whose slot is gone lost what the slot held (register_source, which the generated
  -- install runs first, marks it so when it releases the table; a direct call is marked here)
  if v_was.live and not dispatch.wal_count_slot_healthy() then
    update dispatch.wal_count_sources s set needs_reconcile = true where s.source_table = p_source_table;
  end if;
  v_why := dispatch.wal_count_ineligible(p_source_table);
  if v_why is not null then
    perform dispatch.wal_count_release(p_source_table);
    perform dispatch.wal_count_recount(p_source_table);
    return format('counted by the writers (%s)', v_why);
  end if;
  if dispatch.wal_counts_available() and dispatch.wal_count_slot_healthy() then
    perform dispatch.wal_count_switch(p_source_table);
    perform dispatch.wal_count_recount(p_source_table);
    return 'counted from the WAL';
  end if;
  -- the writers count from this transaction's commit on; WAL counts still in a healthy slot are
  -- published by relid, lost ones recounted
  perform dispatch.wal_count_unpublish(p_source_table);
  perform dispatch.wal_count_recount(p_source_table);
  return 'counted by the writers';
end
$$;

-- A table no longer counts-only, or no longer a source: out of the publication, not switched again.
-- (register_source and unregister_source call it: every generated source install runs register_source
-- first, and a counts-only install then calls count_from_wal again.)
create or replace function dispatch.wal_count_release(p_source_table text) returns void
language plpgsql security definer set search_path = '' as $$
begin
  if exists (select from dispatch.wal_count_sources s where s.source_table = p_source_table and (s.wanted or s.live)) then
    perform dispatch.wal_count_unpublish(p_source_table);
    -- live without a healthy slot: what the slot held is lost, recounted by whoever counts next
    update dispatch.wal_count_sources s
    set needs_reconcile = s.needs_reconcile or (s.live and not dispatch.wal_count_slot_healthy()),
        wanted = false, live = false, updated_at = now()
    where s.source_table = p_source_table;
  end if;
end
$$;

-- The statement trigger of a WAL-counted table: no transition table, no write. Pokes the worker when
-- no poked worker lingers (it publishes after the commit, like a captured change's commit check).
create or replace function dispatch.wake_on_count() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if exists (select from dispatch.worker_wake w where w.next_poke_at > clock_timestamp()) then
    return null;
  end if;
  perform dispatch.poke_worker('counts');
  return null;
end
$$;

-- ==== sql/core/067_wal_publish.sql ====
-- Counts from the WAL, the reading side: every drain publishes what the slot holds of the WAL-counted
-- tables (066_counts_from_wal.sql has the why, the slot, the switch and the setup).

-- Publish the inserts and deletes of WAL-counted tables committed since the last publish: their net
-- count per counter scope goes to dispatch.counter_dirty (as publish_counter_pending's differences),
-- which the caller's flush_counters applies, or the commit. Returns the scopes that moved. Never waits
-- for a writer: another publisher holds the slot, or the slot is missing (dispatch.tick() repairs it),
-- and it returns 0.
-- What a call costs: Postgres decodes from the slot's restart point, which moves only at the
-- running-transactions records it logs every 15 s, so every call reads up to 15 s of the database's
-- WAL whatever it publishes, and then the WAL since the last publish (under 16 writers at 25-30k tps,
-- 0.3-1.7 s per call once a second; 9-14 s when spaced, bench/RESULTS.md). So calls are spaced: a
-- drain's call publishes only when wal_publish_factor (4) times the last call's duration has passed,
-- which keeps the decoding to about a fifth of one core whatever the write rate; at most
-- wal_publish_interval_ms (30 s) apart. Light WAL makes calls cheap and close (1k writes/s: ~0.1 s
-- apart); only a saturated database sees its counter move every few seconds or more.
-- p_force publishes now, after a publisher in flight, and waits (at most a second) until the WAL
-- written so far is flushed, since decoding reads flushed WAL only (synchronous_commit = off lets a
-- commit return before): the worker when its linger ends, tick() and reconcile_counters (all three
-- through publish_wal_counts_now, below).
create or replace function dispatch.publish_wal_counts(p_force boolean default false) returns integer
language plpgsql security definer set search_path = '' as $$
declare
  v_slot text := dispatch.wal_count_slot();
  v_state dispatch.wal_count_state;
  v_confirmed pg_lsn;
  v_from pg_lsn;
  v_upto pg_lsn;
  v_insert pg_lsn;
  v_started timestamptz;
  v_moved integer;
begin
  if not exists (select from dispatch.wal_count_sources s where s.relid is not null) then
    return 0;
  end if;
  if not p_force then
    -- the last publish ended at published_at + last_decode_ms; the pause counts from its end
    select * into v_state from dispatch.wal_count_state st where st.id = 1;
    if clock_timestamp() < v_state.published_at + make_interval(secs => (coalesce(v_state.last_decode_ms, 0) + least(
         coalesce(v_state.last_decode_ms, 0) * dispatch.setting_int('wal_publish_factor', 4),
         dispatch.setting_int('wal_publish_interval_ms', 30000))) / 1000.0) then
      return 0;
    end if;
  end if;
  if p_force then
    -- waits for a publisher in flight: what it publishes commits first, this one follows it
    perform pg_advisory_xact_lock(hashtext('dispatch.publish_wal_counts'));
  elsif not pg_try_advisory_xact_lock(hashtext('dispatch.publish_wal_counts')) then
    return 0;
  end if;
  if p_force then
    v_insert := pg_current_wal_insert_lsn();
    v_started := clock_timestamp();
    while pg_current_wal_flush_lsn() < v_insert and clock_timestamp() < v_started + interval '1 second' loop
      perform pg_sleep(0.01);
    end loop;
  end if;
  v_started := clock_timestamp();
  select * into v_state from dispatch.wal_count_state st where st.id = 1 for update;
  select s.confirmed_flush_lsn into v_confirmed from pg_catalog.pg_replication_slots s
  where s.slot_name = v_slot and not s.active and coalesce(s.wal_status, 'reserved') <> 'lost';
  if v_confirmed is null or v_state.published_lsn is null then
    return 0;
  end if;
  -- what the last committed publish included is consumed only now (its transaction committed)
  if v_confirmed < v_state.published_lsn then
    perform pg_replication_slot_advance(v_slot, v_state.published_lsn);
  end if;
  v_from := greatest(v_state.published_lsn, v_confirmed);
  -- decoding reads flushed WAL only: a transaction whose commit record ends after v_upto is the next one's
  v_upto := least(pg_current_wal_flush_lsn(), v_from + dispatch.setting_int('wal_publish_max_bytes', 268435456));
  if v_upto <= v_from then
    return 0;
  end if;
  with msg as (
    -- pgoutput protocol 1: 'I' (73) and 'D' (68) messages start with the relation's oid (Int32)
    select ((get_byte(c.data, 1)::bigint << 24) | (get_byte(c.data, 2) << 16)
            | (get_byte(c.data, 3) << 8) | get_byte(c.data, 4)) as relid,
           case get_byte(c.data, 0) when 73 then 1 else -1 end as d
    from pg_logical_slot_peek_binary_changes(v_slot, v_upto, null,
           'proto_version', '1', 'publication_names', 'supadispatch_counts') c
    where get_byte(c.data, 0) in (73, 68)
  ), per_table as (
    select m.relid, sum(m.d)::bigint as delta from msg m group by m.relid
  ), deltas as (
    select p.pairs[2 * i - 1] as name, p.pairs[2 * i] as scope, sum(t.delta)::bigint as delta
    from per_table t
    join dispatch.wal_count_sources p on p.relid::bigint = t.relid
    cross join lateral generate_series(1, cardinality(p.pairs) / 2) as i
    group by 1, 2
  ), kept as (
    insert into dispatch.counter_dirty as c (xid, name, scope, delta)
    select pg_current_xact_id(), d.name, d.scope, d.delta from deltas d
    where d.delta <> 0 and exists (select from dispatch.counters_def cd where cd.name = d.name)
    order by d.name, d.scope
    on conflict (xid, name, scope) do update set delta = c.delta + excluded.delta
    returning 1
  )
  select count(*) into v_moved from kept;
  update dispatch.wal_count_state
  -- published_at: a time before v_upto was read, so every commit before it is in what this published
  set published_lsn = v_upto, published_at = v_started,
      last_decode_ms = extract(epoch from clock_timestamp() - v_started) * 1000
  where id = 1;
  if v_moved > 0 then
    perform dispatch.flush_counters_at_commit();
  end if;
  return v_moved;
end
$$;

-- Publish forced and apply at once (flush_counters), for the callers that publish outside a drain:
-- tick after its drains, reconcile_counters before it recounts (it compares the counters right after),
-- the worker's last poll (public.dispatch_worker_drain). Returns the scopes that moved.
create or replace function dispatch.publish_wal_counts_now() returns integer
language plpgsql security definer set search_path = '' as $$
declare
  v_moved integer := dispatch.publish_wal_counts(true);
begin
  if v_moved > 0 then
    perform dispatch.flush_counters();
  end if;
  return v_moved;
end
$$;

-- ==== sql/core/068_wal_slot.sql ====
-- Counts from the WAL, the slot's life (066_counts_from_wal.sql has the why and the switch): created
-- by dispatch.tick() when a table waits for it, recreated when lost (the tables it counted recounted),
-- dropped when nothing counts from it; live tables that lost their replica identity switched back.

-- Whether dispatch.tick() has slot work to do: a table to switch, a lost slot, or a slot nobody needs.
create or replace function dispatch.wal_counts_setup_due() returns boolean
language plpgsql stable security definer set search_path = '' as $$
declare
  v_healthy boolean := dispatch.wal_count_slot_healthy();
begin
  -- a live table that lost its replica identity: its DELETEs fail until it is switched back (needs
  -- no slot, so not held back by a failed slot creation)
  if exists (select from dispatch.wal_count_sources s
             where s.live and dispatch.source_regclass(s.source_table) is not null
               and not dispatch.wal_count_eligible(s.source_table)) then
    return true;
  end if;
  if exists (select from dispatch.wal_count_state st where st.last_error_at > now() - interval '10 minutes') then
    return false;
  end if;
  -- a table dropped since: its row goes (and with the last one, the slot)
  if exists (select from dispatch.wal_count_sources s where dispatch.source_regclass(s.source_table) is null) then
    return true;
  end if;
  if exists (select from dispatch.wal_count_sources s
             where s.wanted and not s.live and dispatch.wal_count_eligible(s.source_table)) then
    return dispatch.wal_counts_available();
  end if;
  if exists (select from dispatch.wal_count_sources s where s.live) then
    -- a lost slot, or a recount a busy table put off
    return not v_healthy or exists (select from dispatch.wal_count_sources s where s.live and s.needs_reconcile);
  end if;
  -- nobody counts from the slot: drop it once everything it decoded was published
  return not exists (select from dispatch.wal_count_sources s where s.wanted or s.live)
     and exists (select from pg_catalog.pg_replication_slots s where s.slot_name = dispatch.wal_count_slot());
end
$$;

-- Create the slot if needed and switch the tables that wait for it. Must be the first thing its
-- transaction does (Postgres creates a logical slot only in a transaction that has written nothing):
-- dispatch.tick() calls it first and, when it switched tables (switched > 0: their locks are held to
-- commit), returns right after. Waits at most 3 s for a lock (wal_counts_setup_alone).
-- done says what it did; null when nothing was due or the slot could not be created (a warning).
create or replace function dispatch.wal_counts_setup(out done text, out switched integer)
language plpgsql security definer set search_path = '' as $$
begin
  switched := 0;
  if not dispatch.wal_counts_setup_due() then
    return;
  end if;
  select s.done, s.switched into done, switched from dispatch.wal_counts_setup_alone() s;
end
$$;

-- wal_counts_setup's work, under the drains' and the publisher's locks. The slot waits for the
-- transactions in flight, a switch for the table's writers: 3 s at most each (lock_timeout, the
-- function's SET clause: the caller's own is back when it returns or raises, where tick goes on
-- draining after a call that switched nothing).
create or replace function dispatch.wal_counts_setup_alone(out done text, out switched integer)
language plpgsql security definer set search_path = '' set lock_timeout = '3s' as $$
declare
  v_slot text := dispatch.wal_count_slot();
  v_lsn pg_lsn;
  v_tried integer := 0;
  r record;
begin
  switched := 0;
  -- No drain and no publisher while this runs, taken before anything is written (in the order
  -- reconcile_counters takes them: drains, then the publisher). A recount below waits for the drains;
  -- a drain or a publisher that had to wait for a row this transaction wrote (wal_count_state) while
  -- holding its own lock would deadlock with it (seen in CI: a drain's publish on wal_count_state).
  begin
    perform dispatch.lock_drains();
    perform pg_advisory_xact_lock(hashtext('dispatch.publish_wal_counts'));
  exception when lock_not_available then
    return;  -- a drain ran over 3 s: next tick
  end;
  -- Live tables that lost their replica identity go back to their writers first, and alone (their
  -- locks are held to commit; a slot to create waits for the next tick)
  for r in select s.source_table from dispatch.wal_count_sources s
           where s.live and dispatch.source_regclass(s.source_table) is not null
             and not dispatch.wal_count_eligible(s.source_table)
           order by s.source_table loop
    v_tried := v_tried + 1;
    begin
      perform dispatch.wal_count_switch_back(r.source_table);
      raise warning 'dispatch: % is counted by its writers again: %', r.source_table,
        dispatch.wal_count_ineligible(r.source_table);
      switched := switched + 1;
    exception when lock_not_available then
      raise warning 'dispatch: % not switched back to its writers (its writers held it 3 s); next tick', r.source_table;
    end;
  end loop;
  if v_tried > 0 then
    done := format('%s of %s table(s) back to counting in the write', switched, v_tried);
    return;
  end if;
  -- Rows of tables dropped since are forgotten: now, unless a slot is to be created below (nothing may
  -- be written before it), then after it.
  if dispatch.wal_count_slot_healthy() or not exists (
       select from dispatch.wal_count_sources s
       where (s.wanted or s.live) and dispatch.source_regclass(s.source_table) is not null) then
    delete from dispatch.wal_count_sources s where dispatch.source_regclass(s.source_table) is null;
  end if;
  if not exists (select from dispatch.wal_count_sources s where s.wanted or s.live) then
    -- nothing counts from the WAL any more: drop the slot (it would hold WAL forever), once its
    -- decoded counts are published (a table switched back keeps its relid for that)
    if not exists (select from pg_catalog.pg_replication_slots s where s.slot_name = v_slot) then
      done := 'nothing counted from the WAL';
      return;
    end if;
    perform dispatch.publish_wal_counts(true);
    if exists (select from pg_catalog.pg_replication_slots s where s.slot_name = v_slot and not s.active) then
      perform pg_drop_replication_slot(v_slot);
    end if;
    update dispatch.wal_count_state set published_lsn = null, slot_created_at = null, last_error = null where id = 1;
    done := 'slot dropped';
    return;
  end if;
  if not dispatch.wal_counts_available() then
    return;
  end if;
  if not dispatch.wal_count_slot_healthy() then
    -- No write before the slot is created (Postgres refuses it in a transaction that has written).
    -- A lost slot: what it held is gone. The tables it counted are locked before the new slot starts,
    -- so no write of theirs commits between its start and their recount (LOCK assigns no transaction
    -- id), and recounted below.
    if exists (select from pg_catalog.pg_replication_slots s where s.slot_name = v_slot) then
      perform pg_drop_replication_slot(v_slot);
    end if;
    for r in select s.source_table from dispatch.wal_count_sources s
             where (s.live or s.needs_reconcile) and dispatch.source_regclass(s.source_table) is not null
             order by s.source_table loop
      execute format('lock table %s in share row exclusive mode', dispatch.source_regclass(r.source_table));
    end loop;
    begin
      select p.lsn into v_lsn from pg_create_logical_replication_slot(v_slot, 'pgoutput') p;
    exception when others then
      -- another transaction in flight for 3 s, every slot in use, or a write earlier in this
      -- transaction: tables not live stay counted by their writers; retried next tick
      update dispatch.wal_count_state set last_error = sqlerrm, last_error_at = now() where id = 1;
      raise warning 'dispatch: counts from the WAL: slot not created (%); the writers keep counting, next try in 10 minutes', sqlerrm;
      return;
    end;
    delete from dispatch.wal_count_sources s where dispatch.source_regclass(s.source_table) is null;
    update dispatch.wal_count_sources s set needs_reconcile = true where s.live;
    update dispatch.wal_count_state
    set published_lsn = v_lsn, published_at = now(), slot_created_at = now(), last_error = null, last_error_at = null where id = 1;
  end if;
  for r in select s.source_table, s.needs_reconcile from dispatch.wal_count_sources s
           where s.wanted and (not s.live or s.needs_reconcile) and dispatch.wal_count_eligible(s.source_table)
           order by s.source_table loop
    begin
      perform dispatch.wal_count_switch(r.source_table);
    exception when lock_not_available then
      -- writers held the table 3 s: it stays with them (needs_reconcile stays set), next tick
      raise warning 'dispatch: % not switched to counting from the WAL (its writers held it 3 s); next tick', r.source_table;
      continue;
    end;
    switched := switched + 1;
    -- recount what a lost slot held (the table is locked by the switch)
    perform dispatch.wal_count_recount(r.source_table);
  end loop;
  done := format('%s table(s) counted from the WAL', switched);
end
$$;

-- ==== sql/core/069_drain_low_mark.sql ====
-- Where the drains' scans of dispatch.changes start: the low mark.
--
-- Why: dispatch.changes is a queue. Every drained change leaves a dead row and a dead index entry
-- behind until VACUUM removes them, and VACUUM can remove only what no open snapshot may still see.
-- The drain's scans (its window and its claim, 065_changes.sql) walk the primary key from the
-- oldest id, so they walked every dead entry too: under 3,000 writes/s with an autovacuum of a large
-- outbox table holding the horizon, the window query went from 4 to 100 ms and the drain calls from
-- 40 to 200 ms (bench/RESULTS.md, "Session 8"). Any long transaction in the app (a report, a backup)
-- does the same. So the drains remember an id below which no change is waiting nor ever will be,
-- and start there.
--
-- Why the mark is safe: a change's id comes from the identity sequence (cache 1: ids are handed out
-- in time order) when its capturing statement inserts it, and that statement has written the app's
-- rows first (capture_changes runs AFTER them, for a statement that changed rows), so the
-- transaction's xid was assigned before the id. A drain reads the sequence (p_seen_id) before it
-- gets its own xid (its claim's row locks). So every transaction holding an id <= p_seen_id has an
-- xid below the drain's. When none of those is still running, every such change is committed and
-- visible, or will never exist; then the smallest waiting id up to p_seen_id is known, and nothing
-- below it can appear. The drain's own claimed changes come back if it rolls back, so the mark
-- never passes the first of them (the next drain moves it on). Changes kept with an error are
-- skipped by the drains anyway (replay_change takes them by id).
-- A sequence holds the mark: it is read without a snapshot and set without a row version, so the
-- mark itself leaves nothing dead behind (a row updated by every drain would, under that same
-- horizon). Being set outside the transaction is fine: each value set is a valid bound by itself.

create sequence if not exists dispatch.changes_low_id minvalue 0 start 0;

-- The mark: every change with a smaller id is processed, failed, or never existed.
create or replace function dispatch.changes_low_id() returns bigint
language plpgsql stable security definer set search_path = '' as $$
begin
  return coalesce(pg_catalog.pg_sequence_last_value('dispatch.changes_low_id'), 0);
end
$$;

-- Called by a drain that claimed changes, at its end. p_low: the mark it started from; p_seen_id: the
-- changes' id sequence as read before its xid was assigned; p_first_claimed: the smallest id it claimed.
-- Returns whether it moved the mark.
create or replace function dispatch.advance_changes_low_id(p_low bigint, p_seen_id bigint, p_first_claimed bigint)
returns boolean
language plpgsql security definer set search_path = '' as $$
declare
  v_xid xid8 := pg_catalog.pg_current_xact_id_if_assigned();
  v_first bigint;
  v_new bigint;
begin
  if v_xid is null or p_seen_id is null or p_first_claimed is null
     -- the checks below need a snapshot per statement: under REPEATABLE READ the transaction's one
     -- snapshot predates the drain's xid, and would miss transactions that began after it
     or current_setting('transaction_isolation') <> 'read committed'
     -- ids cached per session would be handed out out of time order (see above)
     or (select s.seqcache from pg_catalog.pg_sequence s where s.seqrelid = 'dispatch.changes_id_seq'::regclass) <> 1 then
    return false;
  end if;
  -- a transaction that may hold an id <= p_seen_id and has not ended: no safe bound yet
  if exists (select from pg_catalog.pg_snapshot_xip(pg_catalog.pg_current_snapshot()) as x where x < v_xid) then
    return false;
  end if;
  select min(ch.id) into v_first from dispatch.changes ch
  where ch.id >= p_low and ch.id <= p_seen_id and ch.error is null;
  v_new := least(coalesce(v_first, p_seen_id + 1), p_first_claimed);
  -- concurrent drains may both move it; a smaller value set last is still a valid bound
  if v_new > greatest(p_low, dispatch.changes_low_id()) then
    perform pg_catalog.setval('dispatch.changes_low_id', v_new);
    return true;
  end if;
  return false;
end
$$;

-- ==== sql/core/070_tick_prune.sql ====
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

-- ==== sql/core/080_rpc.sql ====
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

-- ==== sql/core/083_admin_receipts.sql ====
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

-- ==== sql/core/085_manual_trigger.sql ====
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

-- ==== sql/core/900_grants.sql ====
-- Privileges, RLS, realtime policies, pg_cron jobs. Last, so it covers everything above.

-- The plugin's own public functions (client RPCs for authenticated, worker RPCs for service_role): an
-- explicit list, so the install never touches an app's function that happens to be named
-- public.dispatch_* (a name pattern would grant it to authenticated and take it from service_role).
-- A function listed here that does not exist fails the install; sql/test/060_grants.sql checks that
-- every public.dispatch_* function of the core is listed.
create or replace function dispatch.rpc_functions() returns table (sig regprocedure, grantee text)
language sql stable set search_path = '' as $$
  values
    ('public.dispatch_initial_state()'::pg_catalog.regprocedure, 'authenticated'::text),
    ('public.dispatch_notifications(timestamptz, integer, uuid)', 'authenticated'),
    ('public.dispatch_mark_read(uuid[])', 'authenticated'),
    ('public.dispatch_is_admin()', 'authenticated'),
    ('public.dispatch_mark_all_read()', 'authenticated'),
    ('public.dispatch_preferences()', 'authenticated'),
    ('public.dispatch_set_preference(text, text, boolean, text)', 'authenticated'),
    ('public.dispatch_receipts(text, text, uuid, timestamptz, timestamptz, integer)', 'authenticated'),
    ('public.dispatch_occurrences(text, text, timestamptz, timestamptz, integer)', 'authenticated'),
    ('public.dispatch_replay(uuid)', 'authenticated'),
    ('public.dispatch_changes(text, integer)', 'authenticated'),
    ('public.dispatch_replay_change(bigint)', 'authenticated'),
    ('public.dispatch_failed_receipts(text, timestamptz, integer)', 'authenticated'),
    ('public.dispatch_requeue_receipts(uuid[], timestamptz)', 'authenticated'),
    ('public.dispatch_worker_claim(text, integer, integer, text[])', 'service_role'),
    ('public.dispatch_worker_set_content(uuid, bigint, jsonb, text[])', 'service_role'),
    ('public.dispatch_worker_complete(uuid, bigint, text, jsonb, integer, integer)', 'service_role'),
    ('public.dispatch_worker_retry(uuid, bigint, text, timestamptz, integer, integer)', 'service_role'),
    ('public.dispatch_worker_fail(uuid, bigint, text, integer, integer)', 'service_role'),
    ('public.dispatch_worker_store_content(jsonb)', 'service_role'),
    ('public.dispatch_worker_finish(jsonb)', 'service_role'),
    ('public.dispatch_worker_deliver_in_app(uuid, bigint)', 'service_role'),
    ('public.dispatch_worker_drain(integer)', 'service_role')
$$;

-- RLS and privileges of everything the core owns. Called by the install (below); idempotent.
create or replace function dispatch.apply_grants() returns void
language plpgsql set search_path = '' as $$
declare
  t record;
  f record;
begin
  -- RLS on every dispatch table. No client policies: clients use the public.dispatch_* RPCs; the
  -- owner (postgres) and service_role bypass RLS.
  for t in select c.relname from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
           where n.nspname = 'dispatch' and c.relkind in ('r', 'p') loop
    execute format('alter table dispatch.%I enable row level security', t.relname);
  end loop;

  revoke all on schema dispatch from public, anon;
  -- authenticated needs USAGE only to evaluate the realtime.messages policies (dispatch.can_read_topic).
  grant usage on schema dispatch to authenticated, service_role;

  revoke all on all tables in schema dispatch from public, anon, authenticated;
  revoke all on all sequences in schema dispatch from public, anon, authenticated;
  revoke all on all functions in schema dispatch from public, anon, authenticated;
  -- service_role reads every dispatch table (admin tools, the doctor) and writes only through the
  -- definer functions and the public.dispatch_worker_* RPCs: a direct write to, say,
  -- counters_def.reconcile_sql would run as postgres in reconcile_counters. For the same reason the
  -- registry functions that store SQL or function names are for the migration role (postgres) only.
  revoke all on all tables in schema dispatch from service_role;
  revoke all on all sequences in schema dispatch from service_role;
  -- a time the wake triggers of WAL-counted tables read in their WHEN clause as the writing role
  -- (055_poke.sql); pg_sequence_last_value needs SELECT on it, nothing else
  grant select on sequence dispatch.worker_wake_until_ms to public;
  grant select on all tables in schema dispatch to service_role;
  grant select on all sequences in schema dispatch to service_role;
  grant execute on all functions in schema dispatch to service_role;
  revoke execute on function dispatch.register_counter(text, text, text, text[], integer, text, text, text) from service_role;
  revoke execute on function dispatch.register_event(text, text, text, text, text, boolean, boolean, text[], text, jsonb)
    from service_role;
  revoke execute on function dispatch.register_source(text, text) from service_role;
  revoke execute on function dispatch.unregister_source(text) from service_role;
  -- DDL on app tables and replication slots (066_counts_from_wal.sql): the migration role and tick only
  revoke execute on function dispatch.count_from_wal(text, text[]) from service_role;
  revoke execute on function dispatch.wal_count_switch(text) from service_role;
  revoke execute on function dispatch.wal_count_switch_back(text) from service_role;
  revoke execute on function dispatch.wal_count_set_triggers(regclass, text) from service_role;
  revoke execute on function dispatch.wal_count_recount(text) from service_role;
  revoke execute on function dispatch.wal_count_unpublish(text) from service_role;
  -- its arguments are the drain's own readings: called with others, it would skip waiting changes
  revoke execute on function dispatch.advance_changes_low_id(bigint, bigint, bigint) from service_role;
  revoke execute on function dispatch.wal_count_release(text) from service_role;
  revoke execute on function dispatch.wal_counts_setup() from service_role;
  revoke execute on function dispatch.wal_counts_setup_alone() from service_role;
  revoke execute on function dispatch.publish_wal_counts(boolean) from service_role;
  revoke execute on function dispatch.publish_wal_counts_now() from service_role;
  grant execute on function dispatch.can_read_topic(text) to authenticated;

  -- Client RPCs: authenticated only; worker RPCs: service_role only.
  for f in select r.sig, r.grantee from dispatch.rpc_functions() r loop
    execute format('revoke all on function %s from public, anon, authenticated, service_role', f.sig);
    execute format('grant execute on function %s to %I', f.sig, f.grantee);
  end loop;
end
$$;

select dispatch.apply_grants();

-- At commit, and only when they differ (030_realtime.sql: the policy DDL locks Auth on hosted).
do $$
begin
  perform dispatch.install_realtime_policies_at_commit();
end
$$;

do $$
begin
  perform dispatch.schedule_jobs();
exception when others then
  raise warning 'supadispatch: pg_cron jobs not scheduled (%); run select dispatch.schedule_jobs()', sqlerrm;
end
$$;
