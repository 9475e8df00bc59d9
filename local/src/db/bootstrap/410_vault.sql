-- bootstrap:skip-if select exists (select from pg_extension where extname = 'supabase_vault')
--
-- Vault stand-in (facts §6): vault.secrets, vault.decrypted_secrets, vault.create_secret,
-- vault.update_secret with supabase_vault 0.3's signatures. Secrets are encrypted at rest (see the
-- cipher below; text in `secret`). The key is not in the database: it is a
-- file in the cluster's data directory (`supabase_vault.key`), written once by COPY and read with
-- pg_read_file by SECURITY DEFINER functions owned by supabase_admin. postgres is a member of
-- pg_read_all_data, so a key *table* would be readable by it; a server file is not.
-- Grants as on hosted: postgres SELECT, DELETE on both relations and EXECUTE on both functions
-- (WITH GRANT OPTION); anon, authenticated and service_role get nothing (no USAGE on vault).
create schema if not exists vault authorization supabase_admin;
revoke all on schema vault from public;
grant usage on schema vault to postgres with grant option;

do $$ begin
  if pg_stat_file('supabase_vault.key', true) is null then
    execute format('copy (select encode(extensions.gen_random_bytes(32), %L)) to %L',
      'hex', current_setting('data_directory') || '/supabase_vault.key');
  end if;
end $$;

create table if not exists vault.secrets (
  id uuid primary key default gen_random_uuid(),
  name text,
  description text not null default '',
  secret text not null,
  key_id uuid,
  nonce bytea default extensions.gen_random_bytes(24),
  created_at timestamptz not null default current_timestamp,
  updated_at timestamptz not null default current_timestamp
);
comment on table vault.secrets is 'Table with encrypted `secret` column for storing sensitive information on disk.';
create unique index if not exists secrets_name_idx on vault.secrets (name) where name is not null;

-- plpgsql, not sql: a SECURITY DEFINER SQL function is parsed and planned again in every
-- transaction that calls it; plpgsql keeps its plan for the session.
create or replace function vault._key() returns text
language plpgsql stable security definer set search_path = ''
as $$ begin return btrim(pg_read_file('supabase_vault.key'), E' \n'); end $$;
revoke all on function vault._key() from public;

-- Cipher. Hosted Vault uses libsodium (microseconds per secret). pgcrypto's ciphers go through
-- OpenSSL 3, whose per-call cipher setup costs 0.4 ms (raw AES) to 0.8 ms (pgp_sym_* with S2K) on
-- our machines -- and vault.decrypted_secrets decrypts every row it returns, in the transaction
-- that reads it. So new secrets use an encrypt-then-MAC construction on SHA-256 instead (about
-- 30 us): a random 16-byte nonce n, keystream block i = sha256(key || 'enc' || n || i) XORed with
-- the UTF-8 plaintext, tag = hmac-sha256(n || ciphertext, sha256(key || 'mac')); stored as
-- 'v2:' || base64(n || ciphertext || tag). A wrong key or altered data fails the tag: null, as
-- before. Older 'pgp_sym_encrypt' secrets (base64 without the prefix) still decrypt and are
-- re-encrypted below.
create or replace function vault._xor_keystream(data bytea, key bytea, nonce bytea) returns bytea
language plpgsql immutable strict set search_path = ''
as $$
declare
  stream bytea := ''::bytea;
  b integer := 0;
