-- supadispatch core: the realtime install is safe on hosted (issue 22). Policies that already match
-- take no lock on auth or realtime; differing ones are created at commit (a deferred row), under a
-- lock_timeout; a missing partition for today drops broadcasts with one warning; prune trims the
-- plugin's pg_cron run history; unschedule_jobs tolerates missing jobs.
begin;
create extension if not exists pgtap;
select plan(16);

select ok(dispatch.install_realtime_policies(), 'policies installed (or already there)');
select ok(dispatch.realtime_policies_match(), 'the policies match their definitions');

-- Matching policies: no DDL, so no lock on auth.* or realtime.messages (supautils' policy grants would
-- take ACCESS EXCLUSIVE on them for any policy DDL).
set local role postgres;
select ok(dispatch.install_realtime_policies(), 'install again as postgres');
select is(dispatch.install_realtime_policies_at_commit(), false, 'nothing deferred when the policies match');
reset role;
select is((select count(*)::int from pg_locks where pid = pg_backend_pid() and locktype = 'relation'
           and relation in (select oid from pg_class where relnamespace = 'auth'::regnamespace or oid = 'realtime.messages'::regclass)
           and mode = 'AccessExclusiveLock'), 0, 'no ACCESS EXCLUSIVE lock on auth.* or realtime.messages was taken');

-- A differing policy: the install defers the DDL to commit.
alter policy dispatch_send_guard on realtime.messages with check (true);
select is(dispatch.realtime_policies_match(), false, 'a changed policy no longer matches');
select is(dispatch.install_realtime_policies_at_commit(), true, 'the install defers the policy step');
select is((select array_agg(task) from dispatch.deferred_installs), array['realtime_policies'], 'one deferred task, run at commit');
set constraints dispatch.deferred_installs_run immediate;
select ok(dispatch.realtime_policies_match() and not exists (select from dispatch.deferred_installs),
  'the deferred step re-created the policy and removed its row');

-- No partition for today (an idle hosted project): the batch is dropped with one warning, no error.
set local lock_timeout = '5s';
select lives_ok(format('drop table realtime.%I', 'messages_' || to_char(now() at time zone 'utc', 'YYYY_MM_DD')),
  'drop today''s partition (rolled back with this file)');
select lives_ok($$select dispatch.send_batch(array['dispatch:audience:x', 'dispatch:audience:y'], array['e', 'e'],
  array['{}'::jsonb, '{}'::jsonb])$$, 'send_batch without a partition does not fail');
select lives_ok($$select dispatch.notify('00000000-0000-0000-0000-0000000031aa', null, 'No partition', 'x')$$,
  'a notification (its batch merged and inserted in one statement, send_merged) without a partition does not fail');
select is((select count(*) from dispatch.notifications where user_id = '00000000-0000-0000-0000-0000000031aa'), 1::bigint,
  '... the notification is kept, its broadcast dropped');

-- Retention of pg_cron's run history and the uninstall side.
select ok(dispatch.prune() ? 'cron_runs', 'prune reports the pg_cron runs it trimmed');
select is(case when to_regnamespace('cron') is null then 2 else (select dispatch.schedule_jobs()::int * 0 + dispatch.unschedule_jobs()) end,
  2, 'unschedule_jobs removes tick and prune');
select is(dispatch.unschedule_jobs(), 0, 'and again: missing jobs are skipped, not an error');

select * from finish();
rollback;
