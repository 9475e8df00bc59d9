/**
 * What worker-stack.test.ts installs: the events the test worker knows (its registry) and the SQL of
 * their expanders and of the app tables whose writes fire them (capture triggers and processors, as
 * generated migrations make them).
 */
export const registry = {
  events: {
    'sdw.ping': {
      id: 'sdw.ping',
      table: null,
      operations: [],
      channels: [{ name: 'webhook:hooks', transport: 'webhook', audience: 'hooks', delaySeconds: 0 }],
      content: { payload: { n: '{{n}}', label: 'ping {{n}}' } },
      metadata: {},
      strict: false,
      module: null,
    },
    // the default schedule's 5 s retry (a transport of its own: scheduleWebhook)
    'sdw.retry5': {
      id: 'sdw.retry5',
      table: null,
      operations: [],
      channels: [{ name: 'webhook5:hooks', transport: 'webhook5', audience: 'hooks', delaySeconds: 0 }],
      content: { payload: { n: '{{n}}' } },
      metadata: {},
      strict: false,
      module: null,
    },
    // a delayed channel: the record's `delay` in seconds (see its expander below)
    'sdw.later': {
      id: 'sdw.later',
      table: null,
      operations: [],
      channels: [{ name: 'webhook:later', transport: 'webhook', audience: 'hooks', delaySeconds: 0 }],
      content: { payload: { n: '{{n}}' } },
      metadata: {},
      strict: false,
      module: null,
    },
  },
};

export const expander = `
create or replace function public.sdw_expand_ping(p_occurrences dispatch.occurrences[]) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.create_receipts('sdw.ping', 'webhook:hooks', 'webhook', 'hooks', interval '0',
    array(select row(o.id, null, o.new_record ->> 'url', null)::dispatch.recipient from unnest(p_occurrences) o));
end
$$;
select dispatch.register_event('sdw.ping', 'public.sdw_expand_ping', p_transports => array['webhook']);
create or replace function public.sdw_expand_retry5(p_occurrences dispatch.occurrences[]) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.create_receipts('sdw.retry5', 'webhook5:hooks', 'webhook5', 'hooks', interval '0',
    array(select row(o.id, null, o.new_record ->> 'url', null)::dispatch.recipient from unnest(p_occurrences) o));
end
$$;
select dispatch.register_event('sdw.retry5', 'public.sdw_expand_retry5', p_transports => array['webhook5']);
create or replace function public.sdw_expand_later(p_occurrences dispatch.occurrences[]) returns void
language plpgsql security definer set search_path = '' as $$
declare
  o dispatch.occurrences;
begin
  foreach o in array p_occurrences loop
    perform dispatch.create_receipts('sdw.later', 'webhook:later', 'webhook', 'hooks',
      make_interval(secs => (o.new_record ->> 'delay')::double precision),
      array[row(o.id, null, o.new_record ->> 'url', null)::dispatch.recipient]);
  end loop;
end
$$;
select dispatch.register_event('sdw.later', 'public.sdw_expand_later', p_transports => array['webhook']);

-- an app table whose inserts fire sdw.ping after commit, the way generated migrations do it:
-- a capture trigger (the change commits with the write) and a processor the drain calls
-- (its column is not called n: dispatch.capture_changes aggregates 'json_agg(n) from new_rows n')
create table public.sdw_hooks (id bigint generated always as identity primary key, url text not null, num integer not null);
create function public.sdw_hooks_process(p_changes dispatch.changes[]) returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_records jsonb;
begin
  select jsonb_agg(jsonb_build_object('new', jsonb_build_object('id', r.id, 'url', r.url, 'n', r.num), 'old', null,
                                      'actor', ch.actor, 'at', ch.captured_at) order by ch.id)
    into v_records
  from unnest(p_changes) as ch
  cross join lateral json_populate_recordset(null::public.sdw_hooks, ch.new_rows) as r
  where ch.operation = 'INSERT';
  if v_records is not null then
    perform dispatch.fire('sdw.ping', 'insert', 'public.sdw_hooks', v_records);
  end if;
end
$$;
select dispatch.register_source('public.sdw_hooks', 'public.sdw_hooks_process');
create trigger dispatch_capture_insert after insert on public.sdw_hooks
  referencing new table as new_rows for each statement execute function dispatch.capture_changes();

-- the same for a stream of writes whose processor takes 10 ms a batch (a heavy processor): every
-- drain then finds the changes written meanwhile
create table public.sdw_stream (like public.sdw_hooks including all);
create function public.sdw_stream_process(p_changes dispatch.changes[]) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform pg_sleep(0.01);
  perform public.sdw_hooks_process(p_changes);
end
$$;
select dispatch.register_source('public.sdw_stream', 'public.sdw_stream_process');
create trigger dispatch_capture_insert after insert on public.sdw_stream
  referencing new table as new_rows for each statement execute function dispatch.capture_changes();
`;
