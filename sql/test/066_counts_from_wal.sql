-- supadispatch core: counts from the WAL (sql/core/066_counts_from_wal.sql), what runs inside one
-- transaction: count_from_wal's choices (no slot or the setting off: the writers keep counting; a table
-- without a replica identity stays with them), its errors, the switch (wake triggers gated by
-- worker_wake_until_ms, the table in the publication, no running total written), the release by
-- register_source, the poke moving worker_wake_until_ms, and who may call what. The slot, decoding
-- and the switch under concurrent writers need commits: sql/test/counts-from-wal.test.ts.
begin;
create extension if not exists pgtap;
select plan(31);

create table public.sdw_t (id bigint generated always as identity primary key, v int);
create table public.sdw_nokey (v int);
create table public.sdw_other (id bigint primary key);
-- tables a migration creates belong to postgres (this file may run as another role)
alter table public.sdw_t owner to postgres;
alter table public.sdw_nokey owner to postgres;
create function public.sdw_process(p_changes dispatch.changes[]) returns void language sql as '';
select dispatch.register_counter('sdw_all', 'audience', 'admin', '{}', 16, 'public.sdw_t',
  'select ''admin'', count(*) from public.sdw_t');
select dispatch.register_counter('sdw_nokey', 'audience', 'admin', '{}', 16, 'public.sdw_nokey',
  'select ''admin'', count(*) from public.sdw_nokey');
create trigger dispatch_capture_insert after insert on public.sdw_t referencing new table as new_rows
  for each statement execute function dispatch.count_changes('sdw_all', 'admin');
create trigger dispatch_capture_delete after delete on public.sdw_t referencing old table as old_rows
  for each statement execute function dispatch.count_changes('sdw_all', 'admin');
create view pg_temp.in_pub as
  select c.relname::text from pg_publication_rel pr join pg_publication p on p.oid = pr.prpubid
  join pg_class c on c.oid = pr.prrelid where p.pubname = 'supadispatch_counts';
create view pg_temp.trigger_fns as
  select t.tgname::text, t.tgfoid::regproc::text as fn from pg_trigger t
  where t.tgrelid = 'public.sdw_t'::regclass and not t.tgisinternal order by 1;

-- errors name what is wrong
select throws_ok($$select dispatch.count_from_wal('public.sdw_missing', array['sdw_all', 'admin'])$$,
  'dispatch: count_from_wal: table public.sdw_missing does not exist', 'an unknown table is refused by name');
select throws_like($$select dispatch.count_from_wal('public.sdw_t', array['sdw_all'])$$,
  '%pairs of counter and scope expected%', 'an odd list of pairs is refused');

-- the setting off: the writers keep counting
update dispatch.settings set value = 'false' where key = 'count_from_wal';
select ok(not dispatch.wal_counts_available(), 'count_from_wal = false: not available');
select is(dispatch.count_from_wal('public.sdw_t', array['sdw_all', 'admin']), 'counted by the writers',
  'without WAL counting the table stays counted by its writers');
select is(array(select fn from pg_temp.trigger_fns), array['dispatch.count_changes', 'dispatch.count_changes'],
  'its triggers still count');
select ok(not exists (select from pg_temp.in_pub where relname = 'sdw_t'), 'it is not in the publication');
select is((select (wanted, live) from dispatch.wal_count_sources where source_table = 'public.sdw_t'),
  (true, false), 'it waits for tick to switch it (wanted, not live)');
update dispatch.settings set value = 'true' where key = 'count_from_wal';
select is(dispatch.wal_counts_available(), current_setting('wal_level') = 'logical',
  'available with wal_level = logical and the REPLICATION attribute');

-- no replica identity: a table in a publication of deletes would refuse every DELETE
select alike(dispatch.count_from_wal('public.sdw_nokey', array['sdw_nokey', 'admin']),
  'counted by the writers (no replica identity%', 'a table without a primary key stays with its writers');
select lives_ok($$delete from public.sdw_nokey$$, 'and its deletes still work');
select is(dispatch.wal_count_ineligible('public.sdw_other'),
  case when pg_has_role('postgres', (select relowner from pg_class where oid = 'public.sdw_other'::regclass), 'USAGE') then null
       else format('owned by %s, not by postgres: the switch needs its owner', current_user) end,
  'a table postgres does not own is not switched (named, with its owner)');
select is((select (wanted, live) from dispatch.wal_count_sources where source_table = 'public.sdw_nokey'),
  (false, false), 'it is not waiting for a switch');

-- the switch (what count_from_wal does with a healthy slot, and tick once it created one)
select lives_ok($$select dispatch.wal_count_switch('public.sdw_t')$$, 'the switch runs');
select is(array(select fn from pg_temp.trigger_fns), array['dispatch.wake_on_count', 'dispatch.wake_on_count'],
  'the triggers only wake, under the generator''s names');
