-- Poking the worker: a pg_net call to the dispatch-worker Edge Function, sent at commit, at most once
-- per transaction and, across transactions, once per poke_interval_ms. Asked for by the commit of a
-- transaction that captured changes (065_changes.sql), by dispatch.create_receipts and
-- dispatch.requeue_receipt when receipts are due now, and by dispatch.tick(). Installed before them:
-- dispatch.changes_committing reads dispatch.worker_wake.

-- When the worker was last poked (one row). Writers read next_poke_at to debounce their pokes (one
-- indexed read; the poke_interval_ms setting is read only by the transaction that pokes).
create table if not exists dispatch.worker_wake (
  id integer primary key default 1 check (id = 1),
  poked_at timestamptz not null default '1970-01-01 00:00:00+00',
  next_poke_at timestamptz not null default '1970-01-01 00:00:00+00'
);
insert into dispatch.worker_wake (id) values (1) on conflict (id) do nothing;

-- next_poke_at again, in epoch milliseconds, for triggers that may not query: a WAL-counted table's wake
-- trigger (066_counts_from_wal.sql) fires only when this has passed, read in its WHEN clause with
-- pg_sequence_last_value (a C function reading one page; a WHEN clause allows no subquery). A sequence,
-- so it is not transactional: a poking transaction that rolls back leaves it ahead, and writes in the
-- next poke_interval_ms do not poke (the next write after it does, or tick). Readable by everyone (the
-- writer evaluates the WHEN clause; 900_grants.sql): it holds a time, nothing else.
create sequence if not exists dispatch.worker_wake_until_ms minvalue 0;

insert into dispatch.settings (key, value, description) values
  ('poke_interval_ms', '200', 'at most one worker poke per this many ms; a poked worker drains for that long (0: every transaction)')
on conflict (key) do nothing;

-- Ask pg_net to call the worker (Vault secrets dispatch_worker_url / dispatch_worker_secret), at most
-- once per transaction and, across transactions, at most once per poke_interval_ms (a poked worker
-- keeps draining and claiming for that long, see dispatch.worker_linger_ms, so it sees the work of
-- the transactions that did not poke). pg_net sends at COMMIT, so a rollback sends nothing. Missing
-- pg_net, Vault or secrets is not an error: work waits for dispatch.tick() and `doctor` explains.
create or replace function dispatch.poke_worker(p_reason text default 'due') returns boolean
language plpgsql security definer set search_path = '' as $$
declare
  v_enabled boolean;
  v_timeout integer;
  v_url text;
  v_secret text;
  v_until_ms bigint;
begin
  if current_setting('dispatch.poked', true) = 'on' then
    return false;
  end if;
  perform set_config('dispatch.poked', 'on', true);
  -- debounce first: most transactions stop at this one read
  if exists (select from dispatch.worker_wake w where w.next_poke_at > clock_timestamp()) then
    return false;
  end if;
  -- one transaction per interval gets here. If another holds the row (it is poking: its poke goes out
  -- when it commits, e.g. a drain that created due receipts), skip instead of waiting: an app's commit
  -- must never wait for a drain.
  perform from dispatch.worker_wake w where w.id = 1 and w.next_poke_at <= clock_timestamp()
    for update skip locked;
  if not found then
    return false;
  end if;
  update dispatch.worker_wake w set poked_at = clock_timestamp(),
    next_poke_at = clock_timestamp() + make_interval(secs => dispatch.setting_int('poke_interval_ms', 200) / 1000.0)
  where w.id = 1
  returning (extract(epoch from w.next_poke_at) * 1000)::bigint into v_until_ms;
  perform setval('dispatch.worker_wake_until_ms', v_until_ms);
  select coalesce(bool_and((s.value #>> '{}')::boolean) filter (where s.key = 'poke_worker'), true),
         coalesce(max((s.value #>> '{}')::integer) filter (where s.key = 'worker_timeout_ms'), 5000)
    into v_enabled, v_timeout
  from dispatch.settings s where s.key in ('poke_worker', 'worker_timeout_ms');
  if not v_enabled
     or to_regprocedure('net.http_post(text,jsonb,jsonb,jsonb,integer)') is null
     or to_regclass('vault.decrypted_secrets') is null then
    return false;
  end if;
  -- read on every poke (not cached): a changed secret applies to the next transaction. Hosted Vault
  -- decrypts with libsodium (microseconds); the local stand-in is comparable.
  select max(s.decrypted_secret) filter (where s.name = 'dispatch_worker_url'),
         max(s.decrypted_secret) filter (where s.name = 'dispatch_worker_secret')
    into v_url, v_secret
  from vault.decrypted_secrets s where s.name in ('dispatch_worker_url', 'dispatch_worker_secret');
  if v_url is null or v_url = '' then
    return false;
  end if;
  perform net.http_post(
    url := v_url,
    body := jsonb_build_object('reason', p_reason),
    headers := jsonb_build_object('Content-Type', 'application/json', 'x-dispatch-secret', coalesce(v_secret, '')),
    timeout_milliseconds := v_timeout);
  return true;
end
$$;

-- Whether the transaction with this 32-bit xid (a row version's xmax) is still in progress: widened to
-- xid8 around the current snapshot's xmax (the signed 32-bit distance to it; an xid at or past it was
-- assigned after this snapshot, so it counts as in progress) for pg_xact_status, which also answers
-- for subtransactions. Zero (no xmax) is not.
create or replace function dispatch.xact_in_progress(p_xid xid) returns boolean
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_top bigint := pg_snapshot_xmax(pg_current_snapshot())::text::bigint;
  v_d bigint;
begin
  if p_xid is null or p_xid = '0'::xid then
    return false;
  end if;
  v_d := ((p_xid::text::bigint - (v_top & 4294967295)) % 4294967296 + 4294967296 + 2147483648) % 4294967296 - 2147483648;
  if v_d >= 0 then
    return true;
  end if;
  return coalesce(pg_xact_status((v_top + v_d)::text::xid8) = 'in progress', false);
end
$$;

-- How long a worker poked now should keep draining: until poke_interval_ms after the last poke (a
-- writer that saw that poke did not poke again), plus a second for its commit to land; and, past
-- that, one more poll (100 ms) while a counts-only counter has a writer in flight or a committed total
-- not published yet (dispatch.counter_pending, 040_counters.sql): such a writer queued no commit-time
-- check because it saw this worker lingering (065_changes.sql, counter_pending_committing).
-- In flight: the slot row version this statement sees has an xmax still in progress. Checked first,
-- each test its own statement with its own snapshot (volatile): a writer in flight at the first either
-- is still in progress when its xmax is checked, or committed before the second one's snapshot, which
-- then sees its total; a writer whose statement starts after the first saw next_poke_at already past
-- (we only get here a second after it) and queued its commit-time check.
create or replace function dispatch.worker_linger_ms() returns integer
language plpgsql security definer set search_path = '' as $$
declare
  v_ms integer := greatest(0, (select extract(epoch from (w.next_poke_at - clock_timestamp())) * 1000 + 1000
                               from dispatch.worker_wake w where w.id = 1))::integer;
begin
  if v_ms > 0 then
    return v_ms;
  end if;
  if exists (select from dispatch.counter_pending p where p.xmax <> '0'::xid and dispatch.xact_in_progress(p.xmax)) then
    return 100;
  end if;
  if exists (select from dispatch.counter_pending_unpublished()) then
    return 100;
  end if;
  return 0;
end
$$;
