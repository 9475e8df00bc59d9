-- Realtime glue: topics, broadcast helper, RLS on realtime.messages.
-- Broadcasts are sent from SECURITY DEFINER functions (owner postgres, BYPASSRLS), so realtime.send's
-- INSERT passes RLS; realtime.send swallows its own errors (a WARNING), so a broadcast never aborts
-- the transaction that sends it (a drain processing captured changes, or an app's write).

create or replace function dispatch.user_topic(p_user_id uuid) returns text
language sql immutable as $$ select 'dispatch:user:' || p_user_id::text $$;

create or replace function dispatch.audience_topic(p_audience text) returns text
language sql immutable as $$ select 'dispatch:audience:' || p_audience $$;

create or replace function dispatch.broadcast(p_topic text, p_event text, p_payload jsonb) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform realtime.send(p_payload, p_event, p_topic, true);
end
$$;

-- One broadcast per topic (bench/RESULTS.md, "Session 5"; docs/decisions.md, "One realtime message per
-- topic per batch"): the messages one call (a statement's notifications and counters) or one drain
-- produces for a topic go out as ONE `batch` broadcast, payload { messages: [{ event, payload }, ...] }
-- in the order they were produced, each inner message in its DESIGN.md shape (no `id` added inside:
-- the batch carries one). A topic with a single message keeps its plain event. A topic's batch is
-- cut into several so that none exceeds realtime_batch_max_bytes (hosted Realtime refuses a broadcast
-- payload over 256 KB on the Free plan, 3,000 KB on paid ones: supabase.com/docs/guides/realtime/limits).
-- realtime_batch_messages = false sends every message on its own, as before (apps with raw
-- realtime-js listeners on `notification` / `counter`).
insert into dispatch.settings (key, value, description) values
  ('realtime_batch_messages', 'true',
   'send the messages of a statement or a drain bound for one topic as one `batch` broadcast (false: one broadcast per message, for raw realtime-js listeners of notification/counter)'),
  ('realtime_batch_max_bytes', '200000',
   'largest `batch` broadcast payload in bytes (JSON text); hosted Realtime refuses payloads over 256 KB on the Free plan')
on conflict (key) do nothing;

drop function if exists dispatch.merge_broadcasts(text[], text[], jsonb[], integer[], integer);
drop function if exists dispatch.send_messages(text[], text[], jsonb[], integer[], boolean);

-- Merge messages per topic (payloads as JSON text: a batch is built as text and parsed once, where
-- jsonb_agg would take every payload apart and put it together again): one `batch` per topic, cut so
-- that no batch's payload exceeds p_max_bytes. A message's size: its payload's text, its event and
-- ~30 bytes of wrapping. Per topic, the order produced; topics in bytewise order. A batch's payload
-- gets its `id` here (the messages inside get none).
create or replace function dispatch.merge_broadcasts(p_topics text[], p_events text[], p_payloads text[],
  p_max_bytes integer, out topics text[], out events text[], out payloads jsonb[])
language plpgsql volatile security definer set search_path = '' set work_mem = '64MB' set enable_hashagg = off as $$
declare
  v_half bigint := greatest(coalesce(p_max_bytes, 200000) - 70, 2) / 2;
  v_over boolean;
begin
  -- One sort of the messages by (topic, order produced), bytewise (collate "C": a locale's comparison
  -- costs more than the rest), in memory (work_mem: an event to 10,000 recipients merges 20,000
  -- messages); then one pass groups each topic (GroupAggregate over the sorted rows, so the aggregates
  -- see them in order with no ORDER BY of their own, which in PostgreSQL 15 would sort each topic
  -- again; a hash aggregate of 10,000 topics' texts spills to disk) and the output keeps that order.
  select array_agg(g.topic), array_agg(case when g.n = 1 then g.event else 'batch' end),
         array_agg((case when g.n = 1 then g.payload
                         else '{"id":"' || gen_random_uuid()::text || '","messages":[' || g.inner_text || ']}' end)::jsonb),
         bool_or(g.size > 2 * v_half)
    into topics, events, payloads, v_over
  from (select m.topic, count(*) as n, sum(m.size) as size, min(m.event) as event,
               string_agg(m.payload, '') as payload,  -- the payload, when it is the topic's only one
               string_agg('{"event":' || m.ev || ',"payload":' || m.payload || '}', ',') as inner_text
        from (select t.topic collate "C" as topic, t.o, t.event collate "C" as event, t.payload,
                     case when t.event in ('notification', 'counter', 'notifications_read') then '"' || t.event || '"'
                          else to_json(t.event)::text end as ev,
                     octet_length(t.payload) + octet_length(t.event) + 30 as size
              from unnest(p_topics, p_events, p_payloads) with ordinality as t(topic, event, payload, o)
              where t.topic is not null and t.payload is not null
              order by 1, t.o) m
        group by m.topic) g;
  if not coalesce(v_over, false) then
    return;
  end if;
  -- A topic over the cap (rare: a large fan-in to one user in one drain): cut every topic by where
  -- each message starts in its topic's running total, in buckets of half the cap (less the batch's
  -- own wrapping): a bucket holds messages that start within half a cap, each at most half a cap, so
  -- it stays under the cap; a message over half a cap goes alone (a batch of one is its plain event).
  select array_agg(g.topic), array_agg(case when g.n = 1 then g.event else 'batch' end),
         array_agg((case when g.n = 1 then g.payload
                         else '{"id":"' || gen_random_uuid()::text || '","messages":[' || g.inner_text || ']}' end)::jsonb)
    into topics, events, payloads
  from (select w.topic, min(w.o) as o, count(*) as n, min(w.event) as event, string_agg(w.payload, '') as payload,
               string_agg('{"event":' || w.ev || ',"payload":' || w.payload || '}', ',' order by w.o) as inner_text
        from (select m.*, sum(m.size) over (partition by m.topic order by m.o rows unbounded preceding) - m.size as start
              from (select t.topic collate "C" as topic, t.o, t.event collate "C" as event, t.payload,
                           to_json(t.event)::text as ev, octet_length(t.payload) + octet_length(t.event) + 30 as size
                    from unnest(p_topics, p_events, p_payloads) with ordinality as t(topic, event, payload, o)
                    where t.topic is not null and t.payload is not null) m
             ) w
        group by w.topic, w.start / v_half, case when w.size > v_half then w.o else 0 end
        order by 1, 2) g;
end
$$;

-- Is this insert error "no partition of realtime.messages for now()"? Then (see insert_messages) the
-- messages are dropped, with one WARNING per transaction.
create or replace function dispatch.no_partition(p_sqlstate text, p_message text) returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  if p_sqlstate <> '23514' or p_message not like 'no partition of relation%' then
    return false;
  end if;
  if coalesce(current_setting('dispatch.no_partition_warned', true), '') = '' then
    perform set_config('dispatch.no_partition_warned', 'on', true);
    raise warning 'supadispatch: realtime.messages has no partition for %; broadcasts dropped (no Realtime client has connected to this project recently: Realtime creates the partitions when one connects)',
      (now() at time zone 'utc')::date;
  end if;
  return true;
end
$$;

-- Broadcasts, one or many at once: one INSERT into realtime.messages -- the same rows realtime.send
-- writes (extension broadcast, private, an `id` added to payloads without one) -- inside one
-- exception block, so a statement costs one subtransaction however many messages it sends, and no
-- realtime.send call per message. If the insert fails (say, a changed table), each message goes
-- through realtime.send, which turns errors into warnings: a broadcast never aborts the transaction
-- that sends it.
-- Except when there is no partition for now(): hosted Realtime creates the daily partitions only for
-- tenants with a connected client (RT tenants/connect.ex, janitor.ex), so an idle project has none
-- for today, and realtime.send would fail the same way for each message. Then nobody is listening
-- anyway: the messages are dropped with one WARNING per transaction, no per-message fallback.
create or replace function dispatch.insert_messages(p_topics text[], p_events text[], p_payloads jsonb[]) returns void
language plpgsql security definer set search_path = '' as $$
declare
  i integer;
begin
  if p_topics is null or cardinality(p_topics) = 0 then
    return;
  end if;
  begin
    -- row ids time-ordered (000_schema.sql, uuid_v7): realtime.messages' primary key is (id, inserted_at)
    -- in a partition that takes a whole day's broadcasts
    insert into realtime.messages (id, topic, extension, event, payload, private)
    select dispatch.uuid_v7(), t.topic, 'broadcast', t.event,
           case when t.payload ? 'id' then t.payload else t.payload || jsonb_build_object('id', gen_random_uuid()) end, true
    from unnest(p_topics, p_events, p_payloads) as t(topic, event, payload);
  exception when others then
    if dispatch.no_partition(sqlstate, sqlerrm) then
      return;
    end if;
    for i in 1 .. cardinality(p_topics) loop
      perform realtime.send(p_payloads[i], p_events[i], p_topics[i], true);
    end loop;
  end;
end
$$;

-- Messages (payloads as JSON text) merged per topic and inserted. In one statement: the rows grouped
-- per topic go straight into realtime.messages (no arrays of batches built, unnested and copied again
-- in between: at 10,000 topics that round trip cost as much as the insert), unless a topic's batch is
-- over realtime_batch_max_bytes; then nothing is inserted by it and merge_broadcasts cuts the batches
-- (rare: a large fan-in to one user in one statement or drain). The grouping is merge_broadcasts'
-- first pass: one sort by (topic, order produced), bytewise; topics inserted in that order. One
-- exception block, as insert_messages: a failed insert never aborts the caller.
create or replace function dispatch.send_merged(p_topics text[], p_events text[], p_payloads text[]) returns void
language plpgsql security definer set search_path = '' set work_mem = '64MB' set enable_hashagg = off as $$
declare
  v_max integer := dispatch.setting_int('realtime_batch_max_bytes', 200000)::integer;
  v_half bigint := greatest(coalesce(v_max, 200000) - 70, 2) / 2;
  v_over boolean;
  v_cut record;
  i integer;
begin
  if p_topics is null or cardinality(p_topics) = 0 then
    return;
  end if;
  begin
    with g as materialized (
      select m.topic, count(*) as n, sum(m.size) as size, min(m.event) as event,
             string_agg('{"event":' || m.ev || ',"payload":' || m.payload || '}', ',') as inner_text
      from (select t.topic collate "C" as topic, t.o, t.event collate "C" as event, t.payload,
                   case when t.event in ('notification', 'counter', 'notifications_read') then '"' || t.event || '"'
                        else to_json(t.event)::text end as ev,
                   octet_length(t.payload) + octet_length(t.event) + 30 as size
            from unnest(p_topics, p_events, p_payloads) with ordinality as t(topic, event, payload, o)
            where t.topic is not null and t.payload is not null
            order by 1, t.o) m
      group by m.topic
    ), over as (
      select coalesce(bool_or(g.size > 2 * v_half), false) as v from g
    ), ins as (
      -- row ids time-ordered, as insert_messages
      insert into realtime.messages (id, topic, extension, event, payload, private)
      select dispatch.uuid_v7(), g.topic, 'broadcast', case when g.n = 1 then g.event else 'batch' end,
             case when g.n > 1 then ('{"id":"' || gen_random_uuid()::text || '","messages":[' || g.inner_text || ']}')::jsonb
                  when p.one ? 'id' then p.one
                  else p.one || jsonb_build_object('id', gen_random_uuid()) end,
             true
      from g
      -- a topic's only message: its payload, plain (parsed from its wrapping; batches are parsed whole)
      cross join lateral (select case when g.n = 1 then g.inner_text::jsonb -> 'payload' end as one) p
      where not (select over.v from over)
    )
    select over.v into v_over from over;
  exception when others then
    if dispatch.no_partition(sqlstate, sqlerrm) then
      return;
    end if;
    -- as insert_messages: each broadcast through realtime.send, which turns errors into warnings
    v_cut := dispatch.merge_broadcasts(p_topics, p_events, p_payloads, v_max);
    for i in 1 .. coalesce(cardinality(v_cut.topics), 0) loop
      perform realtime.send(v_cut.payloads[i], v_cut.events[i], v_cut.topics[i], true);
    end loop;
    return;
  end;
  if v_over then
    v_cut := dispatch.merge_broadcasts(p_topics, p_events, p_payloads, v_max);
    perform dispatch.insert_messages(v_cut.topics, v_cut.events, v_cut.payloads);
  end if;
end
$$;

-- Whether messages for one topic are merged (setting realtime_batch_messages, default on).
create or replace function dispatch.batch_messages_on() returns boolean
language plpgsql stable security definer set search_path = '' as $$
begin
  return dispatch.setting_bool('realtime_batch_messages', true);
end
$$;

-- What the core calls to broadcast. Outside a drain: merged per topic within the call (one call per
-- statement: a statement's notifications and the unread counter's new values). During a drain
-- (dispatch.broadcast_defer = 'on', set by dispatch.drain / replay_change): appended to the
-- transaction's buffer, sent merged by dispatch.flush_broadcasts() at the drain's end. The buffer is
-- a GUC (set_config local: a failed batch's subtransaction takes its messages back with its rows),
-- text: topic US event US payload-JSON, messages separated by RS (ASCII 0x1f / 0x1e, which JSON text
-- never holds unescaped; stripped from topics and events). One append per call (a statement), not
-- per message.
create or replace function dispatch.send_batch(p_topics text[], p_events text[], p_payloads jsonb[]) returns void
language plpgsql security definer set search_path = '' as $$
begin
  if p_topics is null or cardinality(p_topics) = 0 then
    return;
  end if;
  if current_setting('dispatch.broadcast_defer', true) = 'on'
     or (cardinality(p_topics) > 1 and dispatch.batch_messages_on()) then
    perform dispatch.send_batch_text(p_topics, p_events, array(select p::text from unnest(p_payloads) as p));
  else
    perform dispatch.insert_messages(p_topics, p_events, p_payloads);
  end if;
end
$$;

-- send_batch with payloads already as JSON text (notifications_after_insert builds them so: merging
-- works on text, and a payload built as jsonb would be turned into text once more for it).
create or replace function dispatch.send_batch_text(p_topics text[], p_events text[], p_payloads text[]) returns void
language plpgsql security definer set search_path = '' as $$
begin
  if p_topics is null or cardinality(p_topics) = 0 then
    return;
  end if;
  if current_setting('dispatch.broadcast_defer', true) = 'on' then
    perform set_config('dispatch.broadcast_buffer',
      concat_ws(E'\x1e', nullif(current_setting('dispatch.broadcast_buffer', true), ''),
                (select string_agg(translate(t.topic, E'\x1e\x1f', '') || E'\x1f' || translate(t.event, E'\x1e\x1f', '')
                                   || E'\x1f' || t.payload, E'\x1e' order by t.o)
                 from unnest(p_topics, p_events, p_payloads) with ordinality as t(topic, event, payload, o)
                 where t.topic is not null and t.payload is not null)),
      true);
  elsif cardinality(p_topics) > 1 and dispatch.batch_messages_on() then
    perform dispatch.send_merged(p_topics, p_events, p_payloads);
  else
    perform dispatch.insert_messages(p_topics, p_events, array(select p::jsonb from unnest(p_payloads) as p));
  end if;
end
$$;

-- Start buffering this transaction's broadcasts (dispatch.drain, replay_change). Returns false when
-- they are buffered already (an enclosing caller flushes) or merging is off (nothing to buffer for).
create or replace function dispatch.defer_broadcasts() returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  if current_setting('dispatch.broadcast_defer', true) = 'on' or not dispatch.batch_messages_on() then
    return false;
  end if;
  perform set_config('dispatch.broadcast_defer', 'on', true);
  return true;
end
$$;

-- Stop buffering and send what the buffer holds, merged per topic.
create or replace function dispatch.flush_broadcasts() returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_buffer text := current_setting('dispatch.broadcast_buffer', true);
  v_topics text[];
  v_events text[];
  v_payloads text[];
begin
  perform set_config('dispatch.broadcast_defer', '', true);
  if coalesce(v_buffer, '') = '' then
    return;
  end if;
  perform set_config('dispatch.broadcast_buffer', '', true);
  select array_agg(split_part(x.m, E'\x1f', 1) order by x.o), array_agg(split_part(x.m, E'\x1f', 2) order by x.o),
         array_agg(split_part(x.m, E'\x1f', 3) order by x.o)
    into v_topics, v_events, v_payloads
  from string_to_table(v_buffer, E'\x1e') with ordinality as x(m, o);
  perform dispatch.send_merged(v_topics, v_events, v_payloads);
end
$$;

-- May the signed-in user (auth.uid()) read a dispatch topic?
create or replace function dispatch.can_read_topic(p_topic text) returns boolean
language plpgsql stable security definer set search_path = '' as $$
declare
  uid uuid := dispatch.current_user_id();
begin
  if uid is null or p_topic is null then
    return false;
  end if;
  if p_topic = 'dispatch:user:' || uid::text then
    return true;
  end if;
  if p_topic like 'dispatch:audience:%' then
    return dispatch.is_audience_member(uid, substr(p_topic, length('dispatch:audience:') + 1));
  end if;
  return false;
end
$$;

-- Policies on realtime.messages:
--   dispatch_read       (permissive, SELECT, authenticated): own user topic and member audience topics.
--   dispatch_read_guard (restrictive, SELECT, authenticated): no other policy of the project can open
--                        dispatch:* topics to a signed-in user beyond dispatch_read's.
--   dispatch_read_guard_public (restrictive, SELECT, public): every other role (anon, a custom JWT role
--                        of a third-party auth, ...) reads no dispatch:* topic, whatever the app's policies.
--                        Its expression names only pg_catalog, so roles without USAGE on dispatch can
--                        evaluate it; members of authenticated are left to dispatch_read_guard.
--   dispatch_send_guard (restrictive, INSERT, public): nobody but the database (owner postgres,
--                        BYPASSRLS) sends on dispatch:* topics.
create or replace function dispatch.realtime_policy_defs()
returns table (name text, permissive boolean, cmd text, role_name text, using_expr text, check_expr text)
language sql immutable set search_path = '' as $$
  values
    ('dispatch_read', true, 'select', 'authenticated',
     $e$extension = 'broadcast' and topic like 'dispatch:%' and dispatch.can_read_topic(topic)$e$, null::text),
    ('dispatch_read_guard', false, 'select', 'authenticated',
     $e$topic not like 'dispatch:%' or dispatch.can_read_topic(topic)$e$, null),
    ('dispatch_read_guard_public', false, 'select', 'public',
     $e$topic not like 'dispatch:%' or pg_catalog.pg_has_role('authenticated', 'member')$e$, null),
    ('dispatch_send_guard', false, 'insert', 'public', null, $e$topic not like 'dispatch:%'$e$)
$$;

create or replace function dispatch.realtime_policy_sql(p_table text, p_name text, p_permissive boolean, p_cmd text,
  p_role text, p_using text, p_check text) returns text
language sql immutable set search_path = '' as $$
  select format('create policy %I on %s as %s for %s to %s', p_name, p_table,
                case when p_permissive then 'permissive' else 'restrictive' end, p_cmd, p_role)
         || coalesce(' using (' || p_using || ')', '') || coalesce(' with check (' || p_check || ')', '')
$$;

-- Do the policies on realtime.messages already say what realtime_policy_defs() says? Compared with
-- the same policies on a temporary table of the same columns (the server deparses both alike, on
-- any version); no lock on realtime.messages or auth.
create or replace function dispatch.realtime_policies_match() returns boolean
language plpgsql set search_path = '' as $$
declare
  d record;
  -- One probe table per role: a temporary table can only be dropped by its owner, and the install,
  -- a test or tick may call this as different roles in one transaction.
  v_probe text := 'pg_temp.' || quote_ident('dispatch_policy_probe_' || current_user::regrole::oid::text);
  v_match boolean;
begin
  if to_regclass('realtime.messages') is null then
    return false;
  end if;
  if exists (select from pg_catalog.pg_policy where polrelid = 'realtime.messages'::regclass
             and polname = 'dispatch_read_guard_anon') then  -- 0.1.0's, replaced by _public
    return false;
  end if;
  if to_regclass(v_probe) is not null then
    execute 'drop table ' || v_probe;
  end if;
  execute 'create temporary table ' || v_probe || ' (topic text, extension text) on commit drop';
  for d in select * from dispatch.realtime_policy_defs() loop
    execute dispatch.realtime_policy_sql(v_probe, d.name, d.permissive, d.cmd, d.role_name, d.using_expr, d.check_expr);
  end loop;
  select not exists (
    select from dispatch.realtime_policy_defs() def
    join pg_catalog.pg_policy t on t.polrelid = to_regclass(v_probe) and t.polname = def.name
    left join pg_catalog.pg_policy r on r.polrelid = 'realtime.messages'::regclass and r.polname = def.name
    where r.oid is null
       or r.polpermissive <> t.polpermissive or r.polcmd <> t.polcmd or r.polroles <> t.polroles
       or pg_catalog.pg_get_expr(r.polqual, r.polrelid) is distinct from pg_catalog.pg_get_expr(t.polqual, t.polrelid)
       or pg_catalog.pg_get_expr(r.polwithcheck, r.polrelid) is distinct from pg_catalog.pg_get_expr(t.polwithcheck, t.polrelid))
  into v_match;
  execute 'drop table ' || v_probe;
  return v_match;
end
$$;

-- Creates (or re-creates) the policies when they differ from realtime_policy_defs(); when they match,
-- it does no DDL at all. Policy DDL on realtime.messages takes, through supautils' policy grants,
-- ACCESS EXCLUSIVE on auth.audit_log_entries, identities, refresh_tokens, sessions, users and
-- realtime.messages until commit (sign-ins, token refreshes and channel joins wait): so it waits at
-- most `realtime_policy_lock_timeout` (setting, default 3s) for those locks, and gives up with a
-- WARNING rather than queueing every sign-in behind it; dispatch.tick() tries again.
-- Creating policies on realtime.messages needs supautils' policy grant (hosted; emulated by the local
-- stack) or the table owner; without either this returns false with a WARNING instead of failing the
-- install, and can be re-run by a privileged role: select dispatch.install_realtime_policies();
create or replace function dispatch.install_realtime_policies() returns boolean
language plpgsql set search_path = '' as $$
declare
  d record;
  v_lock_timeout text := current_setting('lock_timeout');
begin
  if to_regclass('realtime.messages') is null then
    raise warning 'supadispatch: realtime.messages does not exist; realtime policies not installed';
    return false;
  end if;
  if dispatch.realtime_policies_match() then
    delete from dispatch.settings where key = 'realtime_policies_pending';
    return true;
  end if;
  perform set_config('lock_timeout',
    coalesce(dispatch.setting('realtime_policy_lock_timeout') #>> '{}', '3s'), true);
  begin
    execute 'drop policy if exists dispatch_read_guard_anon on realtime.messages';  -- 0.1.0, replaced by _public
    for d in select * from dispatch.realtime_policy_defs() loop
      execute format('drop policy if exists %I on realtime.messages', d.name);
      execute dispatch.realtime_policy_sql('realtime.messages', d.name, d.permissive, d.cmd, d.role_name,
                                           d.using_expr, d.check_expr);
    end loop;
  exception
    when insufficient_privilege then
      perform set_config('lock_timeout', v_lock_timeout, true);
      raise warning 'supadispatch: realtime policies not installed (%): run select dispatch.install_realtime_policies() as the owner of realtime.messages', sqlerrm;
      return false;
    when lock_not_available or deadlock_detected then
      perform set_config('lock_timeout', v_lock_timeout, true);
      perform dispatch.set_setting('realtime_policies_pending', 'true');
      raise warning 'supadispatch: realtime policies not installed: % (Auth or Realtime held the locks); dispatch.tick() retries, or run select dispatch.install_realtime_policies()', sqlerrm;
      return false;
  end;
  perform set_config('lock_timeout', v_lock_timeout, true);
  delete from dispatch.settings where key = 'realtime_policies_pending';
  return true;
end
$$;

-- The install's policy step runs at COMMIT, not where the install runs: a migration that installs
-- the core then registers counters would otherwise hold the auth locks of the policy DDL through
-- reconcile_counters and drain (sign-ins stalled for the whole migration; an app write with a foreign
-- key to auth.users deadlocking against it). A deferred constraint trigger on this table runs after
-- every statement of the transaction, just before commit; the row is gone when it commits.
create table if not exists dispatch.deferred_installs (
  task text primary key check (task in ('realtime_policies'))
);

create or replace function dispatch.run_deferred_install() returns trigger
language plpgsql set search_path = '' as $$
begin
  delete from dispatch.deferred_installs where task = new.task;
  if new.task = 'realtime_policies' then
    perform dispatch.install_realtime_policies();
  end if;
  return null;
end
$$;

drop trigger if exists deferred_installs_run on dispatch.deferred_installs;
create constraint trigger deferred_installs_run after insert on dispatch.deferred_installs
  deferrable initially deferred for each row execute function dispatch.run_deferred_install();

-- Called by the install: nothing when the policies match (the usual re-install takes no lock on
-- auth or realtime), else the policy step at commit.
create or replace function dispatch.install_realtime_policies_at_commit() returns boolean
language plpgsql set search_path = '' as $$
begin
  if to_regclass('realtime.messages') is null or dispatch.realtime_policies_match() then
    return false;
  end if;
  insert into dispatch.deferred_installs (task) values ('realtime_policies') on conflict do nothing;
  return true;
end
$$;
