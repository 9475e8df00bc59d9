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
