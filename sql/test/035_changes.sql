-- supadispatch core: change capture and processing after commit (sql/core/065_changes.sql) with a
-- hand-written example of generated code (fixtures/changes_example.sql): one dispatch.changes row per
-- statement, drain in batches (consecutive changes of one table, up to drain_batch_rows rows, one
-- processor call per batch; order, exactly once, limits, failures kept change by change, transient
-- failures, replay, missing processor), process_changes / drain_batch / is_transient_error /
-- source_regclass, register/unregister_source (mixed-case tables), each change's actor and capture
-- time on the events fired, the debounced worker poke at commit (and skipping a worker_wake row
-- another session holds), reconcile and tick draining first, privileges.
-- "Commit" is simulated inside the one test transaction: `set constraints dispatch.changes_committing
-- immediate` fires the deferred trigger the way COMMIT would; resetting the GUC dispatch.poked starts
-- a new "transaction" for the once-per-transaction poke.
begin;
create extension if not exists pgtap;
select plan(165);

-- This transaction holds the drain lock: a concurrent dispatch.tick() (pg_cron) or worker cannot make
-- our drain() return 0; drain's own pg_try_advisory_xact_lock succeeds again in this transaction.
select pg_advisory_xact_lock(hashtext('dispatch.drain'));

---------------------------------------------------------------------------------------------------
-- poke: a transaction whose poke finds the worker_wake row held by another transaction (a drain
-- that poked, not committed yet) skips instead of waiting: an app's commit never waits for a drain.
-- That needs a second session: dblink back into this database over the server's unix socket, as this
-- superuser (the local stack trusts local socket connections). It runs first: the control before
-- this transaction touches worker_wake, then this transaction locks the row (and keeps it to its
-- end). The other session pokes in its own transactions, rolled back, with lock_timeout 5 s, so a
-- poke that waited would fail (lock timeout) instead of hanging. Skipped where dblink cannot connect
-- (e.g. no trusted local socket); the held case is skipped if the committed row is not due (a real
-- poke in the last poke_interval_ms).
create temp table other_session (ok boolean not null, why text);
do $$
begin
  create extension if not exists dblink;
  perform dblink_connect('sdc_other', format('host=%s port=%s dbname=%s user=%s',
    split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'), current_database(), current_user));
  insert into pg_temp.other_session values (true, null);
exception when others then
  insert into pg_temp.other_session values (false, sqlerrm);
end $$;
-- run a statement / a query (its rows as a jsonb array, or {"error": ...}) in the other session
create function pg_temp.other_exec(q text) returns void language plpgsql as $$
begin
  if (select ok from pg_temp.other_session) then
    execute format('select dblink_exec(%L, %L)', 'sdc_other', q);
  end if;
end $$;
create function pg_temp.other(q text) returns jsonb language plpgsql as $$
declare
  r jsonb;
begin
  if not (select ok from pg_temp.other_session) then
    return null;
  end if;
  execute format('select coalesce(jsonb_agg(t.j::jsonb), ''[]'') from dblink(%L, %L) as t(j text)', 'sdc_other',
                 'select to_jsonb(x)::text from (' || q || ') x') into r;
  return r;
exception when others then
  return jsonb_build_object('error', sqlerrm);
end $$;
-- the other session's transaction, with a worker URL in Vault
create function pg_temp.other_poke_setup() returns void language plpgsql as $$
begin
  perform pg_temp.other_exec('begin');
  perform pg_temp.other_exec($q$set local lock_timeout = '5s'$q$);
  perform pg_temp.other_exec($q$delete from vault.secrets where name in ('dispatch_worker_url', 'dispatch_worker_secret')$q$);
  perform pg_temp.other($q$select vault.create_secret('http://127.0.0.1:9/functions/v1/dispatch-worker', 'dispatch_worker_url') as id$q$);
end $$;
create temp table other_results (step text primary key, r jsonb);

-- control: in the other session, the row free and due: it pokes
select pg_temp.other_poke_setup();
select pg_temp.other_exec($q$update dispatch.worker_wake set poked_at = 'epoch', next_poke_at = 'epoch'$q$);
insert into other_results select 'free', pg_temp.other($q$select dispatch.poke_worker('test') as poked$q$)
  || pg_temp.other($q$select w.poked_at > 'epoch' as stamped from dispatch.worker_wake w$q$);
select pg_temp.other_exec('rollback');
-- this session holds the row (as a drain that poked does until it commits): the other one skips it
select 1 from dispatch.worker_wake for update;
select pg_temp.other_poke_setup();
insert into other_results select 'held', pg_temp.other($q$select (select w.next_poke_at <= clock_timestamp() from dispatch.worker_wake w) as due,
  dispatch.poke_worker('test') as poked$q$);
select pg_temp.other_exec('rollback');
do $$ begin if (select ok from pg_temp.other_session) then perform dblink_disconnect('sdc_other'); end if; end $$;

select case when (select ok from other_session)
  then is((select r from other_results where step = 'free'), '[{"poked": true}, {"stamped": true}]'::jsonb,
          'another session, the worker_wake row free and due: it pokes (control)')
  else skip('no second session (dblink): ' || (select why from other_session)) end;
select case when not (select ok from other_session)
    then skip('no second session (dblink): ' || (select why from other_session))
  when (select r -> 0 ->> 'due' from other_results where step = 'held') = 'false'
    then skip('the committed worker_wake row was not due (a real poke just now): nothing to show')
  else is((select r from other_results where step = 'held'), '[{"due": true, "poked": false}]'::jsonb,
          'another session whose poke finds worker_wake held by this one skips it: false at once (no wait, no lock timeout)') end;

---------------------------------------------------------------------------------------------------
-- start from an empty outbox (rolled back at the end)
delete from dispatch.changes;
-- no poke in the capture / drain sections below (the poke section resets this)
update dispatch.settings set value = '600000' where key = 'poke_interval_ms';
update dispatch.worker_wake set poked_at = now(), next_poke_at = now() + interval '1 day';

\ir fixtures/changes_example.sql
\ir fixtures/broadcasts.sql

create temp table u (k text primary key, id uuid);
insert into u values ('a', '00000000-0000-0000-0000-0000000000aa'), ('b', '00000000-0000-0000-0000-0000000000bb'),
  ('c', '00000000-0000-0000-0000-0000000000cc'), ('d', '00000000-0000-0000-0000-0000000000dd'),
  ('e', '00000000-0000-0000-0000-0000000000ee'), ('f', '00000000-0000-0000-0000-0000000000ff');

---------------------------------------------------------------------------------------------------
-- capture: one change per statement

select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000aa","role":"authenticated"}', true);
insert into public.sdc_orders (title, user_id) values
  ('A1', (select id from u where k = 'a')), ('A2', (select id from u where k = 'a')), ('B1', (select id from u where k = 'b'));
select is((select count(*) from dispatch.changes), 1::bigint, 'a 3-row INSERT captures ONE change');
select results_eq($$select source_table, operation, actor, json_typeof(new_rows), json_array_length(new_rows), old_rows is null, attempts, error, failed_at
  from dispatch.changes$$,
  $$values ('public.sdc_orders'::text, 'INSERT'::text, '00000000-0000-0000-0000-0000000000aa'::uuid, 'array'::text, 3, true, 0, null::text, null::timestamptz)$$,
  'INSERT change: schema.table, operation, actor = JWT sub, new_rows a json array of 3, no old_rows');
select is((select new_rows::jsonb from dispatch.changes),
  '[{"id":1,"title":"A1","user_id":"00000000-0000-0000-0000-0000000000aa","status":"open"},
    {"id":2,"title":"A2","user_id":"00000000-0000-0000-0000-0000000000aa","status":"open"},
    {"id":3,"title":"B1","user_id":"00000000-0000-0000-0000-0000000000bb","status":"open"}]'::jsonb,
  'new_rows holds the inserted rows (all columns, defaults applied)');
select is((select count(*) from dispatch.occurrences where event_id like 'sdc.%')
          + (select count(*) from dispatch.counter_state where name = 'sdc_open_orders'), 0::bigint,
  'nothing is processed inside the writing transaction (no occurrence, no counter yet)');

update public.sdc_orders set status = 'done' where user_id = (select id from u where k = 'a');
select results_eq($$select operation, actor, json_array_length(new_rows), json_array_length(old_rows),
    (select array_agg(r ->> 'status' order by r ->> 'title') from json_array_elements(new_rows) r),
    (select array_agg(r ->> 'status' order by r ->> 'title') from json_array_elements(old_rows) r)
  from dispatch.changes order by id desc limit 1$$,
  $$values ('UPDATE'::text, '00000000-0000-0000-0000-0000000000aa'::uuid, 2, 2, array['done', 'done'], array['open', 'open'])$$,
  'a 2-row UPDATE: one change with new_rows and old_rows (2 each)');

update public.sdc_orders set status = 'x' where title = 'nope';
delete from public.sdc_orders where title = 'nope';
insert into public.sdc_orders (title) select 'never' where false;
select is((select count(*) from dispatch.changes), 2::bigint,
  'an UPDATE, a DELETE and an INSERT ... SELECT matching no row capture nothing');

select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000bb","role":"authenticated"}', true);
delete from public.sdc_orders where title = 'B1';
select results_eq($$select operation, actor, new_rows is null, (old_rows::jsonb) from dispatch.changes order by id desc limit 1$$,
  $$values ('DELETE'::text, '00000000-0000-0000-0000-0000000000bb'::uuid, true,
            '[{"id":3,"title":"B1","user_id":"00000000-0000-0000-0000-0000000000bb","status":"open"}]'::jsonb)$$,
  'DELETE: one change with old_rows only, actor = the JWT sub');

select set_config('request.jwt.claims', '', true);
insert into public.sdc_orders (title, user_id) values ('N1', null);
select results_eq($$select operation, actor from dispatch.changes order by id desc limit 1$$,
  $$values ('INSERT'::text, null::uuid)$$, 'a write without a JWT: actor null');

savepoint app_write;
insert into public.sdc_orders (title, user_id) values ('rolled back', (select id from u where k = 'a'));
select is((select count(*) from dispatch.changes), 5::bigint, 'inside the write the change exists');
rollback to savepoint app_write;
select is((select count(*) from dispatch.changes where new_rows::text like '%rolled back%'), 0::bigint,
  'a rolled-back write leaves no change');

-- a client's write (authenticated, no privilege on dispatch.changes) is captured by the definer trigger
grant select, insert on public.sdc_orders to authenticated;
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000bb","role":"authenticated"}', true);
set local role authenticated;
select lives_ok($$insert into public.sdc_orders (title, user_id) values ('C1', '00000000-0000-0000-0000-0000000000bb')$$,
  'a client (authenticated) write succeeds');
reset role;
select results_eq($$select operation, actor, new_rows::jsonb -> 0 ->> 'title' from dispatch.changes order by id desc limit 1$$,
  $$values ('INSERT'::text, '00000000-0000-0000-0000-0000000000bb'::uuid, 'C1'::text)$$, '... and captured with its actor');

-- upsert: the INSERT and the UPDATE part are two changes
create table public.sdc_kv (k text primary key, v int);
create trigger dispatch_capture_insert after insert on public.sdc_kv
  referencing new table as new_rows for each statement execute function dispatch.capture_changes();
create trigger dispatch_capture_update after update on public.sdc_kv
  referencing old table as old_rows new table as new_rows for each statement execute function dispatch.capture_changes();
insert into public.sdc_kv values ('x', 1);
insert into public.sdc_kv values ('x', 2), ('y', 1) on conflict (k) do update set v = excluded.v;
select results_eq($$select operation, new_rows::jsonb, old_rows::jsonb from dispatch.changes where source_table = 'public.sdc_kv' order by operation, id$$,
  $$values ('INSERT'::text, '[{"k":"x","v":1}]'::jsonb, null::jsonb), ('INSERT', '[{"k":"y","v":1}]', null),
           ('UPDATE', '[{"k":"x","v":2}]', '[{"k":"x","v":1}]')$$,
  'INSERT ... ON CONFLICT DO UPDATE: one INSERT change (new row) and one UPDATE change (old and new)');
delete from dispatch.changes where source_table = 'public.sdc_kv';

-- a source table with columns named like the transition tables' aliases (n, o): whole rows captured
create table public.sdc_no (id int primary key, n text, o text);
create trigger dispatch_capture_insert after insert on public.sdc_no
  referencing new table as new_rows for each statement execute function dispatch.capture_changes();
create trigger dispatch_capture_update after update on public.sdc_no
  referencing old table as old_rows new table as new_rows for each statement execute function dispatch.capture_changes();
create trigger dispatch_capture_delete after delete on public.sdc_no
  referencing old table as old_rows for each statement execute function dispatch.capture_changes();
insert into public.sdc_no values (1, 'new', 'old');
update public.sdc_no set n = 'newer';
delete from public.sdc_no;
select results_eq($$select operation, new_rows::jsonb, old_rows::jsonb from dispatch.changes where source_table = 'public.sdc_no' order by id$$,
  $$values ('INSERT'::text, '[{"id":1,"n":"new","o":"old"}]'::jsonb, null::jsonb),
           ('UPDATE', '[{"id":1,"n":"newer","o":"old"}]', '[{"id":1,"n":"new","o":"old"}]'),
           ('DELETE', null, '[{"id":1,"n":"newer","o":"old"}]')$$,
  'columns named n and o: the whole rows are captured, not those columns');
delete from dispatch.changes where source_table = 'public.sdc_no';

-- capture_changes only as AFTER ... FOR EACH STATEMENT
create table public.sdc_bad (id int);
create trigger sdc_bad_row after insert on public.sdc_bad for each row execute function dispatch.capture_changes();
select throws_ok($$insert into public.sdc_bad values (1)$$, 'P0001',
  'dispatch: capture_changes() must run AFTER ... FOR EACH STATEMENT (trigger sdc_bad_row on public.sdc_bad)',
  'capture_changes as a row-level trigger raises');
drop trigger sdc_bad_row on public.sdc_bad;
create trigger sdc_bad_before before insert on public.sdc_bad for each statement execute function dispatch.capture_changes();
select throws_ok($$insert into public.sdc_bad values (1)$$, 'P0001',
  'dispatch: capture_changes() must run AFTER ... FOR EACH STATEMENT (trigger sdc_bad_before on public.sdc_bad)',
  'capture_changes as a BEFORE trigger raises');

-- capture_changes('count'): only how many rows (a table whose processor reads no row)
create table public.sdc_cnt (id int primary key, v text);
create trigger dispatch_capture_insert after insert on public.sdc_cnt
  referencing new table as new_rows for each statement execute function dispatch.capture_changes('count');
create trigger dispatch_capture_update after update on public.sdc_cnt
  referencing old table as old_rows new table as new_rows for each statement execute function dispatch.capture_changes('count');
create trigger dispatch_capture_delete after delete on public.sdc_cnt
  referencing old table as old_rows for each statement execute function dispatch.capture_changes('count');
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000aa","role":"authenticated"}', true);
insert into public.sdc_cnt select g, 'x' from generate_series(1, 3) g;
update public.sdc_cnt set v = 'y' where id <= 2;
delete from public.sdc_cnt where id = 3;
update public.sdc_cnt set v = 'z' where false;
delete from public.sdc_cnt where false;
select set_config('request.jwt.claims', '', true);
select results_eq($$select operation, actor, row_count, new_rows is null, old_rows is null
  from dispatch.changes where source_table = 'public.sdc_cnt' order by id$$,
  $$values ('INSERT'::text, '00000000-0000-0000-0000-0000000000aa'::uuid, 3, true, true),
           ('UPDATE', '00000000-0000-0000-0000-0000000000aa'::uuid, 2, true, true),
           ('DELETE', '00000000-0000-0000-0000-0000000000aa'::uuid, 1, true, true)$$,
  'capture_changes(''count''): one change per statement with its operation, actor and row_count, no rows; nothing for an empty statement');
delete from dispatch.changes where source_table = 'public.sdc_cnt';
create trigger sdc_cnt_bad after insert on public.sdc_cnt
  referencing new table as new_rows for each statement execute function dispatch.capture_changes('columns');
select throws_ok($$insert into public.sdc_cnt values (9, 'x')$$, 'P0001',
  'dispatch: capture_changes(columns): the argument is rows or count (trigger sdc_cnt_bad on public.sdc_cnt)',
  'capture_changes with an unknown argument raises');
drop trigger sdc_cnt_bad on public.sdc_cnt;
drop trigger dispatch_capture_insert on public.sdc_cnt;
create trigger dispatch_capture_insert after insert on public.sdc_cnt
  referencing new table as new_rows for each statement execute function dispatch.capture_changes('rows');
insert into public.sdc_cnt values (10, 'r');
select results_eq($$select row_count, new_rows::jsonb from dispatch.changes where source_table = 'public.sdc_cnt'$$,
  $$values (1, '[{"id":10,"v":"r"}]'::jsonb)$$, 'capture_changes(''rows''): the rows, as without an argument');
delete from dispatch.changes where source_table = 'public.sdc_cnt';

---------------------------------------------------------------------------------------------------
-- drain: oldest first, exactly once, deleted; limits

-- the first change as if captured earlier: its events must carry that time, not the drain's
update dispatch.changes set captured_at = '2026-11-01 10:00:00+00' where id = (select min(id) from dispatch.changes);
create temp table pending as select id, operation from dispatch.changes order by id;
-- the drainer has another identity: the events must carry the writer's
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000cc","role":"service_role"}', true);

select is((select count(*) from pending), 5::bigint, '5 changes wait (INSERT, UPDATE, DELETE, INSERT, INSERT)');
select is(dispatch.drain(2), 2, 'drain(2) takes two (one batch: the INSERT and the UPDATE)');
select results_eq($$select id from dispatch.changes order by id$$, $$select id from pending order by id offset 2$$,
  'the two oldest were processed and deleted, the rest wait');
select results_eq($$select event_id, count(*) from dispatch.occurrences where event_id like 'sdc.%' group by 1 order by 1$$,
  $$values ('sdc.order_created'::text, 3::bigint), ('sdc.order_done', 2::bigint)$$,
  'processed so far: the 3-row INSERT (3 occurrences) and the UPDATE (2)');
select is(dispatch.drain(), 3, 'drain() takes the other three');
select is((select count(*) from dispatch.changes), 0::bigint, 'processed changes are deleted');
select is(dispatch.drain(), 0, 'a second drain finds nothing');
select results_eq($$select new_record ->> 'title', count(*) from dispatch.occurrences where event_id = 'sdc.order_created' group by 1 order by 1$$,
  $$values ('A1'::text, 1::bigint), ('A2', 1::bigint), ('B1', 1::bigint), ('C1', 1::bigint), ('N1', 1::bigint)$$,
  'one occurrence per inserted row, each exactly once');
select results_eq($$select r.status, count(*) from dispatch.receipts r where r.event_id like 'sdc.%' group by 1$$,
  $$values ('sent'::text, 6::bigint)$$, 'receipts: in-app sent inline for every row with a user (4 created + 2 done)');
select results_eq($$select n.message from dispatch.notifications n join dispatch.receipts r on r.id = n.receipt_id
  where r.event_id like 'sdc.%' order by n.message$$,
  $$values ('Order A1 created'::text), ('Order A1 is done'), ('Order A2 created'), ('Order A2 is done'), ('Order B1 created'), ('Order C1 created')$$,
  'notifications rendered from the captured rows');
select results_eq($$select scope, value, seq from dispatch.counter_state where name = 'sdc_open_orders' order by scope$$,
  $$values ('00000000-0000-0000-0000-0000000000bb'::text, 1::bigint, 1::bigint)$$,
  'counter: one net delta per scope per batch, each applied once: a +2 -2 in the first batch (no row), b +1 there (seq 1) and -1 +1 in the second (untouched)');

-- events fired by the processor carry the change's actor and capture time
select results_eq($$select new_record ->> 'title', operation, actor, created_at from dispatch.occurrences
  where event_id = 'sdc.order_created' order by 1$$,
  $$values ('A1'::text, 'INSERT'::text, '00000000-0000-0000-0000-0000000000aa'::uuid, '2026-11-01 10:00:00+00'::timestamptz),
           ('A2', 'INSERT', '00000000-0000-0000-0000-0000000000aa', '2026-11-01 10:00:00+00'),
           ('B1', 'INSERT', '00000000-0000-0000-0000-0000000000aa', '2026-11-01 10:00:00+00'),
           ('C1', 'INSERT', '00000000-0000-0000-0000-0000000000bb', now()),
           ('N1', 'INSERT', null, now())$$,
  'occurrences: actor = the writer (null stays null, not the drainer), created_at = captured_at');
select results_eq($$select actor, old_record ->> 'status', new_record ->> 'status', created_at, count(*) from dispatch.occurrences
  where event_id = 'sdc.order_done' group by 1, 2, 3, 4$$,
  $$values ('00000000-0000-0000-0000-0000000000aa'::uuid, 'open'::text, 'done'::text, now(), 2::bigint)$$,
  'UPDATE events get the old and the new record, the writer as actor and their own change''s capture time (not the batch''s first)');

-- drain's argument
select throws_ok($$select dispatch.drain(0)$$, 'P0001', 'dispatch: drain: max_changes must be at least 1 (got 0)', 'drain(0) raises');
select throws_ok($$select dispatch.drain(null)$$, 'P0001', 'dispatch: drain: max_changes must be at least 1 (got null)', 'drain(null) raises');

---------------------------------------------------------------------------------------------------
-- failures: kept with the error, skipped, replayed after the fix

create table public.sdc_notes (id int primary key, body text);
create table public.sdc_log (seq int generated always as identity, change_id bigint, body text);
-- the processor calls that went through, with the changes each got (a failed call leaves no row)
create table public.sdc_calls (seq int generated always as identity, source text, change_ids bigint[]);
-- notes whose body is listed here make the processor raise with that SQLSTATE ("the cause")
create table public.sdc_fail (body text primary key, errcode text not null);
create function public.sdc_notes_process(p_changes dispatch.changes[]) returns void
language plpgsql security definer set search_path = '' as $$
declare
  f public.sdc_fail;
begin
  select x.* into f from public.sdc_fail x
  where x.body in (select n.body from unnest(p_changes) ch cross join lateral json_populate_recordset(null::public.sdc_notes, ch.new_rows) n)
  order by x.body limit 1;
  if found then
    raise exception 'sdc: cannot process %', f.body using errcode = f.errcode;
  end if;
  insert into public.sdc_calls (source, change_ids) values ('notes', array(select ch.id from unnest(p_changes) ch order by ch.id));
  insert into public.sdc_log (change_id, body)
  select ch.id, n.body from unnest(p_changes) ch cross join lateral json_populate_recordset(null::public.sdc_notes, ch.new_rows) n
  order by ch.id, n.id;
end $$;
create trigger dispatch_capture_insert after insert on public.sdc_notes
  referencing new table as new_rows for each statement execute function dispatch.capture_changes();
select dispatch.register_source('public.sdc_notes', 'public.sdc_notes_process');
insert into public.sdc_fail values ('boom', 'P0001');
insert into public.sdc_notes values (1, 'one');
insert into public.sdc_notes values (2, 'boom');
insert into public.sdc_notes values (3, 'three');
create temp table notes as select id, new_rows::jsonb -> 0 ->> 'body' as body from dispatch.changes order by id;

select is(dispatch.drain(), 3, 'drain takes all three (a failed change counts as taken)');
select results_eq($$select change_id, body from public.sdc_log order by seq$$,
  $$select id, body from notes where body <> 'boom' order by id$$, 'the others were processed, oldest first');
select results_eq($$select change_ids from public.sdc_calls order by seq$$,
  $$select array[id] from notes where body <> 'boom' order by id$$,
  'the batch of three failed as a whole, then went change by change: the others one call each');
select results_eq($$select id, error, attempts, failed_at from dispatch.changes$$,
  $$select id, 'P0001: sdc: cannot process boom'::text, 1, now() from notes where body = 'boom'$$,
  'only the failing change stays, with its error (sqlstate: message), attempts 1, failed_at');
select is(dispatch.drain(), 0, 'later drains skip it');
select is((select attempts from dispatch.changes), 1, '... and do not count attempts');
select throws_ok(format('select dispatch.replay_change(%s)', (select id from notes where body = 'boom')), 'P0001',
  'sdc: cannot process boom', 'replay_change raises while the cause remains');
select is((select attempts from dispatch.changes), 1, 'the failed replay changed nothing');
delete from public.sdc_fail;
select lives_ok(format('select dispatch.replay_change(%s)', (select id from notes where body = 'boom')),
  'replay_change after the fix');
select is((select count(*) from dispatch.changes), 0::bigint, 'the replayed change is processed and deleted');
select is((select count(*) from public.sdc_log where body = 'boom'), 1::bigint, '... exactly once');
select throws_ok(format('select dispatch.replay_change(%s)', (select id from notes where body = 'boom')), 'P0001',
  format('dispatch: change %s not found (already processed?)', (select id from notes where body = 'boom')),
  'replaying it again raises: not found');
select throws_ok($$select dispatch.replay_change(-1)$$, 'P0001', 'dispatch: change -1 not found (already processed?)',
  'replay_change of an unknown id raises');

-- a failed batch takes its counter deltas back (they wait in the drain's buffer, dispatch.counter_buffer,
-- which the batch's subtransaction reverts): only the changes that went through are counted
create table public.sdc_counted (id int primary key, body text);
select dispatch.register_counter('sdc_counted_rows', 'audience', 'admin', '{}', 1, 'public.sdc_counted',
  'select ''admin'', count(*) from public.sdc_counted where body <> ''boom''');
create function public.sdc_counted_process(p_changes dispatch.changes[]) returns void
language plpgsql security definer set search_path = '' as $$
begin
  -- the delta first, then the failure
  perform dispatch.apply_counter_deltas('sdc_counted_rows', array[row('admin',
    (select count(*) from unnest(p_changes) ch cross join lateral json_array_elements(ch.new_rows) n))::dispatch.counter_delta]);
  if exists (select from unnest(p_changes) ch cross join lateral json_array_elements(ch.new_rows) n where n ->> 'body' = 'boom') then
    raise exception 'sdc: cannot count boom';
  end if;
end $$;
create trigger dispatch_capture_insert after insert on public.sdc_counted
  referencing new table as new_rows for each statement execute function dispatch.capture_changes();
select dispatch.register_source('public.sdc_counted', 'public.sdc_counted_process');
insert into public.sdc_counted values (1, 'one'), (2, 'two');
insert into public.sdc_counted values (3, 'boom');
insert into public.sdc_counted values (4, 'four');
select is(dispatch.drain(), 3, 'drain takes the three changes (one fails)');
select is(dispatch.counter_value('sdc_counted_rows', 'admin'), 3::bigint,
  'the counter holds the rows of the changes that went through, once each (the failed batch took its deltas back)');
select is((select count(*) from dispatch.reconcile_counters('sdc_counted_rows', false) where expected <> actual), 0::bigint,
  '... as a recount says');
delete from dispatch.changes where source_table = 'public.sdc_counted';

-- a transient failure (serialization, deadlock, lock timeout, cancel) leaves the batch untouched and ends the drain
select results_eq($$select code, dispatch.is_transient_error(code) from unnest(array['40P01', '40001', '55P03', '57014', 'P0001', '23505', '42501', '57P01']) code$$,
  $$values ('40P01'::text, true), ('40001', true), ('55P03', true), ('57014', true), ('P0001', false), ('23505', false), ('42501', false), ('57P01', false)$$,
  'is_transient_error: deadlock, serialization, lock not available, query canceled; nothing else');
insert into public.sdc_fail values ('retry', '40001');
insert into public.sdc_notes values (4, 'retry');
insert into public.sdc_notes values (5, 'five');
select is(dispatch.drain(), 0, 'a transient failure ends the drain (nothing taken)');
select results_eq($$select new_rows::jsonb -> 0 ->> 'body', error, attempts, failed_at from dispatch.changes order by id$$,
  $$values ('retry'::text, null::text, 0, null::timestamptz), ('five', null, 0, null)$$,
  'both changes of the batch wait untouched (no error, no attempt) for the next drain');
select is(dispatch.drain_batch(array(select c from dispatch.changes c order by c.id)), 0,
  'drain_batch(batch) takes nothing on a transient failure of the whole batch (the drain stops)');
select is((select count(*) from dispatch.changes where error is null and attempts = 0), 2::bigint, '... and leaves the batch untouched');
delete from public.sdc_fail;
delete from public.sdc_calls;
select is(dispatch.drain(), 2, 'the next drain processes them');
select results_eq($$select change_ids from public.sdc_calls$$,
  $$select array(select change_id from public.sdc_log where body in ('retry', 'five') order by change_id)$$,
  '... in one processor call that got both changes');

-- a transient failure while going change by change: what went before stays done (or failed)
insert into public.sdc_fail values ('boom', 'P0001'), ('retry', '40001');
insert into public.sdc_notes values (6, 'six');
insert into public.sdc_notes values (7, 'boom');
insert into public.sdc_notes values (8, 'retry');
create temp table partial as select id, new_rows::jsonb -> 0 ->> 'body' as body from dispatch.changes order by id;
create temp table partial_drained as select dispatch.drain() as n;
select results_eq($$select p.body, c.id is null, c.error, coalesce(c.attempts, 0) from partial p left join dispatch.changes c on c.id = p.id order by p.id$$,
  $$values ('six'::text, true, null::text, 0), ('boom', false, 'P0001: sdc: cannot process boom', 1), ('retry', false, null, 0)$$,
  'the batch fails (boom), change by change: six processed, boom kept with its error, retry (40001) untouched');
select is((select n from partial_drained), 2, 'drain counts the two changes it took (six done, boom failed) before the transient failure');
delete from public.sdc_fail;
delete from dispatch.changes;

---------------------------------------------------------------------------------------------------
-- batches: consecutive changes of one table in one processor call; operations, writers mixed

-- counts the orders processor's calls (then calls the generated one)
create function public.sdc_orders_counted(p_changes dispatch.changes[]) returns void
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.sdc_calls (source, change_ids) values ('orders', array(select ch.id from unnest(p_changes) ch order by ch.id));
  perform dispatch.src_public_sdc_orders_process(p_changes);
end $$;
select dispatch.register_source('public.sdc_orders', 'public.sdc_orders_counted');
delete from public.sdc_calls;
create temp table calls_n (source text, ids bigint[]);

select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000aa","role":"authenticated"}', true);
insert into public.sdc_orders (title, user_id) values
  ('E1', (select id from u where k = 'e')), ('E2', (select id from u where k = 'e')), ('F1', (select id from u where k = 'f'));
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000bb","role":"authenticated"}', true);
update public.sdc_orders set status = 'done' where title = 'E1';
select set_config('request.jwt.claims', '', true);
insert into public.sdc_orders (title, user_id) values ('E3', (select id from u where k = 'e'));
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000cc","role":"authenticated"}', true);
delete from public.sdc_orders where title = 'E2';
-- each change captured at its own time
update dispatch.changes c set captured_at = '2026-11-02 10:00:00+00'::timestamptz + make_interval(mins => x.n)
from (select id, row_number() over (order by id)::int as n from dispatch.changes) x where x.id = c.id;
create temp table batch1 as select id, operation, actor, captured_at from dispatch.changes order by id;
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000dd","role":"service_role"}', true);

select results_eq($$select operation, actor from batch1 order by id$$,
  $$values ('INSERT'::text, '00000000-0000-0000-0000-0000000000aa'::uuid), ('UPDATE', '00000000-0000-0000-0000-0000000000bb'),
           ('INSERT', null), ('DELETE', '00000000-0000-0000-0000-0000000000cc')$$,
  '4 changes wait: INSERT (a), UPDATE (b), INSERT (no JWT), DELETE (c)');
select is(dispatch.drain(), 4, 'drain() takes the 4');
select results_eq($$select source, change_ids from public.sdc_calls order by seq$$,
  $$select 'orders'::text, array(select id from batch1 order by id)$$,
  'ONE processor call got all 4 changes (operations and writers mixed), in capture order');
select results_eq($$select new_record ->> 'title', actor, created_at from dispatch.occurrences
  where event_id = 'sdc.order_created' and new_record ->> 'title' in ('E1', 'E2', 'E3', 'F1') order by 1$$,
  $$values ('E1'::text, '00000000-0000-0000-0000-0000000000aa'::uuid, '2026-11-02 10:01:00+00'::timestamptz),
           ('E2', '00000000-0000-0000-0000-0000000000aa', '2026-11-02 10:01:00+00'),
           ('E3', null, '2026-11-02 10:03:00+00'),
           ('F1', '00000000-0000-0000-0000-0000000000aa', '2026-11-02 10:01:00+00')$$,
  'occurrences of one fire for the batch keep each change''s actor and captured_at (not the drainer''s, not now())');
select results_eq($$select new_record ->> 'title', old_record ->> 'status', actor, created_at from dispatch.occurrences
  where event_id = 'sdc.order_done' and new_record ->> 'title' = 'E1'$$,
  $$values ('E1'::text, 'open'::text, '00000000-0000-0000-0000-0000000000bb'::uuid, '2026-11-02 10:02:00+00'::timestamptz)$$,
  '... the UPDATE''s too (actor b, its own time)');
select results_eq($$select scope, value, seq from dispatch.counter_state where name = 'sdc_open_orders'
  and scope in ('00000000-0000-0000-0000-0000000000ee', '00000000-0000-0000-0000-0000000000ff') order by scope$$,
  $$values ('00000000-0000-0000-0000-0000000000ee'::text, 1::bigint, 1::bigint), ('00000000-0000-0000-0000-0000000000ff', 1, 1)$$,
  'counter: e +2 -1 +1 -1 over 4 changes applied as one delta (+1, seq 1); f +1');
select results_eq($$select topic, count(*), max((payload ->> 'value')::bigint) from pg_temp.broadcasts
  where event = 'counter' and payload ->> 'name' = 'sdc_open_orders'
    and topic in ('dispatch:user:00000000-0000-0000-0000-0000000000ee', 'dispatch:user:00000000-0000-0000-0000-0000000000ff')
  group by 1 order by 1$$,
  $$values ('dispatch:user:00000000-0000-0000-0000-0000000000ee'::text, 1::bigint, 1::bigint),
           ('dispatch:user:00000000-0000-0000-0000-0000000000ff', 1, 1)$$,
  'one counter broadcast per scope for the batch');

-- drain_batch_rows: a batch holds at most that many captured rows; a bigger change goes alone
update dispatch.settings set value = '3' where key = 'drain_batch_rows';
insert into public.sdc_orders (title) values ('G1'), ('G2');
insert into public.sdc_orders (title) values ('G3'), ('G4');
insert into public.sdc_orders (title) values ('G5');
insert into public.sdc_orders (title) select 'G' || g from generate_series(6, 10) g;
insert into public.sdc_orders (title) values ('G11');
create temp table batch2 as select id, row_number() over (order by id)::int as n from dispatch.changes;
select results_eq($$select row_count from dispatch.changes order by id$$, $$values (2), (2), (1), (5), (1)$$,
  'row_count: the rows of each captured statement');
delete from public.sdc_calls;
select is(dispatch.drain(), 5, 'drain_batch_rows = 3: drain takes the 5 changes');
select results_eq($$select array(select b.n from batch2 b where b.id = any(c.change_ids) order by b.n) from public.sdc_calls c order by c.seq$$,
  $$values (array[1]), (array[2, 3]), (array[4]), (array[5])$$,
  '... in batches of at most 3 rows: 2 | 2+1 | the 5-row change alone | 1');
select is((select count(*) from dispatch.occurrences where event_id = 'sdc.order_created' and new_record ->> 'title' ~ '^G[0-9]+$'),
  11::bigint, '... all 11 rows processed');
update dispatch.settings set value = '5000' where key = 'drain_batch_rows';

-- changes of two tables interleaved: each run of one table is a batch, in capture order
insert into public.sdc_orders (title) values ('H1');
insert into public.sdc_notes values (20, 'n20');
insert into public.sdc_orders (title) values ('H2');
insert into public.sdc_orders (title) values ('H3');
insert into public.sdc_notes values (21, 'n21');
insert into public.sdc_notes values (22, 'n22');
create temp table batch3 as select id, row_number() over (order by id)::int as n from dispatch.changes;
delete from public.sdc_calls;
select is(dispatch.drain(), 6, 'two tables interleaved: drain takes the 6 changes');
select results_eq($$select c.source, array(select b.n from batch3 b where b.id = any(c.change_ids) order by b.n) from public.sdc_calls c order by c.seq$$,
  $$values ('orders'::text, array[1]), ('notes', array[2]), ('orders', array[3, 4]), ('notes', array[5, 6])$$,
  '... one batch per run of one table: orders 1 | notes 2 | orders 3+4 | notes 5+6');
select results_eq($$select (select count(*) from dispatch.changes),
    (select count(*) from dispatch.occurrences where event_id = 'sdc.order_created' and new_record ->> 'title' in ('H1', 'H2', 'H3')),
    (select count(*) from public.sdc_log where body in ('n20', 'n21', 'n22'))$$,
  $$values (0::bigint, 3::bigint, 3::bigint)$$, '... all processed and deleted');

-- process_changes / drain_batch by hand
insert into public.sdc_orders (title) values ('I1');
insert into public.sdc_notes values (23, 'n23');
select throws_ok($$select dispatch.process_changes(array(select c from dispatch.changes c order by c.id))$$, 'P0001',
  'dispatch: process_changes: a batch holds the changes of one table', 'process_changes rejects a batch of two tables');
select is((select count(*) from dispatch.changes), 2::bigint, '... and processes nothing');
select lives_ok($$select dispatch.process_changes(array(select c from dispatch.changes c where c.source_table = 'public.sdc_notes'))$$,
  'process_changes: a batch of one table');
select results_eq($$select source_table from dispatch.changes$$, $$values ('public.sdc_orders'::text)$$, '... is processed and deleted');
select is(dispatch.drain_batch(array(select c from dispatch.changes c)), 1, 'drain_batch returns the batch size when the batch went through');
select is((select count(*) from dispatch.changes), 0::bigint, '... deleted');
select lives_ok($$select dispatch.process_changes(null)$$, 'process_changes(null) does nothing');
select lives_ok($$select dispatch.process_changes('{}')$$, 'process_changes of an empty batch does nothing');

-- fire: each record's "actor" / "at" win over p_actor / p_occurred_at (a record's "actor": null too)
select lives_ok($$select dispatch.fire('sdc.order_created', 'insert', 'public.sdc_orders',
  '[{"new": {"title": "J1"}, "actor": "00000000-0000-0000-0000-0000000000aa", "at": "2026-11-03 10:00:00+00"},
    {"new": {"title": "J2"}, "actor": null}, {"new": {"title": "J3"}}]'::jsonb,
  '00000000-0000-0000-0000-0000000000dd', '2026-11-04 10:00:00+00')$$, 'fire with per-record actor/at');
