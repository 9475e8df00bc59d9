-- Write-path attribution fixture (after setup.sql): the capture of bench.plugin split into steps, each
-- its own table with a statement trigger doing one more piece, for bench/pgbench/write-path.ts.
--   wp.bare       no trigger                   wp.t_empty    empty plpgsql trigger with transition table
--   wp.t_empty_sd  + security definer, search_path ''
--   wp.t_ins      + one INSERT of a constant row into wp.sink (a copy of dispatch.changes)
--   wp.t_tt       + reading the transition table (count(*), having)
--   wp.t_json     + json_agg of the rows      wp.t_ins_agg  + actor and table name (capture's statement)
--   wp.cap        dispatch.capture_changes() (dispatch.changes and its deferred changes_committing)
--   wp.cnt        dispatch.capture_changes('count')
--   wp.cntw       dispatch.count_changes('wp_cntw', 'all'): the writer's running total (session 6)
-- wp.loop(table, n): n single-row INSERTs, each committed (server side: no parse, no network).
drop schema if exists wp cascade;
create schema wp;
create table wp.sink (like dispatch.changes including all);
create function wp.f_empty() returns trigger language plpgsql as $$ begin return null; end $$;
create function wp.f_empty_sd() returns trigger language plpgsql security definer set search_path = '' as $$
begin return null; end $$;
create function wp.f_ins() returns trigger language plpgsql security definer set search_path = '' as $$
begin insert into wp.sink (source_table, operation, row_count) values ('x', 'INSERT', 1); return null; end $$;
create function wp.f_tt() returns trigger language plpgsql security definer set search_path = '' as $$
begin
  insert into wp.sink (source_table, operation, row_count) select 'x', 'INSERT', count(*) from new_rows n having count(*) > 0;
  return null;
end $$;
create function wp.f_json() returns trigger language plpgsql security definer set search_path = '' as $$
begin
  insert into wp.sink (source_table, operation, new_rows, row_count)
  select 'x', 'INSERT', json_agg(n.*), count(*) from new_rows n having count(*) > 0;
  return null;
end $$;
create function wp.f_ins_agg() returns trigger language plpgsql security definer set search_path = '' as $$
begin
  insert into wp.sink (source_table, operation, actor, new_rows, row_count)
  select tg_table_schema || '.' || tg_table_name, 'INSERT', dispatch.current_user_id(), json_agg(n.*), count(*)
  from new_rows n having count(*) > 0;
  return null;
end $$;
create table wp.bare (like bench.bare including all);
create table wp.t_empty (like bench.bare including all);
create table wp.t_empty_sd (like bench.bare including all);
create table wp.t_ins (like bench.bare including all);
create table wp.t_tt (like bench.bare including all);
create table wp.t_json (like bench.bare including all);
create table wp.t_ins_agg (like bench.bare including all);
create table wp.cap (like bench.bare including all);
create table wp.cnt (like bench.bare including all);
create table wp.cntw (like bench.bare including all);
delete from dispatch.counters_def where name = 'wp_cntw';
select dispatch.register_counter('wp_cntw', 'audience', 'all', '{}', 16, 'wp.cntw', 'select ''all'', count(*) from wp.cntw');
create trigger t after insert on wp.t_empty referencing new table as new_rows for each statement execute function wp.f_empty();
create trigger t after insert on wp.t_empty_sd referencing new table as new_rows for each statement execute function wp.f_empty_sd();
create trigger t after insert on wp.t_ins referencing new table as new_rows for each statement execute function wp.f_ins();
create trigger t after insert on wp.t_tt referencing new table as new_rows for each statement execute function wp.f_tt();
create trigger t after insert on wp.t_json referencing new table as new_rows for each statement execute function wp.f_json();
create trigger t after insert on wp.t_ins_agg referencing new table as new_rows for each statement execute function wp.f_ins_agg();
create trigger t after insert on wp.cap referencing new table as new_rows for each statement
  execute function dispatch.capture_changes();
create trigger t after insert on wp.cnt referencing new table as new_rows for each statement
  execute function dispatch.capture_changes('count');
create trigger t after insert on wp.cntw referencing new table as new_rows for each statement
  execute function dispatch.count_changes('wp_cntw', 'all');
create procedure wp.loop(p_table text, p_n integer) language plpgsql as $$
begin
  for i in 1 .. p_n loop
    execute format('insert into %s (user_id, amount) values ($1, $2)', p_table)
      using ('00000000-0000-0000-0000-' || lpad((1 + i % 1000)::text, 12, '0'))::uuid, i;
    commit;
  end loop;
end $$;