begin
  if length(data) = 0 then
    return data;
  end if;
  while length(stream) < length(data) loop
    stream := stream || sha256(key || '\x656e63'::bytea || nonce || int4send(b));
    b := b + 1;
  end loop;
  -- XOR as bit strings; varbit_send prefixes the bit length (4 bytes)
  return substr(varbit_send(('x' || encode(data, 'hex'))::varbit
                            # ('x' || encode(substr(stream, 1, length(data)), 'hex'))::varbit), 5);
end
$$;
revoke all on function vault._xor_keystream(bytea, bytea, bytea) from public;

create or replace function vault._encrypt(plaintext text) returns text
language plpgsql volatile security definer set search_path = ''
as $$
declare
  k bytea := decode(vault._key(), 'hex');
  n bytea := extensions.gen_random_bytes(16);
  c bytea;
begin
  if plaintext is null then
    return null;
  end if;
  c := vault._xor_keystream(convert_to(plaintext, 'UTF8'), k, n);
  return 'v2:' || encode(n || c || extensions.hmac(n || c, sha256(k || '\x6d6163'::bytea), 'sha256'), 'base64');
end;
$$;
revoke all on function vault._encrypt(text) from public;

create or replace function vault._decrypt(ciphertext text) returns text
language plpgsql stable security definer set search_path = ''
as $$
declare
  k bytea := decode(vault._key(), 'hex');
  raw bytea;
  n bytea;
  c bytea;
begin
  if ciphertext is null then
    return null;
  end if;
  if left(ciphertext, 3) = 'v2:' then
    raw := decode(substr(ciphertext, 4), 'base64');
    if length(raw) < 48 then
      return null;
    end if;
    n := substr(raw, 1, 16);
    c := substr(raw, 17, length(raw) - 48);
    if extensions.hmac(n || c, sha256(k || '\x6d6163'::bytea), 'sha256') <> substr(raw, length(raw) - 31) then
      return null;
    end if;
    return convert_from(vault._xor_keystream(c, k, n), 'UTF8');
  end if;
  begin
    return extensions.pgp_sym_decrypt(decode(ciphertext, 'base64'), vault._key());
  exception
    when others then return null;
  end;
end;
$$;
revoke all on function vault._decrypt(text) from public;

-- secrets written by the pgp_sym_encrypt stand-in: re-encrypt (idempotent; undecryptable ones stay)
update vault.secrets s set secret = vault._encrypt(d.plain)
from (select id, vault._decrypt(secret) as plain from vault.secrets where left(secret, 3) <> 'v2:') d
where s.id = d.id and d.plain is not null;

create or replace view vault.decrypted_secrets as
select s.id, s.name, s.description, s.secret,
  vault._decrypt(s.secret) as decrypted_secret,
  s.key_id, s.nonce, s.created_at, s.updated_at
from vault.secrets s;

create or replace function vault.create_secret(
  new_secret text,
  new_name text default null,
  new_description text default '',
  new_key_id uuid default null
) returns uuid
language plpgsql security definer set search_path = ''
as $$
declare
  rec record;
begin
  insert into vault.secrets (secret, name, description, key_id)
  values (vault._encrypt(new_secret), new_name, coalesce(new_description, ''), new_key_id)
  returning * into rec;
  return rec.id;
end;
$$;

create or replace function vault.update_secret(
  secret_id uuid,
  new_secret text default null,
  new_name text default null,
  new_description text default null,
  new_key_id uuid default null
) returns void
language plpgsql security definer set search_path = ''
as $$
begin
  update vault.secrets s set
    secret = case when new_secret is null then s.secret else vault._encrypt(new_secret) end,
    name = coalesce(new_name, s.name),
    description = coalesce(new_description, s.description),
    key_id = coalesce(new_key_id, s.key_id),
    updated_at = now()
  where s.id = secret_id;
end;
$$;

alter table vault.secrets owner to supabase_admin;
alter view vault.decrypted_secrets owner to supabase_admin;
revoke all on vault.secrets, vault.decrypted_secrets from public, anon, authenticated, service_role;
revoke all on function vault.create_secret(text, text, text, uuid) from public;
revoke all on function vault.update_secret(uuid, text, text, text, uuid) from public;
grant select, delete on vault.secrets, vault.decrypted_secrets to postgres with grant option;
grant execute on function vault.create_secret(text, text, text, uuid), vault.update_secret(uuid, text, text, text, uuid) to postgres with grant option;
-- service_role, as on hosted since supabase/postgres #1539: USAGE, SELECT and DELETE on the secrets,
-- EXECUTE on create/update (no grant option).
grant usage on schema vault to service_role;
grant select, delete on vault.secrets, vault.decrypted_secrets to service_role;
grant execute on function vault.create_secret(text, text, text, uuid), vault.update_secret(uuid, text, text, text, uuid) to service_role;
-- The view decrypts through this function, and a view's functions are checked against its user.
grant execute on function vault._decrypt(text) to postgres, service_role;
