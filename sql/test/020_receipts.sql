-- Test receipts use transport 'sdt_test' and claims filter on it, so due receipts already in the
-- database do not interfere.
-- supadispatch core: receipts state machine, worker queue (claim / lease / fencing), attempts, redaction.
begin;
create extension if not exists pgtap;
select plan(59);

select dispatch.register_event('sdt.plain', null, null, 'test', 'info', false);
create temp table ids (k text primary key, id uuid);
insert into ids select 'occ', dispatch.emit('sdt.plain', '{"n": 1}');

select is((select status from dispatch.occurrences where id = (select id from ids where k = 'occ')), 'expanded',
  'an event without expander records its occurrence');

-- creation and duplicate expansion
select is(dispatch.create_receipts('sdt.plain', 'sdt:x', 'sdt_test', 'x', interval '0',
  array[row((select id from ids where k = 'occ'), null, 'a@example.com', null)::dispatch.recipient,
        row((select id from ids where k = 'occ'), null, 'b@example.com', null)::dispatch.recipient,
        row((select id from ids where k = 'occ'), null, 'b@example.com', null)::dispatch.recipient]), 2,
  'create_receipts: one receipt per recipient');
select is(dispatch.create_receipts('sdt.plain', 'sdt:x', 'sdt_test', 'x', interval '0',
  array[row((select id from ids where k = 'occ'), null, 'a@example.com', null)::dispatch.recipient,
        row((select id from ids where k = 'occ'), null, 'b@example.com', null)::dispatch.recipient]), 0,
  'expanding the same occurrence again creates no duplicate');
select is((select count(*) from dispatch.receipts where occurrence_id = (select id from ids where k = 'occ')), 2::bigint,
  'still two receipts');
select is(dispatch.create_receipts('sdt.plain', 'sdt:x', 'sdt_test', 'x', interval '0', '{}'), 0, 'no recipients: nothing');
select throws_ok($$select dispatch.create_receipts('nope', 'c', 'email', 'x', '0', array[row(gen_random_uuid(), null, 'x', null)::dispatch.recipient])$$,
  'P0001', 'dispatch: unknown event nope', 'create_receipts: unknown event');
insert into ids select 'a', id from dispatch.receipts where address = 'a@example.com';
insert into ids select 'b', id from dispatch.receipts where address = 'b@example.com';
select results_eq($$select status, attempt_count, idempotency_key = 'dispatch-' || id::text from dispatch.receipts
  where id = (select id from ids where k = 'a')$$, $$values ('pending'::text, 0, true)$$, 'a new receipt is pending with an idempotency key');

-- only the transition functions move a receipt
select throws_ok(format('update dispatch.receipts set status = %L where id = %L', 'sent', (select id from ids where k = 'a')),
  'P0001', format('dispatch: illegal receipt transition pending -> sent (receipt %s)', (select id from ids where k = 'a')),
  'a direct status update is refused');
select throws_ok(format('update dispatch.receipts set attempt_count = 5 where id = %L', (select id from ids where k = 'a')),
  'P0001', format('dispatch: attempt_count changes only when a receipt is claimed (receipt %s)', (select id from ids where k = 'a')),
  'a direct attempt_count update is refused');
select throws_ok(format('select dispatch.complete_receipt(%L, 1)', (select id from ids where k = 'a')),
  'P0001', format('dispatch: illegal receipt transition pending -> sent (receipt %s)', (select id from ids where k = 'a')),
  'complete_receipt refuses a pending receipt');
select throws_ok(format('select dispatch.fail_receipt(%L, 1, %L)', (select id from ids where k = 'a'), 'x'),
  'P0001', format('dispatch: illegal receipt transition pending -> failed (receipt %s)', (select id from ids where k = 'a')),
  'fail_receipt refuses a pending receipt');
