-- supadispatch core: the worker's batched queue API (dispatch.set_receipts_content, dispatch.finish_receipts
-- and their public.dispatch_worker_* RPCs): lease token checked per receipt, transitions, attempts rows,
-- a mixed batch, a stale worker after its lease expired, and bad arguments named by element and field.
-- Test receipts use transport 'sdt_batch' and claims filter on it.
begin;
create extension if not exists pgtap;
select plan(30);

select dispatch.register_event('sdt.batch', null, null, 'test', 'info', false);
create temp table occ as select dispatch.emit('sdt.batch', '{"n": 1}') as id;
select is(dispatch.create_receipts('sdt.batch', 'sdt:b', 'sdt_batch', 'b', interval '0',
  array(select row((select id from occ), null, format('r%s@example.com', g), null)::dispatch.recipient
        from generate_series(1, 6) g)), 6, 'six receipts to deliver');
create temp table rx as
  select r.id, r.address, substring(r.address from 2 for 1)::int as n from dispatch.receipts r
  where r.occurrence_id = (select id from occ);
-- r5 has one attempt only: its retry fails it
update dispatch.receipts set max_attempts = 1 where id = (select id from rx where n = 5);
create temp table c as
  select c.id, c.lease_token, rx.n from dispatch.claim_receipts('wb', 10, 60, array['sdt_batch']) c join rx using (id);
select is((select count(*) from c), 6::bigint, 'all six claimed');

-- content: one call for the claim, secrets redacted, a wrong token stores nothing
select set_eq($$select * from public.dispatch_worker_store_content((select jsonb_agg(jsonb_build_object(
      'id', id, 'leaseToken', case when n = 6 then lease_token + 1000 else lease_token end::text,
      'content', jsonb_build_object('title', 'hello ' || n, 'link', 'https://x/?t=tok' || n),
      'secrets', jsonb_build_array('tok' || n))) from c))$$,
  $$select id from c where n <> 6$$, 'store_content returns the ids it stored; a wrong token is left out');
select is((select content from dispatch.receipts where id = (select id from rx where n = 1)),
  '{"title": "hello 1", "link": "https://x/?t=[redacted]"}'::jsonb, 'content stored with its secret redacted');
select is((select content from dispatch.receipts where id = (select id from rx where n = 6)), null,
  'the receipt whose token was wrong has no content');

-- one batch: sent, retry at a time, retry by backoff, retry of the last attempt, fail, wrong token
create temp table fin as select * from public.dispatch_worker_finish(jsonb_build_array(
  jsonb_build_object('id', (select id from c where n = 1), 'leaseToken', (select lease_token from c where n = 1),
    'kind', 'complete', 'providerMessageId', 'msg-1', 'providerResponse', '{"ok": true}'::jsonb,
    'httpStatus', 200, 'durationMs', 12),
  jsonb_build_object('id', (select id from c where n = 2), 'leaseToken', (select lease_token from c where n = 2)::text,
    'kind', 'retry', 'error', 'HTTP 429', 'retryAt', '2030-01-02T03:04:05.000Z', 'httpStatus', 429, 'durationMs', 5),
  jsonb_build_object('id', (select id from c where n = 3), 'leaseToken', (select lease_token from c where n = 3),
    'kind', 'retry', 'error', 'HTTP 503', 'httpStatus', 503),
  jsonb_build_object('id', (select id from c where n = 5), 'leaseToken', (select lease_token from c where n = 5),
    'kind', 'retry', 'error', 'timeout', 'retryAt', null, 'httpStatus', null, 'durationMs', 10000),
  jsonb_build_object('id', (select id from c where n = 4), 'leaseToken', (select lease_token from c where n = 4),
    'kind', 'fail', 'error', 'HTTP 410', 'httpStatus', 410, 'durationMs', 7),
  jsonb_build_object('id', (select id from c where n = 6), 'leaseToken', (select lease_token from c where n = 6) + 1000,
    'kind', 'complete', 'httpStatus', 200)));
