-- The worker's alarm: near-due work does not wait for the once-a-minute tick (docs/decisions.md, "A
-- self-waking worker"). A worker run that is about to end while a receipt comes due soon (a retry in
-- 5 s, a delayed channel, a short Retry-After) makes sure a run is there when it is due: it waits in
-- its own process (a timer) when the due time fits in its budget, else it hands over to a new run
-- (it calls its own URL, as pg_net would). One row says which run, or chain of hand-overs, does it, so
-- that two runs ending together never both wait or both start a successor: the first to arm holds it,
-- the others see a live holder that wakes no later than they would and end.

insert into dispatch.settings (key, value, description) values
  ('worker_wake_within_ms', '60000', 'a worker run that ends while a receipt is due within this many ms waits for it or hands over to a new run, instead of leaving it to dispatch.tick(); 0 turns it off')
on conflict (key) do nothing;

-- One row. owner: the run, or the chain of hand-overs, that will poll by wake_at; alive_until: past it
-- the alarm is void (its run ended without releasing it, or died). handovers: how many hand-overs were
-- started (for doctor and tests: a count that must grow by one per chain link, never per run).
create table if not exists dispatch.worker_alarm (
  id integer primary key default 1 check (id = 1),
  owner text,
  wake_at timestamptz,
  alive_until timestamptz,
  handovers bigint not null default 0
);
insert into dispatch.worker_alarm (id) values (1) on conflict (id) do nothing;

-- How far ahead a worker run looks when it ends (setting worker_wake_within_ms; 0 = off).
create or replace function dispatch.worker_wake_within() returns interval
language plpgsql stable security definer set search_path = '' as $$
begin
  return make_interval(secs => greatest(dispatch.setting_int('worker_wake_within_ms', 60000), 0) / 1000.0);
end
$$;

-- Called by a worker run that is about to end. p_owner: the run's alarm identity (its name, or the
-- chain it was handed); p_wait_ms: how long it can still wait and then claim; p_successor_ms: how long
-- a run it hands over to lives. Looks at the earliest pending receipt (receipts_due_idx, one row):
--   nothing due within worker_wake_within_ms  → {action: 'none'}, the owner's alarm released;
--   another live holder wakes no later        → {action: 'none', heldBy}: that run sees to it;
--   due within p_wait_ms                      → {action: 'wait', dueInMs}: wait that long, then poll;
--   due later, p_wait_ms >= 1 s               → {action: 'wait', dueInMs, waitMs}: wait waitMs, then
--                                               call again (at the run's end);
--   due later, the run at its end             → {action: 'handover', dueInMs, url}: start a new run at
--                                               url (Vault dispatch_worker_url; null if unset).
-- The row lock serialises runs that end together: exactly one of them arms.
create or replace function dispatch.worker_arm(p_owner text, p_wait_ms integer, p_successor_ms integer)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_now timestamptz := clock_timestamp();
  v_within interval := dispatch.worker_wake_within();
  v_due timestamptz;
  v_due_ms integer;
  v_url text;
  a dispatch.worker_alarm;
begin
  if p_owner is null or p_owner = '' then
    raise exception 'dispatch: worker_arm needs an owner' using errcode = '22023';
  end if;
  if v_within > interval '0' then
    select min(r.next_attempt_at) into v_due from dispatch.receipts r
    where r.status in ('pending', 'scheduled') and r.next_attempt_at <= v_now + v_within;
  end if;
  select * into a from dispatch.worker_alarm w where w.id = 1 for update;
  if v_due is null then
    perform dispatch.worker_disarm(p_owner);
    return jsonb_build_object('action', 'none');
  end if;
  v_due_ms := greatest(0, ceil(extract(epoch from (v_due - v_now)) * 1000))::integer;
  if a.owner is not null and a.owner <> p_owner and a.alive_until > v_now and a.wake_at <= v_due then
    return jsonb_build_object('action', 'none', 'dueInMs', v_due_ms, 'heldBy', a.owner);
  end if;
  if v_due_ms <= greatest(p_wait_ms, 0) then
    update dispatch.worker_alarm set owner = p_owner, wake_at = v_due,
      alive_until = v_now + make_interval(secs => greatest(p_wait_ms, 0) / 1000.0)
    where id = 1;
    return jsonb_build_object('action', 'wait', 'dueInMs', v_due_ms);
  end if;
  -- due after this run's end: it waits as long as it can and looks again, so that a chain hands over
  -- once per run budget, not once per run start (a run that hands over at once would start runs back
  -- to back until the receipt is due)
  if p_wait_ms >= 1000 then
    update dispatch.worker_alarm set owner = p_owner, wake_at = v_due,
      alive_until = v_now + make_interval(secs => p_wait_ms / 1000.0)
    where id = 1;
    return jsonb_build_object('action', 'wait', 'dueInMs', v_due_ms, 'waitMs', p_wait_ms);
  end if;
  -- the successor polls at once and again when it ends (it waits then, or hands over once more)
  update dispatch.worker_alarm set owner = p_owner, wake_at = v_due,
    alive_until = v_now + make_interval(secs => greatest(p_successor_ms, 0) / 1000.0),
    handovers = handovers + 1
  where id = 1;
  if to_regclass('vault.decrypted_secrets') is not null then
    select s.decrypted_secret into v_url from vault.decrypted_secrets s
    where s.name = 'dispatch_worker_url' limit 1;
  end if;
  return jsonb_build_object('action', 'handover', 'dueInMs', v_due_ms, 'url', nullif(v_url, ''));
end
$$;

-- The hand-over did not start a run (no URL, the call failed): release the alarm so that another run,
-- or dispatch.tick(), takes it.
create or replace function dispatch.worker_disarm(p_owner text) returns void
language plpgsql security definer set search_path = '' as $$
begin
  update dispatch.worker_alarm set owner = null, wake_at = null, alive_until = null
  where id = 1 and owner = p_owner;
end
$$;