select results_eq($$select new_record ->> 'title', actor, created_at from dispatch.occurrences
  where event_id = 'sdc.order_created' and new_record ->> 'title' in ('J1', 'J2', 'J3') order by 1$$,
  $$values ('J1'::text, '00000000-0000-0000-0000-0000000000aa'::uuid, '2026-11-03 10:00:00+00'::timestamptz),
           ('J2', null, '2026-11-04 10:00:00+00'), ('J3', '00000000-0000-0000-0000-0000000000dd', '2026-11-04 10:00:00+00')$$,
  '... the record''s actor and at win ("actor": null stays null); without them, p_actor and p_occurred_at');

select dispatch.register_source('public.sdc_orders', 'dispatch.src_public_sdc_orders_process');
select set_config('request.jwt.claims', '', true);

---------------------------------------------------------------------------------------------------
-- sources: register / unregister, no processor

select throws_ok($$select dispatch.register_source('public.sdc_nope', 'public.sdc_notes_process')$$, 'P0001',
  'dispatch: register_source: table public.sdc_nope does not exist', 'register_source: missing table');
select throws_ok($$select dispatch.register_source(null, 'public.sdc_notes_process')$$, 'P0001',
  'dispatch: register_source: table (null) does not exist', 'register_source: null table');
select throws_ok($$select dispatch.register_source('public.sdc_notes', 'public.sdc_nope_process')$$, 'P0001',
  'dispatch: register_source: processor public.sdc_nope_process(dispatch.changes[]) does not exist', 'register_source: missing function');
