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