select throws_ok($$select dispatch.complete_receipt('00000000-0000-0000-0000-000000000000', 1)$$, 'P0001',
  'dispatch: receipt 00000000-0000-0000-0000-000000000000 not found', 'unknown receipt');
select throws_ok($$select dispatch.claim_receipts('', 1)$$, 'P0001', 'dispatch: claim needs a worker name', 'claim needs a worker');
select throws_ok($$select dispatch.claim_receipts('w', 0)$$, 'P0001', 'dispatch: claim size must be between 1 and 1000', 'claim size');

-- claim: lease + fencing token + attempt
create temp table c1 as select * from dispatch.claim_receipts('w1', 1, 60, array['sdt_test']);
select is((select count(*) from c1), 1::bigint, 'claim returns one receipt');
select results_eq($$select status, attempt_count, lease_owner, lease_token is not null, lease_expires_at > now()
  from dispatch.receipts where id = (select id from c1)$$,
  $$values ('sending'::text, 1, 'w1'::text, true, true)$$, 'claimed: sending, attempt 1, leased');
select results_eq($$select attempt, lease_token, worker, finished_at is null from dispatch.attempts where receipt_id = (select id from c1)$$,
  $$select 1, lease_token, 'w1'::text, true from c1$$, 'claim opens an attempt with the token');
create temp table c2 as select * from dispatch.claim_receipts('w2', 10, 60, array['sdt_test']);
select is((select count(*) from c2), 1::bigint, 'a second worker gets the other receipt');
select ok((select lease_token from c2) > (select lease_token from c1), 'fencing tokens increase');
select is((select count(*) from dispatch.claim_receipts('w3', 10, null, array['sdt_test'])), 0::bigint, 'nothing left to claim');

-- complete with a stale token / the right token
select throws_ok(format('select dispatch.complete_receipt(%L, %s)', (select id from c1), (select lease_token from c1) + 1000),
  '40001', format('dispatch: stale lease token %s for receipt %s (current %s)', (select lease_token from c1) + 1000,
                  (select id from c1), (select lease_token from c1)), 'complete with a wrong token is refused');
select results_eq(format('select status, provider_message_id from dispatch.complete_receipt(%L, %s, %L, %L, 202, 15)',
  (select id from c1), (select lease_token from c1), 'msg-1', '{"ok":true}'),
  $$values ('sent'::text, 'msg-1'::text)$$, 'complete_receipt: sent');
select results_eq($$select outcome, http_status, duration_ms, finished_at is not null from dispatch.attempts where receipt_id = (select id from c1)$$,
  $$values ('sent'::text, 202, 15, true)$$, 'attempt closed as sent');
select results_eq($$select lease_owner, lease_expires_at, sent_at is not null from dispatch.receipts where id = (select id from c1)$$,
  $$values (null::text, null::timestamptz, true)$$, 'lease released');
select throws_ok(format('select dispatch.complete_receipt(%L, %s)', (select id from c1), (select lease_token from c1)),
  'P0001', format('dispatch: illegal receipt transition sent -> sent (receipt %s)', (select id from c1)), 'a sent receipt cannot complete again');
select throws_ok(format('select dispatch.cancel_receipt(%L)', (select id from c1)),
  'P0001', format('dispatch: illegal receipt transition sent -> cancelled (receipt %s)', (select id from c1)), 'a sent receipt cannot be cancelled');

-- retry with backoff
select results_eq(format('select status, last_error from dispatch.retry_receipt(%L, %s, %L, null, 503)',
  (select id from c2), (select lease_token from c2), 'upstream 503'),
  $$values ('scheduled'::text, 'upstream 503'::text)$$, 'retry_receipt: scheduled');
select ok((select next_attempt_at > now() + interval '25 seconds' and next_attempt_at < now() + interval '40 seconds'
           from dispatch.receipts where id = (select id from c2)), 'first retry after ~30 s (backoff)');