create function public.sdc_wrong_args(p int) returns void language sql as $$ select $$;
select throws_ok($$select dispatch.register_source('public.sdc_notes', 'public.sdc_wrong_args')$$, 'P0001',
  'dispatch: register_source: processor public.sdc_wrong_args(dispatch.changes[]) does not exist',
  'register_source: a function without the (dispatch.changes[]) signature');
create function public.sdc_one_change(p_change dispatch.changes) returns void language sql as $$ select $$;
select throws_ok($$select dispatch.register_source('public.sdc_notes', 'public.sdc_one_change')$$, 'P0001',
  'dispatch: register_source: processor public.sdc_one_change(dispatch.changes[]) does not exist',
  'register_source: a processor of the old one-change signature (dispatch.changes) is refused');
select throws_ok($$select dispatch.register_source('public.sdc_notes', null)$$, 'P0001',
  'dispatch: register_source: processor (null)(dispatch.changes[]) does not exist', 'register_source: null processor');
select is((select processor from dispatch.sources where source_table = 'public.sdc_notes'), 'public.sdc_notes_process',
  'failed registrations changed nothing');

create table public.sdc_orphans (id int);
create trigger dispatch_capture_insert after insert on public.sdc_orphans
  referencing new table as new_rows for each statement execute function dispatch.capture_changes();
