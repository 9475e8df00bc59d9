-- auth tables and JWT helpers (facts §3).
select plan(17);

select has_table('auth', t, 'auth.' || t) from unnest(array['users', 'identities', 'sessions', 'refresh_tokens']) t;
select has_column('auth', 'users', c, 'auth.users.' || c) from unnest(array['id', 'email', 'encrypted_password',
  'raw_app_meta_data', 'raw_user_meta_data', 'confirmed_at', 'is_anonymous']) c;
select col_type_is('auth', 'refresh_tokens', 'user_id', 'character varying(255)', 'refresh_tokens.user_id is varchar');

set local role authenticated;
set local request.jwt.claims to '{"sub": "6f0bd5a0-3c2a-4c57-8d5a-3f1f3f6e2b11", "role": "authenticated", "email": "a@example.com"}';
select is(auth.uid(), '6f0bd5a0-3c2a-4c57-8d5a-3f1f3f6e2b11'::uuid, 'auth.uid() from request.jwt.claims');
select is(auth.role(), 'authenticated', 'auth.role() from request.jwt.claims');
set local request.jwt.claim.sub to '0a0c2d6b-0000-4000-8000-000000000001';
select is(auth.uid(), '0a0c2d6b-0000-4000-8000-000000000001'::uuid, 'request.jwt.claim.sub wins over request.jwt.claims');
select throws_ok($$select * from auth.users$$, '42501', null, 'authenticated cannot read auth.users');
reset role;

select is((select count(*)::int from pg_proc
           where oid in ('auth.uid()'::regprocedure, 'auth.role()'::regprocedure, 'auth.email()'::regprocedure,
                         'auth.jwt()'::regprocedure)
             and 'search_path=""' = any(proconfig)), 4, 'the auth helpers set search_path to '''', as on hosted');

select * from finish();
