-- Vault stand-in: encrypted at rest, readable by postgres and service_role as on hosted (supabase/postgres
-- #1539), by neither anon nor authenticated (facts §6).
select plan(15);

set local role postgres;
select lives_ok($$select vault.create_secret('pgtap-secret-value', 'pgtap_secret', 'for pgTAP')$$, 'postgres creates a secret');
select is((select decrypted_secret from vault.decrypted_secrets where name = 'pgtap_secret'), 'pgtap-secret-value',
  'postgres reads the decrypted secret');
select ok((select secret <> 'pgtap-secret-value' and position('pgtap-secret-value' in secret) = 0
           from vault.secrets where name = 'pgtap_secret'), 'the stored secret is ciphertext');
select lives_ok($$select vault.update_secret((select id from vault.secrets where name = 'pgtap_secret'), 'changed')$$,
  'postgres updates a secret');
select is((select decrypted_secret from vault.decrypted_secrets where name = 'pgtap_secret'), 'changed', 'update applied');
select throws_ok($$select pg_read_file('supabase_vault.key')$$, '42501', null, 'postgres cannot read the key file');
select throws_ok($$insert into vault.secrets (secret) values ('x')$$, '42501', null, 'postgres cannot insert directly');
reset role;

set local role anon;
select throws_ok($$select * from vault.secrets$$, '42501', null, 'anon cannot read vault.secrets');
select throws_ok($$select * from vault.decrypted_secrets$$, '42501', null, 'anon cannot read vault.decrypted_secrets');
reset role;
set local role authenticated;
select throws_ok($$select * from vault.decrypted_secrets$$, '42501', null, 'authenticated cannot read vault.decrypted_secrets');
select throws_ok($$select vault.create_secret('x')$$, '42501', null, 'authenticated cannot create secrets');
reset role;
set local role service_role;
select is((select decrypted_secret from vault.decrypted_secrets where name = 'pgtap_secret'), 'changed',
  'service_role reads the decrypted secret (hosted grants it since #1539)');
select lives_ok($$select vault.update_secret((select id from vault.secrets where name = 'pgtap_secret'), 'again')$$,
  'service_role updates a secret');
select lives_ok($$delete from vault.secrets where name = 'pgtap_secret'$$, 'service_role deletes a secret');
select throws_ok($$insert into vault.secrets (secret) values ('x')$$, '42501', null, 'service_role cannot insert directly');
reset role;

select * from finish();
