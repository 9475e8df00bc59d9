-- Registries the generator fills: events, audiences (admin check); counters in 040, source tables in 065.

create table if not exists dispatch.events (
  id text primary key,
  source_table text,
  category text,
  type text not null default 'info',
  description text not null default '',
  user_configurable boolean not null default true,
  is_strict boolean not null default false,
  -- function (occurrences dispatch.occurrences[]) returns void that creates the receipts of a batch
  -- of occurrences of this event (generated); null = an event without channels.
  expander text,
  transports text[] not null default '{}',
  config jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint events_id_format check (id ~ '^[A-Za-z0-9_.:-]+$')
);

create or replace function dispatch.register_event(
  p_id text,
  p_expander text default null,
  p_source_table text default null,
  p_category text default null,
  p_type text default 'info',
  p_user_configurable boolean default true,
  p_strict boolean default false,
  p_transports text[] default '{}',
  p_description text default '',
  p_config jsonb default '{}'
) returns void
language plpgsql security definer set search_path = '' as $$
begin
  if p_expander is not null and to_regproc(p_expander) is null then
    raise exception 'dispatch: expander % does not exist', p_expander;
  end if;
  insert into dispatch.events as e (id, expander, source_table, category, type, user_configurable, is_strict,
                                    transports, description, config)
  values (p_id, p_expander, p_source_table, p_category, coalesce(p_type, 'info'), coalesce(p_user_configurable, true),
          coalesce(p_strict, false), coalesce(p_transports, '{}'), coalesce(p_description, ''), coalesce(p_config, '{}'))
  on conflict (id) do update set
    expander = excluded.expander, source_table = excluded.source_table, category = excluded.category,
    type = excluded.type, user_configurable = excluded.user_configurable, is_strict = excluded.is_strict,
    transports = excluded.transports, description = excluded.description, config = excluded.config,
    updated_at = now();
end
$$;

-- Transports the plugin delivers (the worker's providers, plus in_app in SQL).
create or replace function dispatch.known_transports() returns text[]
language sql immutable as $$ select array['discord', 'email', 'in_app', 'slack', 'sms', 'webhook']::text[] $$;

-- Admins: a user is an admin if listed here or if auth.users.raw_app_meta_data->>'role' = 'admin'
-- (app_metadata is writable only with the service role). The generator may redefine
-- dispatch.is_admin(uuid) from the config's admin audience.
create table if not exists dispatch.admins (
  user_id uuid primary key,
  created_at timestamptz not null default now()
);

-- Members of named audiences (for audience topics and counters) where no generated rule exists.
create table if not exists dispatch.audience_members (
  audience text not null,
  user_id uuid not null,
  created_at timestamptz not null default now(),
  primary key (audience, user_id)
);
create index if not exists audience_members_user_idx on dispatch.audience_members (user_id);

create or replace function dispatch.is_admin(p_user_id uuid) returns boolean
language plpgsql stable security definer set search_path = '' as $$
begin
  if p_user_id is null then
    return false;
  end if;
  if exists (select from dispatch.admins a where a.user_id = p_user_id) then
    return true;
  end if;
  if to_regclass('auth.users') is not null then
    return exists (select from auth.users u where u.id = p_user_id and u.raw_app_meta_data ->> 'role' = 'admin');
  end if;
  return false;
end
$$;

-- Audience membership for topics `dispatch:audience:<name>`. The generator redefines this function
-- to compile the config's audiences; the default knows `admin` and dispatch.audience_members.
create or replace function dispatch.is_audience_member(p_user_id uuid, p_audience text) returns boolean
language plpgsql stable security definer set search_path = '' as $$
begin
  if p_user_id is null or p_audience is null then
    return false;
  end if;
  if p_audience = 'admin' and dispatch.is_admin(p_user_id) then
    return true;
  end if;
  return exists (select from dispatch.audience_members m where m.audience = p_audience and m.user_id = p_user_id);
end
$$;

-- Audiences a user belongs to (for dispatch_initial_state topics). Redefinable like the above.
create or replace function dispatch.user_audiences(p_user_id uuid) returns text[]
language plpgsql stable security definer set search_path = '' as $$
begin
  return array(
    select a from (
      select 'admin'::text as a where dispatch.is_admin(p_user_id)
      union
      select m.audience from dispatch.audience_members m where m.user_id = p_user_id
    ) s order by a
  );
end
$$;

-- The length cap of rendered text (setting render_max_length) and the cut at it, shared by
-- dispatch.render and by generated expanders, whose in-app templates are compiled to SQL when `gen`
-- runs (sdk/src/generator/sql/template.ts: a concat of the literal parts and `#>>` lookups): they read
-- the cap once per expander call and apply it to each text, exactly as dispatch.render does.
create or replace function dispatch.render_cap() returns integer
language plpgsql stable security definer set search_path = '' as $$
begin
  return greatest(coalesce(dispatch.setting_int('render_max_length', 100000), 100000), length(' [truncated]'));
end
$$;

-- plpgsql, not SQL: a SQL function handed an expression it reads three times is either not inlined
-- (a call with its own executor start per row) or evaluates the expression again for each use.
create or replace function dispatch.render_fit(p_text text, p_cap integer) returns text
language plpgsql immutable set search_path = '' as $$
begin
  if p_text is null or length(p_text) <= p_cap then
    return p_text;
  end if;
  return left(p_text, p_cap - length(' [truncated]')) || ' [truncated]';
end
$$;

-- {{column}} / {{a.b}} interpolation against a record (jsonb). Missing values render as ''.
-- One left-to-right pass: the template is split on the placeholders and each one is replaced by its
-- value from the record, so an inserted value is never scanned again (a value containing `{{x}}`
-- stays literal text). The output is capped at the setting render_max_length (characters, default
-- 100000): a longer result is cut and ends with ' [truncated]' (the whole result is then exactly
-- render_max_length long), so rendering never fails the expansion because of the size of the data.
create or replace function dispatch.render(p_template text, p_record jsonb) returns text
language plpgsql stable set search_path = '' as $$
declare
  pattern constant text := '\{\{\s*([A-Za-z0-9_.]+)\s*\}\}';
  cap integer;
  parts text[];
  keys text[];
  pieces text[];
  piece text;
  total bigint;
  i integer;
begin
  if p_template is null then
    return null;
  end if;
  if strpos(p_template, '{{') = 0 then
    parts := array[p_template];
    keys := '{}';
  else
    parts := regexp_split_to_array(p_template, pattern);
    keys := array(select m[1] from regexp_matches(p_template, pattern, 'g') m);
  end if;
  cap := dispatch.render_cap();
  pieces := array[parts[1]];
  total := length(parts[1]);
  i := 1;
  while total <= cap and i <= cardinality(keys) loop
    piece := coalesce(p_record #>> string_to_array(keys[i], '.'), '');
    pieces := pieces || piece || parts[i + 1];
    total := total + length(piece) + length(parts[i + 1]);
    i := i + 1;
  end loop;
  return dispatch.render_fit(array_to_string(pieces, ''), cap);
end
$$;
