-- supadispatch core: the worker's alarm (056_worker_alarm): a run that ends while a receipt is due
-- soon waits for it or hands over, and of several runs that end together exactly one arms.
begin;
create extension if not exists pgtap;
select plan(18);

-- only this file's receipts are pending (rolled back at the end)
delete from dispatch.receipts where status in ('pending', 'scheduled');
update dispatch.worker_alarm set owner = null, wake_at = null, alive_until = null, handovers = 0;
select dispatch.set_setting('worker_wake_within_ms', '60000'::jsonb);
select dispatch.register_event('sdt.alarm', null, null, null, 'info', true, false, array['sdt_alarm']);

select is(dispatch.worker_arm('run-a', 10000, 40000) ->> 'action', 'none', 'nothing pending: no alarm');

select dispatch.create_receipts('sdt.alarm', 'sdt_alarm:hooks', 'sdt_alarm', 'hooks', '5 seconds',
  array[row(dispatch.emit('sdt.alarm', '{}'::jsonb), null, 'https://hooks.example/alarm', null)::dispatch.recipient]);

create temp table sdt_a as select dispatch.worker_arm('run-a', 10000, 40000) as d;
select is((select d ->> 'action' from sdt_a), 'wait', 'due in 5 s, run-a can wait 10 s: it waits');
select ok((select (d ->> 'dueInMs')::int between 4000 and 5000 from sdt_a), 'and says how long');
select is((select owner from dispatch.worker_alarm), 'run-a', 'run-a holds the alarm');

create temp table sdt_b as select dispatch.worker_arm('run-b', 10000, 40000) as d;
select is((select d ->> 'action' from sdt_b), 'none', 'run-b ends at the same time: it neither waits nor hands over');
select is((select d ->> 'heldBy' from sdt_b), 'run-a', 'run-a sees to it');

select is(dispatch.worker_arm('run-a', 0, 40000) ->> 'action', 'handover',
  'run-a can no longer wait: it hands over, keeping the alarm for its chain');
select is((select handovers from dispatch.worker_alarm), 1::bigint, 'one hand-over counted');
select is(dispatch.worker_arm('run-b', 0, 40000) ->> 'action', 'none',
  'run-b cannot wait either: no second chain while the first lives');
select is((select handovers from dispatch.worker_alarm), 1::bigint, 'still one hand-over');

-- the chain died without releasing it (alive_until passed): the next run takes over
update dispatch.worker_alarm set alive_until = clock_timestamp() - interval '1 second';
select is(dispatch.worker_arm('run-b', 10000, 40000) ->> 'action', 'wait', 'a dead holder does not block');
select is((select owner from dispatch.worker_alarm), 'run-b', 'run-b holds it now');

select dispatch.worker_disarm('run-a');
select is((select owner from dispatch.worker_alarm), 'run-b', 'disarm releases only its own alarm');
select dispatch.worker_disarm('run-b');
select is((select owner from dispatch.worker_alarm), null, 'released');

select is(dispatch.worker_arm('run-d', 2000, 40000) ->> 'waitMs', '2000',
  'due after the run''s end: it first waits as long as it can, then asks again (one hand-over per budget)');
select ok((dispatch.tick() ->> 'due')::int >= 1, 'tick pokes for a receipt due before its next run');

-- due in 10 minutes: outside the window, no alarm
update dispatch.receipts set next_attempt_at = now() + interval '10 minutes' where event_id = 'sdt.alarm';
select is(dispatch.worker_arm('run-c', 10000, 40000) ->> 'action', 'none', 'nothing due within the window');
select dispatch.set_setting('worker_wake_within_ms', '0'::jsonb);
update dispatch.receipts set next_attempt_at = now() + interval '1 second' where event_id = 'sdt.alarm';
select is(dispatch.worker_arm('run-c', 10000, 40000) ->> 'action', 'none', 'worker_wake_within_ms = 0 turns it off');

select * from finish();
rollback;