insert into public.sdc_orphans values (1);
select is(dispatch.drain(), 1, 'a change of a table without processor is taken');
select results_eq($$select error, attempts from dispatch.changes$$,
  $$values ('P0001: dispatch: no processor registered for public.sdc_orphans'::text, 1)$$,
  '... and kept with "no processor registered for <table>"');
create function public.sdc_orphans_process(p_changes dispatch.changes[]) returns void
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.sdc_log (change_id, body) select ch.id, 'orphan ' || ch.operation from unnest(p_changes) ch order by ch.id;
end $$;
select lives_ok($$select dispatch.register_source('public.sdc_orphans', 'public.sdc_notes_process')$$, 'register_source');
select lives_ok($$select dispatch.register_source('public.sdc_orphans', 'public.sdc_orphans_process')$$,
  'register_source again replaces the processor');
select results_eq($$select processor from dispatch.sources where source_table = 'public.sdc_orphans'$$,
  $$values ('public.sdc_orphans_process'::text)$$, 'one row per table, the last processor');
select lives_ok(format('select dispatch.replay_change(%s)', (select id from dispatch.changes)), 'replay_change once a processor is registered');
select results_eq($$select (select count(*) from dispatch.changes), (select count(*) from public.sdc_log where body = 'orphan INSERT')$$,
  $$values (0::bigint, 1::bigint)$$, '... processes it with the new processor and deletes it');