select set_eq($$select n, f.status from fin f join c using (id)$$,
  $$values (1, 'sent'), (2, 'scheduled'), (3, 'scheduled'), (5, 'failed'), (4, 'failed')$$,
  'finish returns each accepted receipt with its new status; the wrong token is not accepted');
select results_eq($$select status, sent_at is not null, provider_message_id, provider_response, last_error,
    lease_owner, lease_expires_at from dispatch.receipts where id = (select id from rx where n = 1)$$,
  $$values ('sent'::text, true, 'msg-1'::text, '{"ok": true}'::jsonb, null::text, null::text, null::timestamptz)$$,
  'complete: sent, provider fields kept, lease released');
select results_eq($$select status, next_attempt_at, last_error, failed_at from dispatch.receipts
    where id = (select id from rx where n = 2)$$,
  $$values ('scheduled'::text, '2030-01-02T03:04:05Z'::timestamptz, 'HTTP 429'::text, null::timestamptz)$$,
  'retry: scheduled at the given time (Retry-After)');
select ok((select next_attempt_at > now() and status = 'scheduled' from dispatch.receipts where id = (select id from rx where n = 3)),
  'retry without a time: scheduled by the backoff');
select results_eq($$select status, failed_at is not null, last_error from dispatch.receipts where id = (select id from rx where n = 5)$$,
  $$values ('failed'::text, true, 'timeout'::text)$$, 'retry of the last attempt: failed');
select results_eq($$select status, failed_at is not null, last_error from dispatch.receipts where id = (select id from rx where n = 4)$$,
  $$values ('failed'::text, true, 'HTTP 410'::text)$$, 'fail: failed');
select results_eq($$select status, lease_owner from dispatch.receipts where id = (select id from rx where n = 6)$$,
  $$values ('sending'::text, 'wb'::text)$$, 'the wrong token changed nothing: still sending, still leased');
select results_eq($$select rx.n, a.outcome, a.http_status, a.error, a.duration_ms, a.finished_at is not null
    from dispatch.attempts a join rx on rx.id = a.receipt_id where rx.n <> 3 order by rx.n$$,
  $$values (1, 'sent'::text, 200, null::text, 12, true), (2, 'retry', 429, 'HTTP 429', 5, true),
           (4, 'failed', 410, 'HTTP 410', 7, true), (5, 'failed', null, 'timeout', 10000, true),
           (6, null, null, null, null, false)$$,
  'one attempt row per receipt, closed with its outcome (the wrong token''s stays open)');
select ok((select duration_ms is not null and outcome = 'retry' from dispatch.attempts where receipt_id = (select id from rx where n = 3)),
  'an outcome without durationMs gets the attempt''s elapsed time');

-- transitions stay enforced: a finished receipt cannot be finished again, even with its token
select is((select count(*) from dispatch.finish_receipts(jsonb_build_array(jsonb_build_object(
    'id', (select id from c where n = 1), 'leaseToken', (select lease_token from c where n = 1), 'kind', 'fail', 'error', 'late')))),
  0::bigint, 'a sent receipt is not accepted again');
select is((select status from dispatch.receipts where id = (select id from rx where n = 1)), 'sent', 'and stays sent');
select is((select count(*) from dispatch.set_receipts_content(jsonb_build_array(jsonb_build_object(
    'id', (select id from c where n = 1), 'leaseToken', (select lease_token from c where n = 1), 'content', '{}'::jsonb)))),
  0::bigint, 'content of a receipt no longer sending is not stored');

-- a stale worker: r6's lease expires, another worker claims it, the first one's late outcome is refused
update dispatch.receipts set lease_expires_at = now() - interval '1 second' where id = (select id from rx where n = 6);
select is(dispatch.reclaim_expired_leases(), 1, 'the expired lease is reclaimed');
create temp table c2 as select * from dispatch.claim_receipts('wb2', 10, 60, array['sdt_batch']);
select is((select count(*) from dispatch.finish_receipts(jsonb_build_array(jsonb_build_object(
    'id', (select id from c where n = 6), 'leaseToken', (select lease_token from c where n = 6), 'kind', 'fail', 'error', 'stale')))),
  0::bigint, 'the old holder''s outcome is not accepted');
