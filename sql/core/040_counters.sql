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
