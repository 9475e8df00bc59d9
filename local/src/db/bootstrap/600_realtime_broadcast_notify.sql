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
--
-- One statement-level trigger (transition table) rather than one plpgsql call per row: a bulk
-- INSERT of 10,000 broadcasts cost ~0.5 s in per-row trigger calls. The rows are notified in the
-- order the statement inserted them (a scan of the transition table), statements in their order, so
-- what a listener receives is the same as before.
create or replace function realtime.supadispatch_local_broadcast_notify()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform pg_notify('supadispatch_realtime_broadcast',
    case when m.fetch then json_build_object('id', m.id, 'inserted_at', m.inserted_at, 'fetch', true)::text
         else m.message end)
  from (
    select n.id, n.inserted_at, msg.message,
           octet_length(msg.message) > 7900 or (n.binary_payload is not null and n.payload is null) as fetch
    from new_rows n
    cross join lateral (select json_build_object(
      'id', n.id, 'topic', n.topic, 'event', n.event, 'private', coalesce(n.private, false),
      'payload', n.payload, 'binary', n.binary_payload is not null and n.payload is null)::text as message) msg
    where n.extension = 'broadcast'
  ) m;
  return null;
end;
$$;
alter function realtime.supadispatch_local_broadcast_notify() owner to supabase_admin;
revoke all on function realtime.supadispatch_local_broadcast_notify() from public;

do $$ begin
  -- replace the per-row trigger of earlier versions
  if exists (
    select from pg_trigger
    where tgrelid = 'realtime.messages'::regclass and tgname = 'supadispatch_local_broadcast_notify'
      and (tgtype & 1) = 1 -- TRIGGER_TYPE_ROW
  ) then
    drop trigger supadispatch_local_broadcast_notify on realtime.messages;
  end if;
  if not exists (
    select from pg_trigger
    where tgrelid = 'realtime.messages'::regclass and tgname = 'supadispatch_local_broadcast_notify'
  ) then
    create trigger supadispatch_local_broadcast_notify
      after insert on realtime.messages
      referencing new table as new_rows
      for each statement execute function realtime.supadispatch_local_broadcast_notify();
  end if;
end $$;
