-- Attribution fixture (after setup.sql): the plugin's work split into separate tables, to measure
-- each piece with cpu.ts, e.g.
--   BENCH_DB_URL=... npx tsx bench/pgbench/cpu.ts 600 3 bare,p_noexp,p_nop,p_email,p_inapp,p_fire,p_cuser,p_cadmin,plugin
--   p_noexp   fire() of an event without expander (occurrence only)
--   p_nop     fire() with an expander that does nothing (expansion machinery)
--   p_email   one email receipt (+ the worker poke; set poke_worker false to take it out)
--   p_inapp   one inline in_app receipt + notification (+ its broadcast and unread counter)
--   p_fire    the plugin's event (both channels), no counters
--   p_cuser   the unsharded per-user counter only; p_cadmin the sharded audience counter only
create table bench.p_fire (like bench.bare including all);
create table bench.p_noexp (like bench.bare including all);
create table bench.p_inapp (like bench.bare including all);
create table bench.p_email (like bench.bare including all);
create function bench.exp_inapp(occurrences dispatch.occurrences[]) returns void language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.create_receipts('bench.inapp', 'in_app:user', 'in_app', 'user', interval '0',
    array(select row(o.id, (o.new_record ->> 'user_id')::uuid, null,
                     jsonb_build_object('title', 'Order received',
                                        'message', dispatch.render('Order #{{id}} for {{amount}}', o.new_record),
                                        'actionUrl', dispatch.render('/orders/{{id}}', o.new_record)))::dispatch.recipient
          from unnest(occurrences) o));
end $$;
create function bench.exp_email(occurrences dispatch.occurrences[]) returns void language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.create_receipts('bench.email', 'email:user', 'email', 'user', interval '0',
    array(select row(o.id, (o.new_record ->> 'user_id')::uuid, null, null)::dispatch.recipient from unnest(occurrences) o));
end $$;
select dispatch.register_event('bench.noexp', null, 'bench.p_noexp');
select dispatch.register_event('bench.inapp', 'bench.exp_inapp', 'bench.p_inapp');
select dispatch.register_event('bench.email', 'bench.exp_email', 'bench.p_email');
select dispatch.register_event('bench.fire', 'bench.expand_order_created', 'bench.p_fire');
create function bench.t_fire() returns trigger language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.fire(tg_argv[0], tg_op, tg_table_schema || '.' || tg_table_name,
    (select jsonb_agg(jsonb_build_object('new', to_jsonb(n))) from new_rows n));
  return null;
end $$;
create trigger t after insert on bench.p_noexp referencing new table as new_rows for each statement execute function bench.t_fire('bench.noexp');
create trigger t after insert on bench.p_inapp referencing new table as new_rows for each statement execute function bench.t_fire('bench.inapp');
create trigger t after insert on bench.p_email referencing new table as new_rows for each statement execute function bench.t_fire('bench.email');
create trigger t after insert on bench.p_fire referencing new table as new_rows for each statement execute function bench.t_fire('bench.fire');
create table bench.p_cuser (like bench.bare including all);
create table bench.p_cadmin (like bench.bare including all);
create function bench.t_cuser() returns trigger language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.apply_counter_deltas('bench_open_orders', array(
    select row(n.user_id::text, count(*))::dispatch.counter_delta from new_rows n where n.status = 'open' group by n.user_id));
  return null;
end $$;
create function bench.t_cadmin() returns trigger language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.apply_counter_deltas('bench_all_open_orders', array(
    select row('admin', count(*))::dispatch.counter_delta from new_rows n where n.status = 'open'));
  return null;
end $$;
create trigger t after insert on bench.p_cuser referencing new table as new_rows for each statement execute function bench.t_cuser();
create trigger t after insert on bench.p_cadmin referencing new table as new_rows for each statement execute function bench.t_cadmin();
create table bench.p_nop (like bench.bare including all);
create function bench.exp_nop(occurrences dispatch.occurrences[]) returns void language plpgsql security definer set search_path = '' as $$ begin end $$;
select dispatch.register_event('bench.nop', 'bench.exp_nop', 'bench.p_nop');
create trigger t after insert on bench.p_nop referencing new table as new_rows for each statement execute function bench.t_fire('bench.nop');