select results_eq($$select outcome, http_status, error from dispatch.attempts where receipt_id = (select id from c2)$$,
  $$values ('retry'::text, 503, 'upstream 503'::text)$$, 'attempt closed as retry');
select is((select count(*) from dispatch.claim_receipts('w1', 10, null, array['sdt_test'])), 0::bigint, 'a scheduled receipt is not due before its time');
update dispatch.receipts set next_attempt_at = now() - interval '1 second' where id = (select id from c2);
create temp table c3 as select * from dispatch.claim_receipts('w1', 10, 60, array['sdt_test']);
select results_eq($$select id, attempt_count from c3$$, $$select id, 2 from c2$$, 'the due retry is claimed: attempt 2');

-- lease expiry and reclaim; the old holder's token is stale
update dispatch.receipts set lease_expires_at = now() - interval '1 second' where id = (select id from c3);
select is(dispatch.reclaim_expired_leases(), 1, 'reclaim_expired_leases reclaims one');
select results_eq($$select status, last_error, lease_owner from dispatch.receipts where id = (select id from c3)$$,
  $$values ('scheduled'::text, 'lease expired'::text, null::text)$$, 'expired lease: back to scheduled');
select is((select outcome from dispatch.attempts where receipt_id = (select id from c3) and attempt = 2), 'expired', 'attempt closed as expired');
select throws_ok(format('select dispatch.complete_receipt(%L, %s)', (select id from c3), (select lease_token from c3)),
  '40001', format('dispatch: stale lease token %s for receipt %s (current %s)', (select lease_token from c3), (select id from c3),
                  (select lease_token from c3)), 'a late completion after the reclaim, before a new claim, is stale (40001)');
create temp table c4 as select * from dispatch.claim_receipts('w2', 10, 60, array['sdt_test']);
select throws_ok(format('select dispatch.complete_receipt(%L, %s)', (select id from c3), (select lease_token from c3)),
  '40001', format('dispatch: stale lease token %s for receipt %s (current %s)', (select lease_token from c3), (select id from c3),
                  (select lease_token from c4)), 'the first worker''s late completion is refused');
select throws_ok(format('select dispatch.retry_receipt(%L, %s, %L)', (select id from c3), (select lease_token from c3), 'x'),
  '40001', format('dispatch: stale lease token %s for receipt %s (current %s)', (select lease_token from c3), (select id from c3),
                  (select lease_token from c4)), 'and so is its late retry');
select throws_ok(format('select dispatch.set_receipt_content(%L, %s, %L)', (select id from c3), (select lease_token from c3), '{}'),
  '40001', format('dispatch: stale lease token %s for receipt %s (current %s)', (select lease_token from c3), (select id from c3),
                  (select lease_token from c4)), 'and its content write');

-- content stored once, secrets redacted
select lives_ok(format('select dispatch.set_receipt_content(%L, %s, %L, %L)', (select id from c4), (select lease_token from c4),
  '{"subject":"Your code 123456","html":"<b>123456</b> \"tok\"","text":"link ?t=tok-abc"}', '{123456,tok-abc}'),
  'set_receipt_content');
select is((select content from dispatch.receipts where id = (select id from c4)),
  '{"subject":"Your code [redacted]","html":"<b>[redacted]</b> \"tok\"","text":"link ?t=[redacted]"}'::jsonb, 'secrets are redacted');

-- permanent failure, requeue
select results_eq(format('select status, last_error from dispatch.fail_receipt(%L, %s, %L, 400)', (select id from c4),
  (select lease_token from c4), 'bad address'), $$values ('failed'::text, 'bad address'::text)$$, 'fail_receipt: failed');
select is((select outcome from dispatch.attempts where receipt_id = (select id from c4) and attempt = 3), 'failed', 'attempt closed as failed');
select throws_ok(format('select dispatch.complete_receipt(%L, %s)', (select id from c3), (select lease_token from c3)),
  '40001', format('dispatch: stale lease token %s for receipt %s (current %s)', (select lease_token from c3), (select id from c3),
                  (select lease_token from c4)), 'after the new owner finished, the old holder''s report is still stale (40001)');