select lives_ok($$select dispatch.unregister_source('public.sdc_orphans')$$, 'unregister_source');
select is((select count(*) from dispatch.sources where source_table = 'public.sdc_orphans'), 0::bigint, '... removes the registration');
insert into public.sdc_orphans values (2);
select is(dispatch.drain(), 1, 'after unregister_source, the next change is taken');
select matches((select error from dispatch.changes), 'no processor registered for public\.sdc_orphans',
  '... and fails with "no processor registered for"');
delete from dispatch.changes;

-- a table whose name needs quoting: the registry holds schema.table as capture_changes writes it
-- (tg_table_schema || '.' || tg_table_name) and as the generator passes it (tableText: unquoted)
create table public."SdcMixed" (id int);
create trigger dispatch_capture_insert after insert on public."SdcMixed"
  referencing new table as new_rows for each statement execute function dispatch.capture_changes();
insert into public."SdcMixed" values (1);
select is((select source_table from dispatch.changes), 'public.SdcMixed', 'capture of a mixed-case table: source_table public.SdcMixed');
select lives_ok($$select dispatch.register_source('public.SdcMixed', 'public.sdc_orphans_process')$$,
  'register_source accepts the name capture_changes records for a mixed-case table');
select is(dispatch.drain(), 1, '... and drain processes its change');
select results_eq($$select (select count(*) from dispatch.changes), (select count(*) from public.sdc_log where body = 'orphan INSERT')$$,
  $$values (0::bigint, 2::bigint)$$, '... with the registered processor');
