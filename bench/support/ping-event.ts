/**
 * The worker measures' one event: `bench.ping`, a webhook to the URL in the occurrence's record
 * (worker-throughput, worker-rss, worker-sql-cost). The registry the served worker knows, and the SQL
 * that registers the event and its expander in the measure's database.
 */
export const pingRegistry = {
  events: {
    'bench.ping': {
      id: 'bench.ping',
      table: null,
      operations: [],
      channels: [{ name: 'webhook:hooks', transport: 'webhook', audience: 'hooks', delaySeconds: 0 }],
      content: { payload: { n: '{{n}}', label: 'ping {{n}}' } },
      metadata: {},
      strict: false,
      module: null,
    },
  },
  transports: { webhook: {} },
};

export const pingSql = `
create or replace function public.bench_expand_ping(p_occurrences dispatch.occurrences[]) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.create_receipts('bench.ping', 'webhook:hooks', 'webhook', 'hooks', interval '0',
    array(select row(o.id, null, o.new_record ->> 'url', null)::dispatch.recipient from unnest(p_occurrences) o));
end
$$;
select dispatch.register_event('bench.ping', 'public.bench_expand_ping', p_transports => array['webhook']);
`;