select is((select attempt_count from dispatch.receipts where id = (select id from c4)), 3, 'attempt_count counts claims');
select results_eq(format('select status from dispatch.requeue_receipt(%L)', (select id from c4)), $$values ('scheduled'::text)$$,
  'requeue_receipt: failed -> scheduled');
select throws_ok(format('select dispatch.requeue_receipt(%L)', (select id from c1)), 'P0001',
  format('dispatch: illegal receipt transition sent -> scheduled (receipt %s)', (select id from c1)), 'only failed receipts are requeued');

-- attempts used up: retry becomes failed; expiry too
select dispatch.set_setting('max_attempts', '4');
create temp table c5 as select * from dispatch.claim_receipts('w1', 10, 60, array['sdt_test']);
select results_eq(format('select status, attempt_count from dispatch.retry_receipt(%L, %s, %L)', (select id from c5),
  (select lease_token from c5), 'again'), $$values ('failed'::text, 4)$$, 'retry after the last attempt fails the receipt');

-- cancel / skip
insert into ids select 'occ2', dispatch.emit('sdt.plain', '{"n": 2}');
select dispatch.create_receipts('sdt.plain', 'sdt_sms:x', 'sdt_test', 'x', interval '1 hour',
  array[row((select id from ids where k = 'occ2'), null, '+100', null)::dispatch.recipient,
        row((select id from ids where k = 'occ2'), null, '+200', null)::dispatch.recipient]);
select is((select count(*) from dispatch.receipts where occurrence_id = (select id from ids where k = 'occ2')
           and status = 'pending' and next_attempt_at > now() + interval '59 minutes'), 2::bigint, 'a delayed channel is due later');
select results_eq(format('select status, last_error from dispatch.cancel_receipt(%L, %L)',
  (select id from dispatch.receipts where address = '+100'), 'order cancelled'),
  $$values ('cancelled'::text, 'order cancelled'::text)$$, 'cancel_receipt');
select results_eq(format('select status, skip_reason from dispatch.skip_receipt(%L, %L)',
  (select id from dispatch.receipts where address = '+200'), 'unsubscribed'),
  $$values ('skipped'::text, 'unsubscribed'::text)$$, 'skip_receipt');
select throws_ok(format('select dispatch.skip_receipt(%L)', (select id from dispatch.receipts where address = '+100')), 'P0001',
  format('dispatch: illegal receipt transition cancelled -> skipped (receipt %s)', (select id from dispatch.receipts where address = '+100')),
  'a cancelled receipt stays cancelled');
select is((select count(*) from dispatch.attempts a join dispatch.receipts r on r.id = a.receipt_id where r.address in ('+100', '+200')),
  0::bigint, 'cancel and skip log no attempt');

-- transition table
select ok(dispatch.receipt_transition_allowed('claim', 'pending', 'sending'), 'claim: pending -> sending');
select ok(not dispatch.receipt_transition_allowed('claim', 'sent', 'sending'), 'claim: not sent -> sending');
select ok(not dispatch.receipt_transition_allowed('complete', 'scheduled', 'sent'), 'complete: only from sending');

-- backoff
select ok(dispatch.backoff(1) between interval '30 seconds' and interval '33 seconds', 'backoff(1) ~ 30 s');
select ok(dispatch.backoff(3) between interval '120 seconds' and interval '132 seconds', 'backoff(3) ~ 120 s');
select ok(dispatch.backoff(30) <= interval '3960 seconds', 'backoff is capped');

-- tick: reclaims and reports due receipts
select dispatch.requeue_receipt((select id from c5));
select ok((dispatch.tick() ->> 'due')::int >= 1, 'tick reports the due receipt');

select * from finish();
rollback;
