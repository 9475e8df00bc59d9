-- supadispatch core: counts-only counters (sql/core/040_counters.sql counter_pending,
-- publish_counter_pending; 065_changes.sql count_changes): the writer adds its statement's row count
-- to its slot's running total, no change row; dispatch.drain() publishes the difference (seq, one
-- broadcast); rollbacks never reach the totals; reconcile corrections keep later publishes exact; the
-- commit-time poke check is queued only when the statement saw no lingering worker (wake_until), and
-- a lingering worker keeps polling while a total is unpublished (worker_linger_ms).
-- "Commit" is simulated as in 035_changes: `set constraints ... immediate`.
begin;
create extension if not exists pgtap;
select plan(36);

-- our drain must not return 0 because a tick or worker holds the drain slots
select pg_advisory_xact_lock(hashtext('dispatch.drain'));
\ir fixtures/broadcasts.sql

create table public.sdp_t (id bigint generated always as identity primary key, v int);
select dispatch.register_counter('sdp_all', 'audience', 'admin', array['things'], 16, 'public.sdp_t',
  'select ''admin'', count(*) from public.sdp_t');
select dispatch.register_counter('sdp_ops', 'audience', 'ops', '{}', 16, 'public.sdp_t',
  'select ''ops'', count(*) from public.sdp_t');
create trigger dispatch_capture_insert after insert on public.sdp_t referencing new table as new_rows
  for each statement execute function dispatch.count_changes('sdp_all', 'admin', 'sdp_ops', 'ops');
create trigger dispatch_capture_delete after delete on public.sdp_t referencing old table as old_rows
  for each statement execute function dispatch.count_changes('sdp_all', 'admin', 'sdp_ops', 'ops');
create trigger dispatch_capture_update after update on public.sdp_t referencing new table as new_rows
  for each statement execute function dispatch.count_changes('sdp_all', 'admin', 'sdp_ops', 'ops');
create view pg_temp.totals as
  select p.name, sum(p.total)::bigint as total from dispatch.counter_pending p where p.name like 'sdp\_%' group by 1;
create temp table c0 as select count(*) as n from dispatch.changes;

insert into public.sdp_t (v) select g from generate_series(1, 3) g;
select results_eq($$select name, total from pg_temp.totals order by 1$$, $$values ('sdp_all'::text, 3::bigint), ('sdp_ops', 3)$$,
  'an INSERT of 3 rows: +3 to each counter''s total');
select results_eq($$select slot from dispatch.counter_pending where name = 'sdp_all'$$, $$values (pg_backend_pid())$$,
  '... in this backend''s slot');
select is((select count(*) from dispatch.changes), (select n from c0), '... and no change row');
insert into public.sdp_t (v) values (4);
select is((select count(*) from dispatch.counter_pending where name = 'sdp_all'), 1::bigint, 'the next write updates the same slot row');
select is((select total from pg_temp.totals where name = 'sdp_all'), 4::bigint, '... +1');
delete from public.sdp_t where v = 1;
select is((select total from pg_temp.totals where name = 'sdp_all'), 3::bigint, 'a DELETE: -1');
update public.sdp_t set v = v + 10;
select is((select total from pg_temp.totals where name = 'sdp_all'), 3::bigint, 'an UPDATE moves nothing');
delete from public.sdp_t where false;
insert into public.sdp_t (v) select 1 where false;
select is((select total from pg_temp.totals where name = 'sdp_all'), 3::bigint, 'empty statements move nothing');
savepoint w;
insert into public.sdp_t (v) select g from generate_series(1, 5) g;
rollback to savepoint w;
select is((select total from pg_temp.totals where name = 'sdp_all'), 3::bigint, 'a rolled-back write never reaches the total');
select is(dispatch.counter_value('sdp_all', 'admin'), 0::bigint, 'nothing published before a drain');

-- publish: every drain, also one that finds no change
select is(dispatch.drain(10), 0, 'a drain with no change to process returns 0 ...');
select results_eq($$select value, seq, pending_seen from dispatch.counter_state where name = 'sdp_all'$$, $$values (3::bigint, 1::bigint, 3::bigint)$$,
  '... and publishes the total: value 3, seq 1 (pending_seen 3)');
select results_eq($$select payload - 'id' from pg_temp.broadcasts where event = 'counter' and payload ->> 'name' = 'sdp_all'$$,
  $$values ('{"name": "sdp_all", "value": 3, "seq": 1, "invalidates": ["things"]}'::jsonb)$$, '... with one broadcast');
select is((select value from dispatch.counter_state where name = 'sdp_ops' and scope = 'ops'), 3::bigint, 'both counters of the table');
select is(dispatch.drain(10), 0, 'a second drain ...');
select is((select seq from dispatch.counter_state where name = 'sdp_all'), 1::bigint, '... publishes nothing new (same seq)');
insert into public.sdp_t (v) values (5), (6);
delete from public.sdp_t where v = 5;
select dispatch.drain(10);
select results_eq($$select value, seq from dispatch.counter_state where name = 'sdp_all'$$, $$values (4::bigint, 2::bigint)$$,
  'the next drain publishes the difference (+2 -1)');
