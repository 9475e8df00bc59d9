-- `realtime` schema: Broadcast from Database (facts §4, realtime.md §7-8). The Realtime service's
-- own objects (its publication, slot, subscription tables) live in 6xx files.
create schema if not exists realtime authorization supabase_admin;
grant usage on schema realtime to anon, authenticated, service_role;
grant usage on schema realtime to postgres with grant option;
revoke create on schema realtime from postgres;
-- USAGE only: the owner of the Realtime objects must not create objects in realtime here either.
grant usage on schema realtime to supabase_realtime_admin;
revoke create on schema realtime from supabase_realtime_admin;

create table if not exists realtime.messages (
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp not null default now(),
  inserted_at timestamp not null default now(),
  id uuid not null default gen_random_uuid(),
  binary_payload bytea,
  constraint messages_pkey primary key (id, inserted_at)
) partition by range (inserted_at);
create index if not exists messages_inserted_at_topic_index on realtime.messages (inserted_at desc, topic)
  where extension = 'broadcast' and private is true;
alter table realtime.messages owner to supabase_realtime_admin;
alter table realtime.messages enable row level security;
grant select, insert, update on realtime.messages to postgres, anon, authenticated, service_role;
revoke delete, truncate on realtime.messages from postgres, anon, authenticated, service_role;

-- Daily UTC partitions messages_YYYY_MM_DD, yesterday .. today+3; drop those older than 3 days
-- (what the Realtime service's janitor does; the stack repeats this periodically, see
-- local/src/db/partitions.ts). No DEFAULT partition, as on hosted. With
-- SUPADISPATCH_REALTIME_PARTITIONS=on-connect (setting supadispatch.realtime_partitions) none is
-- made here: the Realtime service makes them when a client connects, as hosted Realtime does.
do $$
declare
  today date := (now() at time zone 'utc')::date;
  d date;
  part record;
  name text;
begin
  for d in select generate_series(today - 1, today + 3, interval '1 day')::date loop
    exit when coalesce(current_setting('supadispatch.realtime_partitions', true), '') = 'on-connect';
    name := 'messages_' || to_char(d, 'YYYY_MM_DD');
    if to_regclass('realtime.' || name) is null then
      execute format(
        'create table realtime.%I partition of realtime.messages for values from (%L) to (%L)',
        name, d::timestamp, (d + 1)::timestamp);
      execute format('alter table realtime.%I owner to supabase_realtime_admin', name);
    end if;
  end loop;
  for part in
    select c.relname from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'realtime.messages'::regclass and c.relname ~ '^messages_\d{4}_\d{2}_\d{2}$'
  loop
    if to_date(substr(part.relname, 10), 'YYYY_MM_DD') < today - 3 then
      execute format('drop table realtime.%I', part.relname);
    end if;
  end loop;
end $$;

create or replace function realtime.topic() returns text
language sql stable
as $$
  select nullif(current_setting('realtime.topic', true), '')::text;
$$;

-- SECURITY INVOKER; every error becomes a WARNING and the caller's transaction goes on.
create or replace function realtime.send(payload jsonb, event text, topic text, private boolean default true)
returns void
language plpgsql
as $$
declare
  generated_id uuid;
  final_payload jsonb;
begin
  begin
    generated_id := gen_random_uuid();
    if payload ? 'id' then
      final_payload := payload;
    else
      final_payload := jsonb_set(payload, '{id}', to_jsonb(generated_id));
    end if;
    perform set_config('realtime.topic', topic, true);
    insert into realtime.messages (id, payload, event, topic, private, extension)
    values (generated_id, final_payload, event, topic, private, 'broadcast');
  exception
    when others then
      raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
  end;
end;
$$;

create or replace function realtime.send_binary(payload bytea, event text, topic text, private boolean default true)
returns void
language plpgsql
as $$
begin
  begin
    perform set_config('realtime.topic', topic, true);
    insert into realtime.messages (binary_payload, event, topic, private, extension)
    values (payload, event, topic, private, 'broadcast');
  exception
    when others then
      raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
  end;
end;
$$;

create or replace function realtime.broadcast_changes(
  topic_name text, event_name text, operation text, table_name text, table_schema text,
  new record, old record, level text default 'ROW'
) returns void
language plpgsql
as $$
declare
  row_data jsonb := '{}'::jsonb;
begin
  if level = 'STATEMENT' then
    raise exception 'function can only be triggered for each row, not for each statement';
  end if;
  if operation = 'INSERT' or operation = 'UPDATE' or operation = 'DELETE' then
    row_data := jsonb_build_object('old_record', old, 'record', new, 'operation', operation, 'table', table_name, 'schema', table_schema);
    perform realtime.send(row_data, event_name, topic_name);
  else
    raise exception 'Unexpected operation type: %', operation;
  end if;
exception
  when others then
    raise exception 'Failed to process the row: %', sqlerrm;
end;
$$;

alter function realtime.topic() owner to supabase_realtime_admin;
alter function realtime.send(jsonb, text, text, boolean) owner to supabase_realtime_admin;
alter function realtime.send_binary(bytea, text, text, boolean) owner to supabase_realtime_admin;
alter function realtime.broadcast_changes(text, text, text, text, text, record, record, text) owner to supabase_realtime_admin;
grant execute on all functions in schema realtime to postgres, anon, authenticated, service_role;