-- source_regclass: the exact unquoted schema.table (as captured), case kept; tables only
create view public.sdc_view as select 1 as x;
select results_eq($$select dispatch.source_regclass(n) from unnest(array['public.SdcMixed', 'public.sdcmixed', 'public."SdcMixed"',
  'public.sdc_orders', 'sdc_orders', 'public.sdc_view', 'public.sdc_nope', null]) n$$,
  $$values ('public."SdcMixed"'::regclass), (null), (null), ('public.sdc_orders'::regclass), (null), (null), (null), (null)$$,
  'source_regclass: exact unquoted schema.table (mixed case kept); no case folding, quoting, search_path, views');
select throws_ok($$select dispatch.register_source('public.sdcmixed', 'public.sdc_orphans_process')$$, 'P0001',
  'dispatch: register_source: table public.sdcmixed does not exist', 'register_source: the name is matched exactly (no case folding)');

---------------------------------------------------------------------------------------------------
-- reconcile_counters drains first; tick drains

insert into public.sdc_orders (title, user_id) values ('R1', (select id from u where k = 'd')), ('R2', (select id from u where k = 'd'));
select results_eq($$select expected, actual, corrected from dispatch.reconcile_counters('sdc_open_orders', false)
  where scope = '00000000-0000-0000-0000-0000000000dd'$$,
  $$values (2::bigint, 0::bigint, false)$$, 'reconcile report (no apply): the pending change is not applied yet');
