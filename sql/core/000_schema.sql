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
