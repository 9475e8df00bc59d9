-- Receipts: the worker's batched queue API (issue 17's throughput target): one call per group of
-- receipts instead of one per receipt. The single-receipt functions in 060_receipts.sql stay (tests,
-- admin tools and a caller that records one outcome at a time use them); these do the same transitions.
-- Each element carries its receipt's lease token, checked per row in the one
-- UPDATE, so a stale worker (its lease expired, the receipt claimed again) changes nothing: the
-- functions return the ids they accepted and the caller drops the others' results.

-- The first problem of a batch argument (`p_name`: the argument's name in the message), or null:
-- a json array of at most 1000 objects, each with a receipt id and a lease token, no id twice.
-- plpgsql, not sql: a SQL function that is not inlined (this one, called from plpgsql) is parsed and
-- planned on every call, which cost more than the checks themselves (0.1 ms per delivery, session 5);
-- plpgsql keeps its plan for the connection.
create or replace function dispatch.lease_batch_problem(p_items jsonb, p_name text) returns text
language plpgsql immutable set search_path = '' as $$
begin
  return case
    when p_items is null or jsonb_typeof(p_items) <> 'array' then
      format('%s must be a json array (got %s)', p_name, coalesce(jsonb_typeof(p_items), 'null'))
    when jsonb_array_length(p_items) > 1000 then
      format('%s holds %s elements, at most 1000 per call', p_name, jsonb_array_length(p_items))
    else (
      select coalesce(
        (select format('%s[%s]%s', p_name, e.i - 1, e.problem) from (
           select o.i, case
             when jsonb_typeof(o.v) <> 'object' then ' must be an object'
             when jsonb_typeof(o.v -> 'id') is distinct from 'string'
                  or (o.v ->> 'id') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
               format('.id must be a receipt id (a uuid string), got %s', coalesce((o.v -> 'id')::text, 'nothing'))
             when jsonb_typeof(o.v -> 'leaseToken') not in ('string', 'number')
                  or (o.v -> 'leaseToken') is null or (o.v ->> 'leaseToken') !~ '^[0-9]{1,18}$' then
               format('.leaseToken must be the claim''s lease token (digits), got %s',
                      coalesce((o.v -> 'leaseToken')::text, 'nothing'))
           end as problem
           from jsonb_array_elements(p_items) with ordinality o (v, i)
         ) e where e.problem is not null order by e.i limit 1),
        (select format('%s: receipt %s appears more than once', p_name, d.id) from (
           select o ->> 'id' as id from jsonb_array_elements(p_items) o
           group by lower(o ->> 'id'), o ->> 'id' having count(*) > 1 limit 1) d))
    ) end;
end
$$;

-- Store the rendered content of many receipts (each element `{id, leaseToken, content, secrets?}`,
-- secrets replaced by `[redacted]`), only where the caller still holds the lease. Returns the ids
-- stored; a missing id means the lease was lost (drop that receipt).
create or replace function dispatch.set_receipts_content(p_items jsonb) returns setof uuid
language plpgsql security definer set search_path = '' as $$
declare
  v_problem text := dispatch.lease_batch_problem(p_items, 'items');
begin
  if v_problem is null then
    select format('items[%s]%s', e.i - 1, e.problem) into v_problem from (
      select o.i, case
        when jsonb_typeof(o.v -> 'content') is distinct from 'object' then
          format('.content must be a json object, got %s', coalesce(jsonb_typeof(o.v -> 'content'), 'nothing'))
        when jsonb_typeof(o.v -> 'secrets') not in ('array', 'null') then '.secrets must be an array of strings'
        when exists (select 1 from jsonb_array_elements(case when jsonb_typeof(o.v -> 'secrets') = 'array'
                                                             then o.v -> 'secrets' else '[]' end) s
                     where jsonb_typeof(s) <> 'string') then '.secrets must be an array of strings'
      end as problem
      from jsonb_array_elements(p_items) with ordinality o (v, i)
    ) e where e.problem is not null order by e.i limit 1;
  end if;
  if v_problem is not null then
    raise exception 'dispatch: %', v_problem using errcode = '22023';
  end if;
  return query
  with input as (
    select (o ->> 'id')::uuid as rid, (o ->> 'leaseToken')::bigint as token, o -> 'content' as content,
           case when jsonb_typeof(o -> 'secrets') = 'array'
                then array(select jsonb_array_elements_text(o -> 'secrets')) end as secrets
    from jsonb_array_elements(p_items) o
  ), held as (
    select r.id as rid from dispatch.receipts r join input i on i.rid = r.id
    where r.status = 'sending' and r.lease_token = i.token
    order by r.id
    for update of r
  )
  update dispatch.receipts r set content = dispatch.redact(i.content, i.secrets)
  from held h join input i on i.rid = h.rid
  where r.id = h.rid
  returning r.id;
end
$$;

-- Record many sends' outcomes in one transaction: one UPDATE of the receipts, one of their open
-- attempts. Each element: `{id, leaseToken, kind, error?, retryAt?, httpStatus?, durationMs?,
-- providerMessageId?, providerResponse?}` with kind
--   complete  sending → sent (as complete_receipt)
--   retry     sending → scheduled at retryAt (default: backoff), or failed when the receipt has used
--             its attempts (as retry_receipt); `error` required
--   fail      sending → failed (as fail_receipt); `error` required
-- Only receipts still `sending` under the given lease token change (a stale token changes nothing);
-- returns each accepted receipt's id and new status. Bad input raises 22023 naming the element and field.
create or replace function dispatch.finish_receipts(p_outcomes jsonb)
returns table (id uuid, status text)
language plpgsql security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_problem text := dispatch.lease_batch_problem(p_outcomes, 'outcomes');
  v_default_max integer := dispatch.setting_int('max_attempts', 8)::integer;
begin
  if v_problem is null then
    select format('outcomes[%s]%s', e.i - 1, e.problem) into v_problem from (
      select o.i, case
        when jsonb_typeof(o.v -> 'kind') is distinct from 'string'
             or (o.v ->> 'kind') not in ('complete', 'retry', 'fail') then
          format('.kind must be complete, retry or fail, got %s', coalesce((o.v -> 'kind')::text, 'nothing'))
        when (o.v ->> 'kind') <> 'complete' and jsonb_typeof(o.v -> 'error') is distinct from 'string' then
          format('.error must be a string for kind %s', o.v ->> 'kind')
        when jsonb_typeof(o.v -> 'retryAt') not in ('string', 'null')
             or (jsonb_typeof(o.v -> 'retryAt') = 'string' and (o.v ->> 'retryAt')
                 !~ '^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$') then
          format('.retryAt must be an ISO 8601 timestamp, got %s', (o.v -> 'retryAt')::text)
        when jsonb_typeof(o.v -> 'httpStatus') not in ('number', 'null')
             or (jsonb_typeof(o.v -> 'httpStatus') = 'number' and (o.v ->> 'httpStatus') !~ '^[0-9]{1,3}$') then
          format('.httpStatus must be an integer status code, got %s', (o.v -> 'httpStatus')::text)
        when jsonb_typeof(o.v -> 'durationMs') not in ('number', 'null')
             or (jsonb_typeof(o.v -> 'durationMs') = 'number' and (o.v ->> 'durationMs') !~ '^[0-9]{1,9}$') then
          format('.durationMs must be a whole number of ms, got %s', (o.v -> 'durationMs')::text)
        when jsonb_typeof(o.v -> 'providerMessageId') not in ('string', 'null') then
          format('.providerMessageId must be a string, got %s', (o.v -> 'providerMessageId')::text)
      end as problem
      from jsonb_array_elements(p_outcomes) with ordinality o (v, i)
    ) e where e.problem is not null order by e.i limit 1;
  end if;
  if v_problem is not null then
    raise exception 'dispatch: %', v_problem using errcode = '22023';
  end if;
  perform set_config('dispatch.transition', 'finish', true);
  return query
  with input as (
    select (o ->> 'id')::uuid as rid, (o ->> 'leaseToken')::bigint as token, o ->> 'kind' as kind,
           o ->> 'error' as err, (o ->> 'retryAt')::timestamptz as retry_at,
           (o ->> 'httpStatus')::integer as http_status, (o ->> 'durationMs')::integer as duration_ms,
           o ->> 'providerMessageId' as provider_message_id,
           case when jsonb_typeof(o -> 'providerResponse') = 'null' then null else o -> 'providerResponse' end
             as provider_response
    from jsonb_array_elements(p_outcomes) o
  ), held as (
    -- the lease check, per receipt; rows locked in id order (no deadlock between two batches)
    select r.id as rid, i.kind = 'fail' or (i.kind = 'retry'
             and r.attempt_count >= coalesce(r.max_attempts, v_default_max)) as fails
    from dispatch.receipts r join input i on i.rid = r.id
    where r.status = 'sending' and r.lease_token = i.token
    order by r.id
    for update of r
  ), upd as (
    update dispatch.receipts r set
      status = case when i.kind = 'complete' then 'sent' when h.fails then 'failed' else 'scheduled' end,
      sent_at = case when i.kind = 'complete' then now() else r.sent_at end,
      failed_at = case when h.fails then now() else r.failed_at end,
      next_attempt_at = case when i.kind = 'retry' and not h.fails
                             then coalesce(i.retry_at, now() + dispatch.backoff(r.attempt_count))
                             else r.next_attempt_at end,
      provider_message_id = case when i.kind = 'complete' then i.provider_message_id else r.provider_message_id end,
      provider_response = case when i.kind = 'complete' then i.provider_response else r.provider_response end,
      last_error = case when i.kind = 'complete' then null else i.err end,
      lease_owner = null, lease_expires_at = null
    from held h join input i on i.rid = h.rid
    where r.id = h.rid
    returning r.id, r.status, r.attempt_count
  ), att as (
    update dispatch.attempts a set
      finished_at = now(), outcome = case u.status when 'sent' then 'sent' when 'failed' then 'failed' else 'retry' end,
      http_status = i.http_status, error = case when i.kind = 'complete' then null else i.err end,
      duration_ms = coalesce(i.duration_ms, (extract(epoch from (now() - a.started_at)) * 1000)::integer)
    from upd u join input i on i.rid = u.id
    where a.receipt_id = u.id and a.attempt = u.attempt_count
  )
  select u.id, u.status from upd u;
  perform dispatch.end_transition();
end
$$;
