-- Broadcast from Database delivery for the local Realtime stand-in (local/src/realtime/db-broadcast.ts).
--
-- Hosted Realtime reads realtime.messages INSERTs from a logical replication stream. Locally an
-- AFTER INSERT trigger does pg_notify instead, because NOTIFY has exactly the guarantees the
-- feature needs and costs ~1 ms: notifications are delivered only when the inserting transaction
-- commits (never for rolled-back or rolled-back-to-savepoint work), and a listener receives the
-- notifications of different transactions in commit order. Row ids make every payload unique, so
-- NOTIFY's same-transaction de-duplication never merges two messages. Like the hosted stream,
-- rows inserted while nobody listens (the stack's Realtime is down) are not delivered later.
--
-- Payloads up to ~7.9 kB travel inline; larger rows send only their key and the listener reads
-- the row (committed, hence visible) before delivering it, keeping the order.
-- The function lives in `realtime` (a Supabase-managed schema that db diff/dump leave alone).
create or replace function realtime.supadispatch_local_broadcast_notify()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  message text;
begin
  if new.extension is distinct from 'broadcast' then
    return null;
  end if;
  message := json_build_object(
    'id', new.id, 'topic', new.topic, 'event', new.event, 'private', coalesce(new.private, false),
    'payload', new.payload, 'binary', new.binary_payload is not null and new.payload is null
  )::text;
  if octet_length(message) > 7900 or (new.binary_payload is not null and new.payload is null) then
    message := json_build_object('id', new.id, 'inserted_at', new.inserted_at, 'fetch', true)::text;
  end if;
  perform pg_notify('supadispatch_realtime_broadcast', message);
  return null;
end;
$$;
alter function realtime.supadispatch_local_broadcast_notify() owner to supabase_admin;
revoke all on function realtime.supadispatch_local_broadcast_notify() from public;

do $$ begin
  if not exists (
    select from pg_trigger
    where tgrelid = 'realtime.messages'::regclass and tgname = 'supadispatch_local_broadcast_notify'
  ) then
    create trigger supadispatch_local_broadcast_notify
      after insert on realtime.messages
      for each row execute function realtime.supadispatch_local_broadcast_notify();
  end if;
end $$;