select is((select count(*) from dispatch.changes), 1::bigint, '... and the report drains nothing');
select results_eq($$select expected, actual, corrected from dispatch.reconcile_counters('sdc_open_orders', true)
  where scope = '00000000-0000-0000-0000-0000000000dd'$$,
  $$values (2::bigint, 2::bigint, false)$$, 'reconcile with p_apply drains first: nothing to correct');
select is((select count(*) from dispatch.changes), 0::bigint, '... the change was processed');
select is(dispatch.drain(), 0, '... and is not processed again');
select is(dispatch.counter_value('sdc_open_orders', '00000000-0000-0000-0000-0000000000dd'), 2::bigint, 'no double count');
select is((select count(*) from pg_locks where pid = pg_backend_pid() and locktype = 'relation'
           and relation = 'public.sdc_orders'::regclass and mode = 'ShareLock' and granted), 1::bigint,
  'reconcile with p_apply holds its source table in SHARE mode (no write until commit)');
-- the same for a counter whose source table needs quoting (source_table as the generator writes it)
select dispatch.register_counter('sdc_mixed', 'user', null, '{}', 1, 'public.SdcMixed',
  'select id::text, count(*) from public."SdcMixed" group by 1');
select count(*) from dispatch.reconcile_counters('sdc_mixed', true);
select is((select count(*) from pg_locks where pid = pg_backend_pid() and locktype = 'relation'
           and relation = 'public."SdcMixed"'::regclass and mode = 'ShareLock' and granted), 1::bigint,
  'reconcile with p_apply also locks a mixed-case source table (public.SdcMixed)');
-- a source table the migration role may not lock: the recount goes on, with a warning
create table public.sdc_nolock (id int);
revoke update, delete, truncate on public.sdc_nolock from postgres;
select dispatch.register_counter('sdc_nolock', 'user', null, '{}', 1, 'public.sdc_nolock',
  'select id::text, count(*) from public.sdc_nolock group by 1');
select lives_ok($$select count(*) from dispatch.reconcile_counters('sdc_nolock', true)$$,
  'reconcile with p_apply on a table it may not lock recounts anyway (with a warning)');
select is((select count(*) from pg_locks where pid = pg_backend_pid() and locktype = 'relation'
           and relation = 'public.sdc_nolock'::regclass and mode = 'ShareLock'), 0::bigint,
  '... without the lock');

insert into public.sdc_orders (title, user_id) values ('T1', (select id from u where k = 'd'));
delete from public.sdc_orders where title = 'R1';
select is((dispatch.tick() ->> 'drained')::int, 2, 'tick() drains and reports drained');
select results_eq($$select (select count(*) from dispatch.changes), dispatch.counter_value('sdc_open_orders', '00000000-0000-0000-0000-0000000000dd')$$,
  $$values (0::bigint, 2::bigint)$$, '... both changes processed');
update dispatch.settings set value = '1' where key = 'tick_drain_max';
insert into public.sdc_orders (title, user_id) values ('T2', (select id from u where k = 'd'));
insert into public.sdc_orders (title, user_id) values ('T3', (select id from u where k = 'd'));
select is((dispatch.tick() ->> 'drained')::int, 1, 'tick() drains at most tick_drain_max');
select is((select count(*) from dispatch.changes), 1::bigint, '... the rest waits');
select is(dispatch.drain(), 1, 'drained');

---------------------------------------------------------------------------------------------------
-- poke: at commit of a transaction that captured changes, debounced

-- fire what the sections above left pending, then start clean
set constraints dispatch.changes_committing immediate;
set constraints dispatch.changes_committing deferred;
update dispatch.settings set value = '0' where key = 'poke_interval_ms';
update dispatch.worker_wake set poked_at = 'epoch', next_poke_at = 'epoch';
delete from vault.secrets where name in ('dispatch_worker_url', 'dispatch_worker_secret'); -- rolled back at the end
select vault.create_secret('http://127.0.0.1:9/functions/v1/dispatch-worker', 'dispatch_worker_url');
select vault.create_secret('worker-secret', 'dispatch_worker_secret');
create temp table net0 as select count(*) as n from net.http_request_queue;
create view pg_temp.pokes as select (select count(*) from net.http_request_queue) - (select n from net0) as n;

select is(dispatch.worker_linger_ms(), 0, 'no recent poke: worker_linger_ms() = 0');
-- "transaction" 1: two statements
select set_config('dispatch.poked', '', true);
insert into public.sdc_orders (title) values ('P1');
insert into public.sdc_orders (title) values ('P2');
select is((select n from pg_temp.pokes), 0::bigint, 'no poke before commit (the trigger is deferred)');
set constraints dispatch.changes_committing immediate;
set constraints dispatch.changes_committing deferred;
select is((select n from pg_temp.pokes), 1::bigint, 'at commit: one poke for the transaction (two changes)');
select results_eq($$select url, convert_from(body, 'UTF8')::jsonb, headers ->> 'x-dispatch-secret' from net.http_request_queue order by id desc limit 1$$,
  $$values ('http://127.0.0.1:9/functions/v1/dispatch-worker'::text, '{"reason":"changes"}'::jsonb, 'worker-secret'::text)$$,
  'the worker is called with its URL and secret from Vault, reason changes');
select ok((select w.poked_at > clock_timestamp() - interval '1 minute' and w.next_poke_at >= w.poked_at
            from dispatch.worker_wake w), 'the poke is recorded in worker_wake (poked_at, next_poke_at)');
-- the linger covers poke_interval_ms after the poke plus a second (timed from next_poke_at, so no
-- assertion here depends on how fast this machine runs the statements in between)
select is((select round(greatest(extract(epoch from (w.next_poke_at - clock_timestamp())) * 1000 + 1000, 0)::numeric / 1000)
           from dispatch.worker_wake w),
          (select round(greatest(dispatch.worker_linger_ms(), 0)::numeric / 1000)),
          'worker_linger_ms(): until next_poke_at plus one second');
-- "transaction" 2, poke_interval_ms = 0
select set_config('dispatch.poked', '', true);
insert into public.sdc_orders (title) values ('P3');
set constraints dispatch.changes_committing immediate;
set constraints dispatch.changes_committing deferred;
select is((select n from pg_temp.pokes), 2::bigint, 'poke_interval_ms = 0: the next transaction pokes again');
-- "transaction" 3: captures nothing
select set_config('dispatch.poked', '', true);
update public.sdc_orders set title = 'x' where false;
set constraints dispatch.changes_committing immediate;
set constraints dispatch.changes_committing deferred;
select is((select n from pg_temp.pokes), 2::bigint, 'a transaction that captured nothing does not poke');
-- "transaction" 4: its write rolled back
select set_config('dispatch.poked', '', true);
savepoint w;
insert into public.sdc_orders (title) values ('gone');
rollback to savepoint w;
set constraints dispatch.changes_committing immediate;
set constraints dispatch.changes_committing deferred;
select is((select n from pg_temp.pokes), 2::bigint, 'a rolled-back write does not poke');