select is((select count(*) from dispatch.reconcile_counters('sdp_all', false) where expected <> actual), 0::bigint,
  'the value equals reconcile_counters');
-- a reconcile correction, then more writes: still exact
update dispatch.counter_state set value = 40 where name = 'sdp_all';
select is((select count(*) from dispatch.reconcile_counters('sdp_all', true) where corrected), 1::bigint, 'reconcile corrects a drifted value');
insert into public.sdp_t (v) values (7);
select dispatch.drain(10);
select is(dispatch.counter_value('sdp_all', 'admin'), 5::bigint, 'writes after a correction are published on top of it');
select is((select count(*) from dispatch.reconcile_counters(null, false) where name like 'sdp\_%' and expected <> actual), 0::bigint,
  'both counters equal reconcile_counters');
-- a publish whose caller does not flush: its deltas are flushed at commit (flush_counters_at_commit)
insert into public.sdp_t (v) values (10);
select is(dispatch.publish_counter_pending(), 2, 'a publish outside a drain moves both counters ...');
select ok(exists (select from dispatch.counter_dirty_tx where xid = pg_current_xact_id())
          and dispatch.counter_value('sdp_all', 'admin') = 5, '... marks the transaction for its commit, unflushed');
set constraints dispatch.counter_dirty_publish immediate; -- what COMMIT does
set constraints dispatch.counter_dirty_publish deferred;
select is(dispatch.counter_value('sdp_all', 'admin'), 6::bigint, '... and the commit flushes it');

-- a counter that is not registered: the write goes through, nothing is kept
create table public.sdp_u (id int);
create trigger sdp_u_ins after insert on public.sdp_u referencing new table as new_rows
  for each statement execute function dispatch.count_changes('sdp_nope', 'admin');
select lives_ok($$insert into public.sdp_u values (1)$$, 'count_changes for an unknown counter: the write goes through');
select is((select count(*) from dispatch.counter_pending where name = 'sdp_nope'), 0::bigint, '... and keeps nothing');
select throws_ok($$create trigger sdp_u_bad after insert on public.sdp_u referencing new table as new_rows
  for each statement execute function dispatch.count_changes('sdp_all'); insert into public.sdp_u values (2)$$,
  'P0001', null, 'count_changes without pairs of counter and scope raises');

-- the commit-time poke check: queued only when the statement saw no lingering worker (wake_until)
set constraints dispatch.counter_pending_committing immediate;
set constraints dispatch.counter_pending_committing deferred;
update dispatch.worker_wake set next_poke_at = clock_timestamp() + interval '1 hour';
select set_config('dispatch.poked', '', true);
insert into public.sdp_t (v) values (8);
select ok((select bool_and(wake_until > clock_timestamp() + interval '59 minutes') from dispatch.counter_pending
           where name = 'sdp_all' and slot = pg_backend_pid()), 'the slot row keeps the next_poke_at its statement read');
update dispatch.worker_wake set next_poke_at = 'epoch'; -- the worker's linger would end before this commit
set constraints dispatch.counter_pending_committing immediate;
set constraints dispatch.counter_pending_committing deferred;
select is(current_setting('dispatch.poked', true), '', 'the statement saw a lingering worker: no commit-time check queued, no poke');
select is(dispatch.worker_linger_ms(), 100, '... and the worker keeps polling while a committed total is not published');
update dispatch.worker_wake set next_poke_at = 'epoch';
insert into public.sdp_t (v) values (9);
set constraints dispatch.counter_pending_committing immediate;
set constraints dispatch.counter_pending_committing deferred;
select is(current_setting('dispatch.poked', true), 'on', 'no lingering worker at the statement: the commit-time check pokes');
select ok(dispatch.xact_in_progress((pg_current_xact_id()::text::bigint % 4294967296)::text::xid), 'xact_in_progress: this transaction');
select ok(not dispatch.xact_in_progress('0'::xid), 'xact_in_progress: no xmax');

-- a backend that has ended leaves its row: the next publish folds it into slot 0, the sum unchanged
-- (2147483000 is above any pid_max: no backend has it)
insert into dispatch.counter_pending (name, scope, slot, total) values ('sdp_all', 'admin', 2147483000, 5);
create temp table before_fold as select (select total from pg_temp.totals where name = 'sdp_all') as total;
select is(dispatch.drain(10), 0, 'a drain with a row of an ended backend ...');
select results_eq($$select slot, total from dispatch.counter_pending where name = 'sdp_all' and slot not in (pg_backend_pid())$$,
  $$values (0, 5::bigint)$$, '... folds that row into slot 0 ...');
select results_eq($$select (select total from pg_temp.totals where name = 'sdp_all'), dispatch.counter_value('sdp_all', 'admin')$$,
  $$select total, total from before_fold$$, '... keeping the sum, and the published value is that sum');

select * from finish();
rollback;
