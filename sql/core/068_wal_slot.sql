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
