-- The postgres role is not a superuser: what hosted refuses, it refuses here (facts §8).
select plan(9);

set local role postgres;
select is(current_setting('is_superuser'), 'off', 'postgres session is not superuser');
select throws_ok($$alter role postgres superuser$$, '42501', null, 'postgres cannot make itself superuser');
select throws_ok($$copy (select 1) to program 'true'$$, '42501', null, 'COPY ... TO PROGRAM is refused');
select throws_ok($$create extension plperlu$$, null, null, 'untrusted extensions cannot be created');
select throws_ok($$create table auth.mine (id int)$$, '42501', null, 'postgres cannot create tables in auth');
select lives_ok($$create extension if not exists pg_cron$$, 'create extension if not exists pg_cron is satisfied');
select lives_ok($$create extension if not exists pgcrypto with schema extensions$$, 'pgcrypto is satisfied');
select lives_ok($$select cron.schedule('pgtap-probe', '0 0 1 1 *', 'select 1')$$, 'postgres schedules cron jobs');
select throws_ok($$insert into cron.job (schedule, command) values ('* * * * *', 'select 1')$$, '42501', null,
  'cron.job is SELECT only for postgres');
reset role;

select * from finish();
