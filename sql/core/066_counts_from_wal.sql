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
