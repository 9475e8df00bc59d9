-- realtime.messages partitions and realtime.send (facts §4).
select plan(14);

select has_table('realtime', 'messages', 'realtime.messages');
select ok(to_regclass('realtime.messages_' || to_char(d, 'YYYY_MM_DD')) is not null, 'partition for ' || d)
  from generate_series((now() at time zone 'utc')::date - 1, (now() at time zone 'utc')::date + 3, interval '1 day') d;

set local role postgres;
select realtime.send('{"n": 1}', 'counter', 'pgtap:send:topic', true);
reset role;
select is(
  (select tableoid::regclass::text from realtime.messages where topic = 'pgtap:send:topic'),
  'realtime.messages_' || to_char(now() at time zone 'utc', 'YYYY_MM_DD'),
  'realtime.send wrote one row into today''s partition');
select ok(
  (select payload ? 'id' and (payload ->> 'id')::uuid = id and extension = 'broadcast' and private
   from realtime.messages where topic = 'pgtap:send:topic'),
  'payload got the row id; extension broadcast; private');

-- As anon, RLS (no policy) denies the insert: send() only warns, the caller goes on.
set local role anon;
select lives_ok($$select realtime.send('{"n": 2}', 'counter', 'pgtap:send:denied', true)$$,
  'a denied send is swallowed (WARNING, not an error)');
reset role;
select is((select count(*)::int from realtime.messages where topic = 'pgtap:send:denied'), 0, 'and nothing was written');

-- Without a partition for now() the insert fails: send() still only warns (no DEFAULT partition).
-- (The drop is rolled back with the rest of this file.)
set local lock_timeout = '5s';
select lives_ok(format('drop table realtime.%I', 'messages_' || to_char(now() at time zone 'utc', 'YYYY_MM_DD')),
  'drop today''s partition (inside the rolled-back transaction)');
select lives_ok($$select realtime.send('{"n": 3}', 'counter', 'pgtap:send:nopartition', true)$$,
  'a send without a partition is swallowed (WARNING, not an error)');

-- Hosted lets postgres (through supautils) add policies on realtime.messages: private channels need it.
set local role postgres;
select lives_ok($$create policy pgtap_probe on realtime.messages for select to authenticated using (false)$$,
  'postgres can create a policy on realtime.messages');
select lives_ok($$drop policy pgtap_probe on realtime.messages$$, 'postgres can drop its policy');
reset role;

select * from finish();
