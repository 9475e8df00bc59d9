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
