-- supadispatch core, security review: L2: the restrictive realtime guards apply to every role (to public), so a custom JWT role (third-party
-- auth) with an app's allow-all policies still cannot read or send on dispatch:* topics.
begin;
create extension if not exists pgtap;
select plan(4);

create role sdt_custom_jwt_role nologin;
-- Its table privileges come through anon (which hosted grants SELECT and INSERT on realtime.messages),
-- not from a GRANT on the table: postgres holds those without grant option on hosted, and is not a
-- member of its owner (Realtime m/20260707), so this file runs as postgres there too.
grant anon to sdt_custom_jwt_role;
insert into realtime.messages (topic, extension, event, payload, private) values
  ('dispatch:user:00000000-0000-0000-0000-0000000000cc', 'broadcast', 'e', '{}', true),
  ('dispatch:audience:admin', 'broadcast', 'e', '{}', true),
  ('sdt_room', 'broadcast', 'e', '{}', true);
select dispatch.install_realtime_policies();
create policy sdt_custom_all_read on realtime.messages for select to sdt_custom_jwt_role using (true);
create policy sdt_custom_all_send on realtime.messages for insert to sdt_custom_jwt_role with check (true);
-- pgTAP lives in a schema the custom role cannot use: record what the role sees, check it afterwards
create temp table sdt_seen (k text primary key, v text);
grant insert on sdt_seen to sdt_custom_jwt_role;
set local role sdt_custom_jwt_role;
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000cc","role":"sdt_custom_jwt_role"}', true);
insert into sdt_seen values
  ('dispatch', (select count(*) from realtime.messages where topic like 'dispatch:%')::text),
  ('app', (select count(*) from realtime.messages where topic = 'sdt_room')::text);
do $$
begin
  insert into realtime.messages (topic, extension, event, payload) values ('dispatch:audience:admin', 'broadcast', 'x', '{}');
  insert into sdt_seen values ('send_dispatch', 'allowed');
exception when others then
  insert into sdt_seen values ('send_dispatch', sqlstate || ': ' || sqlerrm);
end
$$;
do $$
begin
  insert into realtime.messages (topic, extension, event, payload) values ('sdt_room', 'broadcast', 'x', '{}');
  insert into sdt_seen values ('send_app', 'allowed');
exception when others then
  insert into sdt_seen values ('send_app', sqlstate || ': ' || sqlerrm);
end
$$;
reset role;
select is((select v from sdt_seen where k = 'dispatch'), '0', 'custom role reads no dispatch topic despite an allow-all policy');
select isnt((select v from sdt_seen where k = 'app'), '0', 'custom role reads its app topic');
select is((select v from sdt_seen where k = 'send_dispatch'),
  '42501: new row violates row-level security policy "dispatch_send_guard" for table "messages"',
  'custom role cannot send on dispatch topics');
select is((select v from sdt_seen where k = 'send_app'), 'allowed', 'custom role sends on its app topic');

select * from finish();
rollback;
