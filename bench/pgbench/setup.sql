-- pgbench fixture: the same app table three times.
--   bench.bare     no triggers
--   bench.plugin   supadispatch: 1 event (2 channels: in_app + email to the row's user) and 2 counters
--                  (open orders per user, unsharded; open orders for audience admin, 16 shards),
--                  written the way the generator emits them (capture trigger + processor run by drain)
--   bench.inline   the same event and counters processed inside the app's transaction (strict events)
--   bench.webhook  a Database-Webhooks-style per-row trigger calling net.http_post with the row
-- Needs the core installed. Idempotent (drops and recreates schema bench).
drop schema if exists bench cascade;
delete from dispatch.counters_def where name like 'bench\_%'; -- state and shards go with it
create schema bench;
create table bench.bare (id bigint generated always as identity primary key, user_id uuid not null,
  status text not null default 'open', amount int not null, created_at timestamptz not null default now());
create table bench.plugin (like bench.bare including all);
create table bench.webhook (like bench.bare including all);

-- (its templates compiled as the generator compiles them: sdk/src/generator/sql/template.ts)
create function bench.expand_order_created(occurrences dispatch.occurrences[]) returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_cap constant integer := dispatch.render_cap();
begin
  perform dispatch.create_receipts('bench.order_created', 'in_app:user', 'in_app', 'user', interval '0',
    array(select row(o.id, (o.new_record ->> 'user_id')::uuid, null,
                     jsonb_build_object('title', 'Order received',
                                        'message', dispatch.render_fit(concat('Order #', o.new_record #>> array['id']::text[],
                                                                              ' for ', o.new_record #>> array['amount']::text[]), v_cap),
                                        'actionUrl', dispatch.render_fit(concat('/orders/', o.new_record #>> array['id']::text[]), v_cap)))::dispatch.recipient
          from unnest(occurrences) o));
  perform dispatch.create_receipts('bench.order_created', 'email:user', 'email', 'user', interval '0',
    array(select row(o.id, (o.new_record ->> 'user_id')::uuid, null, null)::dispatch.recipient
          from unnest(occurrences) o));
end $$;
select dispatch.register_event('bench.order_created', 'bench.expand_order_created', 'bench.plugin', 'orders',
                               'info', true, false, array['in_app', 'email']);
select dispatch.register_counter('bench_open_orders', 'user', null, array['orders'], 1, 'bench.plugin',
  'select user_id::text, count(*) from bench.plugin where status = ''open'' group by 1');
select dispatch.register_counter('bench_all_open_orders', 'audience', 'admin', array['orders'], 16, 'bench.plugin',
  'select ''admin'', count(*) from bench.plugin where status = ''open''');

-- What the generator emits for a table with non-strict events and counters: the generic capture
-- trigger (one dispatch.changes row per statement, in the app's transaction) and a processor that
-- dispatch.drain() runs after commit (events fired, counters applied).
create function bench.src_bench_plugin_process(p_changes dispatch.changes[]) returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_records jsonb;
begin
  select jsonb_agg(jsonb_build_object('new', to_jsonb(new), 'old', null, 'actor', ch.actor, 'at', ch.captured_at)
                   order by ch.id) into v_records
  from unnest(p_changes) as ch cross join lateral json_populate_recordset(null::bench.plugin, ch.new_rows) as new
  where ch.operation = 'INSERT';
  if v_records is not null then
    perform dispatch.fire('bench.order_created', 'insert', 'bench.plugin', v_records);
  end if;
  perform dispatch.apply_counter_deltas('bench_open_orders', array(
    select row(x.scope, sum(x.d))::dispatch.counter_delta from (
      select n.user_id::text as scope, 1 as d
      from unnest(p_changes) ch cross join lateral json_populate_recordset(null::bench.plugin, ch.new_rows) n
      where n.status = 'open'
      union all
      select o.user_id::text, -1
      from unnest(p_changes) ch cross join lateral json_populate_recordset(null::bench.plugin, ch.old_rows) o
      where o.status = 'open') x
    group by x.scope having sum(x.d) <> 0 order by x.scope));
  perform dispatch.apply_counter_deltas('bench_all_open_orders', array(
    select row('admin', sum(x.d))::dispatch.counter_delta from (
      select 1 as d
      from unnest(p_changes) ch cross join lateral json_populate_recordset(null::bench.plugin, ch.new_rows) n
      where n.status = 'open'
      union all
      select -1
      from unnest(p_changes) ch cross join lateral json_populate_recordset(null::bench.plugin, ch.old_rows) o
      where o.status = 'open') x
    having sum(x.d) <> 0));
end $$;
select dispatch.register_source('bench.plugin', 'bench.src_bench_plugin_process');
create trigger dispatch_capture_insert after insert on bench.plugin referencing new table as new_rows
  for each statement execute function dispatch.capture_changes();

-- The same work inside the app's transaction (what a strict event does, and what every event did
-- before 0.2): fire + both counters in a statement trigger.
create table bench.inline (like bench.bare including all);
create function bench.inline_after_insert() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.fire('bench.order_created', tg_op, 'bench.inline',
    (select jsonb_agg(jsonb_build_object('new', to_jsonb(n))) from new_rows n));
  perform dispatch.apply_counter_deltas('bench_open_orders', array(
    select row(n.user_id::text, count(*))::dispatch.counter_delta from new_rows n where n.status = 'open' group by n.user_id));
  perform dispatch.apply_counter_deltas('bench_all_open_orders', array(
    select row('admin', count(*))::dispatch.counter_delta from new_rows n where n.status = 'open'));
  return null;
end $$;
create trigger inline_after_insert after insert on bench.inline referencing new table as new_rows
  for each statement execute function bench.inline_after_insert();

-- what supabase_functions.http_request() does for a Database Webhook: one net.http_post per row
create function bench.webhook_per_row() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform net.http_post(
    url := 'http://127.0.0.1:9/webhook',
    body := jsonb_build_object('type', tg_op, 'table', tg_table_name, 'schema', tg_table_schema,
                               'record', to_jsonb(new), 'old_record', null),
    headers := '{"Content-Type": "application/json"}'::jsonb,
    timeout_milliseconds := 1000);
  return new;
end $$;
create trigger webhook_per_row after insert on bench.webhook for each row execute function bench.webhook_per_row();