select results_eq($$select f.status from dispatch.finish_receipts(jsonb_build_array(jsonb_build_object(
    'id', (select id from c2), 'leaseToken', (select lease_token from c2), 'kind', 'complete'))) f$$,
  $$values ('sent'::text)$$, 'the new holder''s outcome is');
select results_eq($$select a.worker, a.outcome from dispatch.attempts a where a.receipt_id = (select id from c2) order by a.attempt$$,
  $$values ('wb'::text, 'expired'::text), ('wb2', 'sent')$$, 'its attempts: the expired one, then the new holder''s');

select ok(has_function_privilege('service_role', 'public.dispatch_worker_finish(jsonb)', 'execute')
          and has_function_privilege('service_role', 'public.dispatch_worker_store_content(jsonb)', 'execute')
          and not has_function_privilege('authenticated', 'public.dispatch_worker_finish(jsonb)', 'execute')
          and not has_function_privilege('anon', 'public.dispatch_worker_store_content(jsonb)', 'execute'),
  'the batch RPCs are for service_role only');

-- bad arguments: a clear error naming the element and the field
select throws_ok($$select dispatch.finish_receipts('{"id": 1}')$$, '22023',
  'dispatch: outcomes must be a json array (got object)', 'not an array');
select throws_ok($$select dispatch.finish_receipts('[{"id": "00000000-0000-0000-0000-000000000001", "leaseToken": 1, "kind": "complete"}, {"id": "nope", "leaseToken": 1, "kind": "complete"}]')$$,
  '22023', 'dispatch: outcomes[1].id must be a receipt id (a uuid string), got "nope"', 'a bad id names its element');
select throws_ok($$select dispatch.finish_receipts('[{"id": "00000000-0000-0000-0000-000000000001", "leaseToken": "x1", "kind": "complete"}]')$$,
  '22023', 'dispatch: outcomes[0].leaseToken must be the claim''s lease token (digits), got "x1"', 'a bad lease token');
select throws_ok($$select dispatch.finish_receipts('[{"id": "00000000-0000-0000-0000-000000000001", "leaseToken": 1, "kind": "sent"}]')$$,
  '22023', 'dispatch: outcomes[0].kind must be complete, retry or fail, got "sent"', 'an unknown kind');
select throws_ok($$select dispatch.finish_receipts('[{"id": "00000000-0000-0000-0000-000000000001", "leaseToken": 1, "kind": "fail"}]')$$,
  '22023', 'dispatch: outcomes[0].error must be a string for kind fail', 'fail without an error');
select throws_ok($$select dispatch.finish_receipts('[{"id": "00000000-0000-0000-0000-000000000001", "leaseToken": 1, "kind": "retry", "error": "x", "retryAt": "soon"}]')$$,
  '22023', 'dispatch: outcomes[0].retryAt must be an ISO 8601 timestamp, got "soon"', 'a bad retryAt');
select throws_ok($$select dispatch.finish_receipts('[{"id": "00000000-0000-0000-0000-000000000001", "leaseToken": 1, "kind": "complete"}, {"id": "00000000-0000-0000-0000-000000000001", "leaseToken": 2, "kind": "complete"}]')$$,
  '22023', 'dispatch: outcomes: receipt 00000000-0000-0000-0000-000000000001 appears more than once', 'an id twice');
select throws_ok($$select dispatch.set_receipts_content('[{"id": "00000000-0000-0000-0000-000000000001", "leaseToken": 1, "content": "hi"}]')$$,
  '22023', 'dispatch: items[0].content must be a json object, got string', 'content that is not an object');

select * from finish();
rollback;
