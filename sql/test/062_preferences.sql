-- supadispatch core, security review: L1: dispatch_set_preference validates transports (the event's, or the known ones), argument lengths,
-- and caps preference rows per user (setting max_preferences_per_user).
begin;
create extension if not exists pgtap;
select plan(11);

insert into auth.users (id, email) values ('00000000-0000-0000-0000-0000000000cc', 'carol@example.com');
select dispatch.register_event('sdt.sec', null, null, 'sdt_sec_cat', 'info', true, false, array['email', 'in_app']);
set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-0000000000cc","role":"authenticated"}', true);
select throws_ok($$select public.dispatch_set_preference('sdt.sec', 'sms', false)$$, '22023',
  'dispatch: transport sms is not a transport of event sdt.sec (email, in_app)', 'event preference: transport of the event only');
select throws_ok($$select public.dispatch_set_preference(null, 'pigeon', false, 'sdt_sec_cat')$$, '22023',
  'dispatch: unknown transport pigeon (discord, email, in_app, slack, sms, webhook)', 'category preference: known transports only');
select lives_ok($$select public.dispatch_set_preference(null, 'sms', false, 'sdt_sec_cat')$$, 'category preference: a known transport');
select lives_ok($$select public.dispatch_set_preference('sdt.sec', 'in_app', false)$$, 'event preference: a transport of the event');
select throws_ok($$select public.dispatch_set_preference(repeat('e', 201), null, false)$$, '22023',
  'dispatch: event_id is longer than 200 characters', 'event_id length is capped');
select throws_ok($$select public.dispatch_set_preference(null, null, false, repeat('c', 201))$$, '22023',
  'dispatch: category is longer than 200 characters', 'category length is capped');
select throws_ok($$select public.dispatch_set_preference('sdt.sec', repeat('t', 10000), false)$$, '22023',
  'dispatch: transport is longer than 32 characters', 'transport length is capped');
reset role;
select dispatch.set_setting('max_preferences_per_user', '3');
set local role authenticated;
select lives_ok($$select public.dispatch_set_preference('sdt.sec', null, false)$$, 'third preference row');
select throws_ok($$select public.dispatch_set_preference('sdt.sec', 'email', false)$$, '22023',
  'dispatch: too many preferences (at most 3 per user)', 'preference rows per user are capped');
select lives_ok($$select public.dispatch_set_preference('sdt.sec', 'in_app', true)$$, 'updating an existing row is allowed at the cap');
reset role;
select is((select value from dispatch.settings where key = 'max_preferences_per_user'), '3'::jsonb, 'cap is a setting');

select * from finish();
rollback;
