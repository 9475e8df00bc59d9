-- bootstrap:skip-if select exists (select from pg_extension where extname = 'pg_net')
--
-- pg_net stand-in (real pg_net is not packaged for this machine). Same schema, tables and function
-- signatures as pg_net 0.20 (facts §5); requests are queued in net.http_request_queue and a
-- NOTIFY on channel `pg_net` (delivered only at COMMIT) wakes the stack's sender
-- (local/src/db/net-sender.ts), which performs the calls and writes net._http_response.
-- Never installed where the real extension exists (the skip-if line above).
create schema if not exists net authorization supabase_admin;

do $$ begin
  if not exists (select from pg_type t join pg_namespace n on n.oid = t.typnamespace where n.nspname = 'net' and t.typname = 'http_method') then
    create domain net.http_method as text check (value ilike 'get' or value ilike 'post' or value ilike 'delete');
  end if;
end $$;

create unlogged table if not exists net.http_request_queue (
  id bigserial,
  method net.http_method not null,
  url text not null,
  headers jsonb not null,
  body bytea,
  timeout_milliseconds int not null
);

create unlogged table if not exists net._http_response (
  id bigint,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out bool,
  error_msg text,
  created timestamptz not null default now()
);
create index if not exists _http_response_created_idx on net._http_response (created);

create or replace function net._urlencode_string(string varchar) returns text
language plpgsql immutable strict
as $$
declare
  bytes bytea := convert_to(string, 'UTF8');
  result text := '';
  b int;
begin
  for i in 0 .. length(bytes) - 1 loop
    b := get_byte(bytes, i);
    if (b between 48 and 57) or (b between 65 and 90) or (b between 97 and 122) or b in (45, 46, 95, 126) then
      result := result || chr(b);
    else
      result := result || '%' || upper(lpad(to_hex(b), 2, '0'));
    end if;
  end loop;
  return result;
end;
$$;

create or replace function net._encode_url_with_params_array(url text, params_array text[]) returns text
language sql immutable strict
as $$
  select case
    when coalesce(array_length(params_array, 1), 0) = 0 then url
    else url || case when url like '%?%' then '&' else '?' end || array_to_string(params_array, '&')
  end;
$$;

-- plpgsql, not sql: a sql function with an aggregate is never inlined and was planned afresh on
-- every call (~0.1 ms per request); plpgsql caches its plan per session, and most calls have no params.
create or replace function net._params_array(params jsonb) returns text[]
language plpgsql immutable
as $$
begin
  if params is null or params = '{}'::jsonb then
    return '{}';
  end if;
  return (
    select coalesce(array_agg(net._urlencode_string(key) || '=' || net._urlencode_string(value)), '{}')
    from jsonb_each_text(params)
  );
end;
$$;

create or replace function net.http_get(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds int default 5000
) returns bigint
language plpgsql volatile parallel safe
as $$
declare
  request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, timeout_milliseconds)
  values ('GET', net._encode_url_with_params_array(url, net._params_array(params)), coalesce(headers, '{}'::jsonb), timeout_milliseconds)
  returning id into request_id;
  perform pg_notify('pg_net', '');
  return request_id;
end;
$$;

create or replace function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds int default 5000
) returns bigint
language plpgsql volatile parallel safe
as $$
declare
  request_id bigint;
  content_type text;
begin
  select header_value into content_type
  from jsonb_each_text(coalesce(headers, '{}'::jsonb)) r(header_name, header_value)
  where lower(header_name) = 'content-type'
  limit 1;
  if content_type is null then
    headers := coalesce(headers, '{}'::jsonb) || '{"Content-Type": "application/json"}'::jsonb;
  end if;
  if content_type <> 'application/json' then
    raise exception 'Content-Type header must be "application/json"';
  end if;
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values ('POST', net._encode_url_with_params_array(url, net._params_array(params)), headers,
          convert_to(body::text, 'UTF8'), timeout_milliseconds)
  returning id into request_id;
  perform pg_notify('pg_net', '');
  return request_id;
end;
$$;

create or replace function net.http_delete(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds int default 5000,
  body jsonb default null
) returns bigint
language plpgsql volatile parallel safe
as $$
declare
  request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values ('DELETE', net._encode_url_with_params_array(url, net._params_array(params)), coalesce(headers, '{}'::jsonb),
          case when body is null then null else convert_to(body::text, 'UTF8') end, timeout_milliseconds)
  returning id into request_id;
  perform pg_notify('pg_net', '');
  return request_id;
end;
$$;

-- pg_net >= 0.12: SECURITY INVOKER functions, USAGE and table rights to PUBLIC. The request
-- functions then pass through hosted's `grant_pg_net_access` event trigger (PG m/20250220): EXECUTE
-- revoked from PUBLIC and granted to supabase_functions_admin, postgres and the API roles.
grant usage on schema net to public;
grant all on all tables in schema net to public;
grant all on all sequences in schema net to public;
grant execute on all functions in schema net to public;
revoke execute on function net.http_get(text, jsonb, jsonb, integer),
  net.http_post(text, jsonb, jsonb, jsonb, integer),
  net.http_delete(text, jsonb, jsonb, integer, jsonb) from public;
grant execute on function net.http_get(text, jsonb, jsonb, integer),
  net.http_post(text, jsonb, jsonb, jsonb, integer),
  net.http_delete(text, jsonb, jsonb, integer, jsonb)
  to supabase_functions_admin, postgres, anon, authenticated, service_role;