select ok((select pg_get_triggerdef(t.oid) like '%WHEN%pg_sequence_last_value(''dispatch.worker_wake_until_ms''::regclass)%'
           from pg_trigger t where t.tgrelid = 'public.sdw_t'::regclass and t.tgname = 'dispatch_capture_insert'),
  'gated by worker_wake_until_ms in the WHEN clause');
select ok(exists (select from pg_temp.in_pub where relname = 'sdw_t'), 'the table is in the publication');
select is((select (live, relid) from dispatch.wal_count_sources where source_table = 'public.sdw_t'),
  (true, 'public.sdw_t'::regclass::oid), 'live, with the oid the decoder reports');

-- a write: no running total; with no lingering worker it pokes (worker_wake and the sequence move)
update dispatch.worker_wake set next_poke_at = now() - interval '1 second';
select setval('dispatch.worker_wake_until_ms', 1);
insert into public.sdw_t (v) values (1), (2);
delete from public.sdw_t where v = 1;
select is((select count(*)::int from dispatch.counter_pending where name = 'sdw_all'), 0,
  'a WAL-counted write keeps no running total');
select ok((select next_poke_at > clock_timestamp() from dispatch.worker_wake),
  'the write poked the worker (no worker lingered)');
select is(pg_sequence_last_value('dispatch.worker_wake_until_ms'),
  (select (extract(epoch from next_poke_at) * 1000)::bigint from dispatch.worker_wake),
  'the poke set worker_wake_until_ms to next_poke_at');

-- its primary key dropped after the switch: Postgres would refuse its DELETEs; tick switches it back
alter table public.sdw_t drop constraint sdw_t_pkey;
select ok(dispatch.wal_counts_setup_due(), 'a live table without a replica identity is due for tick');
set local lock_timeout = '7s';
select alike((select done from dispatch.wal_counts_setup()), '% back to counting in the write',
  'tick switches it back to its writers');
select is(current_setting('lock_timeout'), '7s', 'the caller''s lock_timeout is back after the setup');
select ok((select 'lock_timeout=3s' = any(p.proconfig) from pg_catalog.pg_proc p
           where p.oid = 'dispatch.wal_counts_setup_alone()'::regprocedure),
  'inside, the setup waits 3 s at most for a lock');
select is(array(select fn from pg_temp.trigger_fns), array['dispatch.count_changes', 'dispatch.count_changes'],
  'its triggers count again (with its pairs)');
select ok(not exists (select from pg_temp.in_pub where relname = 'sdw_t')
          and (select wanted and not live from dispatch.wal_count_sources where source_table = 'public.sdw_t'),
  'out of the publication, still wanted (switched again once it has a key)');
select lives_ok($$delete from public.sdw_t where v = 2$$, 'its deletes work');
alter table public.sdw_t add primary key (id);

-- the table's next migration registers it again: out of the publication until count_from_wal
select dispatch.register_source('public.sdw_t', 'public.sdw_process');
select ok(not exists (select from pg_temp.in_pub where relname = 'sdw_t')
          and (select not wanted and not live from dispatch.wal_count_sources where source_table = 'public.sdw_t'),
  'register_source releases it (a table that is no longer counts-only is not decoded)');

-- who may call what
select ok(not has_function_privilege('service_role', 'dispatch.count_from_wal(text, text[])', 'execute')
          and not has_function_privilege('service_role', 'dispatch.wal_counts_setup()', 'execute')
          and not has_function_privilege('service_role', 'dispatch.wal_counts_setup_alone()', 'execute')
          and not has_function_privilege('service_role', 'dispatch.wal_count_switch(text)', 'execute')
          and not has_function_privilege('service_role', 'dispatch.publish_wal_counts(boolean)', 'execute')
          and not has_function_privilege('service_role', 'dispatch.publish_wal_counts_now()', 'execute'),
  'service_role may not switch tables, create slots nor publish');
select ok(not has_function_privilege('authenticated', 'dispatch.count_from_wal(text, text[])', 'execute')
          and not has_function_privilege('anon', 'dispatch.wal_counts_setup()', 'execute')
          and not has_function_privilege('authenticated', 'dispatch.wal_counts_setup_alone()', 'execute')
          and not has_function_privilege('anon', 'dispatch.publish_wal_counts_now()', 'execute')
          and not has_table_privilege('authenticated', 'dispatch.wal_count_sources', 'select')
          and not has_table_privilege('anon', 'dispatch.wal_count_state', 'select'),
  'anon and authenticated may neither call nor read any of it');
-- a signed-in user's write evaluates the WHEN clause as that user (pg_sequence_last_value needs SELECT
-- on the sequence, and nothing of the dispatch schema)
select dispatch.wal_count_switch('public.sdw_t');
grant insert, delete, select on public.sdw_t to authenticated;
update dispatch.worker_wake set next_poke_at = now() - interval '1 second';
select setval('dispatch.worker_wake_until_ms', 1);
set local role authenticated;
select lives_ok($$insert into public.sdw_t (v) values (3); delete from public.sdw_t where v = 3$$,
  'authenticated writes a WAL-counted table (its trigger fires and pokes)');
reset role;

select * from finish();
rollback;