-- a large interval: one poke, then quiet
update dispatch.settings set value = '60000' where key = 'poke_interval_ms';
update dispatch.worker_wake set poked_at = 'epoch', next_poke_at = 'epoch';
select set_config('dispatch.poked', '', true);
insert into public.sdc_orders (title) values ('Q1');
set constraints dispatch.changes_committing immediate;
set constraints dispatch.changes_committing deferred;
select is((select n from pg_temp.pokes), 3::bigint, 'large poke_interval_ms: the first transaction pokes');
select ok((select next_poke_at - poked_at between interval '60 seconds' and interval '61 seconds' from dispatch.worker_wake),
  'the next poke is due one interval (60 s) later');
select ok(dispatch.worker_linger_ms() > 1000, 'the poked worker lingers for the interval (worker_linger_ms)');
select set_config('dispatch.poked', '', true);
insert into public.sdc_orders (title) values ('Q2');
set constraints dispatch.changes_committing immediate;
set constraints dispatch.changes_committing deferred;
select set_config('dispatch.poked', '', true);
insert into public.sdc_orders (title) values ('Q3');
set constraints dispatch.changes_committing immediate;
set constraints dispatch.changes_committing deferred;
select is((select n from pg_temp.pokes), 3::bigint, '... the next transactions within the interval do not poke');
select is((select count(*) from dispatch.changes), 6::bigint, '... but their changes are captured (for the lingering worker)');

---------------------------------------------------------------------------------------------------
-- privileges

set local role anon;
select throws_ok($$select count(*) from dispatch.changes$$, '42501', 'permission denied for schema dispatch', 'anon: no dispatch.changes');
select throws_ok($$select dispatch.drain()$$, '42501', 'permission denied for schema dispatch', 'anon: no dispatch.drain');
select throws_ok($$select dispatch.process_changes('{}')$$, '42501', 'permission denied for schema dispatch', 'anon: no dispatch.process_changes');
select throws_ok($$select public.dispatch_worker_drain()$$, '42501', 'permission denied for function dispatch_worker_drain',
  'anon: no dispatch_worker_drain');
reset role;
select is((select count(*) from (values ('anon'), ('authenticated')) r(role)
           cross join (values ('dispatch.changes'), ('dispatch.sources'), ('dispatch.worker_wake')) t(tab)
           where has_table_privilege(r.role, t.tab, 'select,insert,update,delete')), 0::bigint,
  'anon and authenticated have no privilege on changes, sources, worker_wake');
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000bb","role":"authenticated"}', true);
set local role authenticated;
select throws_ok($$select count(*) from dispatch.changes$$, '42501', 'permission denied for table changes', 'authenticated: no dispatch.changes');
select throws_ok($$select count(*) from dispatch.sources$$, '42501', 'permission denied for table sources', 'authenticated: no dispatch.sources');
select throws_ok($$select count(*) from dispatch.worker_wake$$, '42501', 'permission denied for table worker_wake', 'authenticated: no dispatch.worker_wake');
select throws_ok($$select dispatch.drain()$$, '42501', 'permission denied for function drain', 'authenticated: no dispatch.drain');
select throws_ok($$select dispatch.replay_change(1)$$, '42501', 'permission denied for function replay_change', 'authenticated: no dispatch.replay_change');
select throws_ok($$select dispatch.process_changes('{}')$$, '42501', 'permission denied for function process_changes',
  'authenticated: no dispatch.process_changes');
select throws_ok($$select dispatch.drain_batch('{}')$$, '42501', 'permission denied for function drain_batch', 'authenticated: no dispatch.drain_batch');
select throws_ok($$select dispatch.source_regclass('public.sdc_orders')$$, '42501', 'permission denied for function source_regclass',
  'authenticated: no dispatch.source_regclass');
select throws_ok($$select public.dispatch_worker_drain()$$, '42501', 'permission denied for function dispatch_worker_drain',
  'authenticated: no dispatch_worker_drain');
reset role;

select set_config('request.jwt.claims', '{"role":"service_role"}', true);
set local role service_role;
select set_config('dispatch.poked', '', true); -- a new "transaction": nothing poked yet
select is(public.dispatch_worker_drain(4) - 'lingerMs', '{"processed":4,"remaining":2}'::jsonb,
  'service_role: dispatch_worker_drain(4) drains 4 of 6 and says 2 remain');
select ok((select r ?& array['processed', 'remaining', 'lingerMs'] and (r ->> 'lingerMs')::int >= 0
           and r - 'lingerMs' = '{"processed":2,"remaining":0}'::jsonb from public.dispatch_worker_drain() r),
  'dispatch_worker_drain(): {processed, remaining, lingerMs}');
select is(current_setting('dispatch.poked', true), 'on',
  'the worker''s own drain does not poke the worker (its transaction counts as poked)');
select throws_ok($$select public.dispatch_worker_drain(0)$$, 'P0001', 'dispatch: drain: max_changes must be at least 1 (got 0)',
  'dispatch_worker_drain validates max_changes');
select throws_ok($$select dispatch.register_source('public.sdc_notes', 'public.sdc_notes_process')$$, '42501',
  'permission denied for function register_source', 'service_role cannot register_source (processors run as postgres)');
select throws_ok($$select dispatch.unregister_source('public.sdc_notes')$$, '42501',
  'permission denied for function unregister_source', 'service_role cannot unregister_source');
reset role;
select set_config('request.jwt.claims', '', true);
select is((select count(*) from dispatch.occurrences where event_id = 'sdc.order_created' and new_record ->> 'title' in ('P1', 'P2', 'P3', 'Q1', 'Q2', 'Q3')),
  6::bigint, 'the worker drain processed the changes');

-- `remaining` is counted up to 1000, not over the whole backlog (a scan per call under load)
do $$ begin for i in 1..1002 loop insert into public.sdc_notes values (100000 + i, 'backlog'); end loop; end $$;
select set_config('dispatch.poked', '', true);
select is(public.dispatch_worker_drain(1) - 'lingerMs', '{"processed":1,"remaining":1000}'::jsonb,
  'dispatch_worker_drain: remaining is counted up to 1000 (1001 wait)');

---------------------------------------------------------------------------------------------------
-- the drains' low mark (069_drain_low_mark.sql); its moves under concurrency: drain-low-mark.test.ts
select is(pg_get_serial_sequence('dispatch.changes', 'id'), 'dispatch.changes_id_seq', 'the changes'' id sequence is the one the mark reads');
select is((select seqcache from pg_sequence where seqrelid = 'dispatch.changes_id_seq'::regclass), 1::bigint,
  'ids handed out one at a time, in time order (the mark''s argument needs it)');
select ok(not has_function_privilege('service_role', 'dispatch.advance_changes_low_id(bigint, bigint, bigint)', 'execute')
          and not has_function_privilege('authenticated', 'dispatch.advance_changes_low_id(bigint, bigint, bigint)', 'execute'),
  'only the drain moves the mark');
insert into public.sdc_orders (title, user_id) values ('LM', '00000000-0000-0000-0000-0000000000a1');
create temp table low_mark as select max(id) as change_id from dispatch.changes;
select ok(dispatch.drain() >= 1, 'a drain in a transaction that has written');
select ok(dispatch.changes_low_id() <= (select change_id from low_mark),
  '... does not move the mark past the change it took (its rollback would bring it back)');

select * from finish();
rollback;
