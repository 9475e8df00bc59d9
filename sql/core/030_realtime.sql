-- Realtime glue: topics, broadcast helper, RLS on realtime.messages.
-- Broadcasts are sent from SECURITY DEFINER functions (owner postgres, BYPASSRLS), so realtime.send's
-- INSERT passes RLS; realtime.send swallows its own errors (a WARNING), so a broadcast never aborts
-- the transaction that sends it (a drain processing captured changes, or an app's write).

create or replace function dispatch.user_topic(p_user_id uuid) returns text
language sql immutable as $$ select 'dispatch:user:' || p_user_id::text $$;

create or replace function dispatch.audience_topic(p_audience text) returns text
language sql immutable as $$ select 'dispatch:audience:' || p_audience $$;

create or replace function dispatch.broadcast(p_topic text, p_event text, p_payload jsonb) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform realtime.send(p_payload, p_event, p_topic, true);
end
$$;

-- Broadcasts, one or many at once: one INSERT into realtime.messages -- the same rows realtime.send
-- writes (extension broadcast, private, an `id` added to payloads without one) -- inside one
-- exception block, so a statement costs one subtransaction however many messages it sends, and no
-- realtime.send call per message. If the insert fails (say, a missing partition or a changed table),
-- each message goes through realtime.send, which turns errors into warnings: a broadcast never
-- aborts the transaction that sends it.
create or replace function dispatch.send_batch(p_topics text[], p_events text[], p_payloads jsonb[]) returns void
language plpgsql security definer set search_path = '' as $$
declare
  i integer;
begin
  if p_topics is null or cardinality(p_topics) = 0 then
    return;
  end if;
  begin
    insert into realtime.messages (id, topic, extension, event, payload, private)
    select gen_random_uuid(), t.topic, 'broadcast', t.event,
           case when t.payload ? 'id' then t.payload else t.payload || jsonb_build_object('id', gen_random_uuid()) end, true
    from unnest(p_topics, p_events, p_payloads) as t(topic, event, payload);
  exception when others then
    for i in 1 .. cardinality(p_topics) loop
      perform realtime.send(p_payloads[i], p_events[i], p_topics[i], true);
    end loop;
  end;
end
$$;

-- May the signed-in user (auth.uid()) read a dispatch topic?
create or replace function dispatch.can_read_topic(p_topic text) returns boolean
language plpgsql stable security definer set search_path = '' as $$
declare
  uid uuid := dispatch.current_user_id();
begin
  if uid is null or p_topic is null then
    return false;
  end if;
  if p_topic = 'dispatch:user:' || uid::text then
    return true;
  end if;
  if p_topic like 'dispatch:audience:%' then
    return dispatch.is_audience_member(uid, substr(p_topic, length('dispatch:audience:') + 1));
  end if;
  return false;
end
$$;

-- Policies on realtime.messages:
--   dispatch_read       (permissive, SELECT, authenticated): own user topic and member audience topics.
--   dispatch_read_guard (restrictive, SELECT, authenticated): no other policy of the project can open
--                        dispatch:* topics to a signed-in user beyond dispatch_read's.
--   dispatch_read_guard_public (restrictive, SELECT, public): every other role (anon, a custom JWT role
--                        of a third-party auth, ...) reads no dispatch:* topic, whatever the app's policies.
--                        Its expression names only pg_catalog, so roles without USAGE on dispatch can
--                        evaluate it; members of authenticated are left to dispatch_read_guard.
--   dispatch_send_guard (restrictive, INSERT, public): nobody but the database (owner postgres,
--                        BYPASSRLS) sends on dispatch:* topics.
-- Creating policies on realtime.messages needs supautils' policy grant (hosted) or the table owner;
-- where neither is available this returns false with a WARNING instead of failing the install, and can
-- be re-run by a privileged role: select dispatch.install_realtime_policies();
create or replace function dispatch.install_realtime_policies() returns boolean
language plpgsql set search_path = '' as $$
begin
  if to_regclass('realtime.messages') is null then
    raise warning 'supadispatch: realtime.messages does not exist; realtime policies not installed';
    return false;
  end if;
  begin
    execute 'drop policy if exists dispatch_read on realtime.messages';
    execute $p$create policy dispatch_read on realtime.messages as permissive for select to authenticated
      using (extension = 'broadcast' and topic like 'dispatch:%' and dispatch.can_read_topic(topic))$p$;
    execute 'drop policy if exists dispatch_read_guard on realtime.messages';
    execute $p$create policy dispatch_read_guard on realtime.messages as restrictive for select to authenticated
      using (topic not like 'dispatch:%' or dispatch.can_read_topic(topic))$p$;
    execute 'drop policy if exists dispatch_read_guard_anon on realtime.messages';  -- 0.1.0, replaced by _public
    execute 'drop policy if exists dispatch_read_guard_public on realtime.messages';
    execute $p$create policy dispatch_read_guard_public on realtime.messages as restrictive for select to public
      using (topic not like 'dispatch:%' or pg_catalog.pg_has_role('authenticated', 'member'))$p$;
    execute 'drop policy if exists dispatch_send_guard on realtime.messages';
    execute $p$create policy dispatch_send_guard on realtime.messages as restrictive for insert to public
      with check (topic not like 'dispatch:%')$p$;
  exception when insufficient_privilege then
    raise warning 'supadispatch: realtime policies not installed (%): run select dispatch.install_realtime_policies() as the owner of realtime.messages', sqlerrm;
    return false;
  end;
  return true;
end
$$;
