/**
 * Fan-out: one event to N recipients -- one occurrence expanded into N in_app receipts created
 * `sent` with their N notifications (and their broadcasts and unread counters) -- against a bare
 * `INSERT ... SELECT` of the same rows (the same receipt and notification columns into two plain
 * tables with only a primary key), at 1k / 10k / 100k recipients, interleaved rounds.
 * Issue 20's target: < 1 s for 10,000 recipients, linear in N.
 *
 *   BENCH_DB_URL=postgresql://postgres:postgres@127.0.0.1:55440/postgres \
 *     npx tsx bench/fanout.ts [--sizes 1000,10000,100000] [--rounds 5] [--quick] [--json out.json]
 *
 * The plugin side is one transaction: dispatch.emit('bench.fanout', {"n": N}) and COMMIT (the
 * event's expander selects the first N users of bench.fanout_users and calls
 * dispatch.create_receipts once). After each plugin round (untimed) it checks what was produced: N
 * sent receipts, N notifications, each recipient's unread counter at 1, and counts the round's
 * realtime.messages rows on the recipients' topics (one `batch` each). What each round created is
 * deleted before the next (untimed; the counters go back to 0 with the notifications).
 */
import type pg from 'pg';
import {
  benchArgs,
  connect,
  fmtSpread,
  log,
  type PlotSpec,
  postgresVersion,
  type Row,
  round,
  spread,
  writeReport,
} from './support/sql-bench.ts';

const args = benchArgs({
  sizes: { type: 'string', default: '1000,10000,100000' },
  rounds: { type: 'string', default: '5' },
});
const sizes = (args.quick ? '100,1000' : args.sizes)
  .split(',')
  .map(Number)
  .filter((n) => n > 0 && n <= 1_000_000);
const rounds = args.quick ? 1 : Math.max(1, Number(args.rounds));
const maxN = Math.max(...sizes);

const FIXTURE = `
drop schema if exists bench_fanout cascade;
delete from dispatch.events where id = 'bench.fanout';
create schema bench_fanout;
create table bench_fanout.users (user_id uuid primary key);
insert into bench_fanout.users
  select ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid from generate_series(1, ${maxN}) g;
analyze bench_fanout.users;
create function bench_fanout.expand(occurrences dispatch.occurrences[]) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.create_receipts('bench.fanout', 'in_app:all', 'in_app', 'all', interval '0',
    array(select row(o.id, u.user_id, null,
                     jsonb_build_object('title', 'Release ' || (o.new_record ->> 'v'),
                                        'message', 'Version ' || (o.new_record ->> 'v') || ' is out',
                                        'actionUrl', '/releases'))::dispatch.recipient
          from unnest(occurrences) o
          cross join lateral (select us.user_id from bench_fanout.users us order by us.user_id
                              limit (o.new_record ->> 'n')::int) u));
end $$;
select dispatch.register_event('bench.fanout', 'bench_fanout.expand', null, 'releases', 'info', false, false,
                               array['in_app']);
-- the bare baseline: the same columns, a primary key, nothing else
create table bench_fanout.receipts (like dispatch.receipts including defaults including generated);
alter table bench_fanout.receipts add primary key (id);
create table bench_fanout.notifications (like dispatch.notifications including defaults);
alter table bench_fanout.notifications add primary key (id);
`;

const BARE = `
with u as (select us.user_id from bench_fanout.users us order by us.user_id limit $1::int),
r as (
  insert into bench_fanout.receipts (occurrence_id, event_id, channel, transport, audience, user_id, status,
                                     next_attempt_at, content, sent_at)
  select gen_random_uuid(), 'bench.fanout', 'in_app:all', 'in_app', 'all', u.user_id, 'sent', now(),
         jsonb_build_object('title', 'Release 1', 'message', 'Version 1 is out', 'actionUrl', '/releases'), now()
  from u returning id, user_id, occurrence_id, content
)
insert into bench_fanout.notifications (user_id, event_id, occurrence_id, receipt_id, type, title, message, action_url, metadata)
select r.user_id, 'bench.fanout', r.occurrence_id, r.id, 'info', r.content ->> 'title', r.content ->> 'message',
       r.content ->> 'actionUrl', '{}' from r`;

async function timed(c: pg.Client, fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await c.query('begin');
  await fn();
  await c.query('commit');
  return performance.now() - t0;
}

async function cleanup(c: pg.Client): Promise<void> {
  await c.query(`delete from dispatch.notifications where event_id = 'bench.fanout'`);
  await c.query(`delete from dispatch.receipts where event_id = 'bench.fanout'`);
  await c.query(`delete from dispatch.occurrences where event_id = 'bench.fanout'`);
  await c.query('truncate bench_fanout.receipts, bench_fanout.notifications');
}

const { c } = await connect();
const postgres = await postgresVersion(c);
await c.query(FIXTURE);
await cleanup(c);
// warm-up (plans, caches)
await timed(c, () => c.query(`select dispatch.emit('bench.fanout', '{"n": 50, "v": 0}')`));
await timed(c, () => c.query(BARE, [50]));
await cleanup(c);

const rows: Row[] = [];
const bySize = new Map<number, { plugin: number[]; bare: number[]; created: number }>();
for (let r = 1; r <= rounds; r++) {
  for (const n of sizes) {
    const entry = bySize.get(n) ?? { plugin: [], bare: [], created: 0 };
    bySize.set(n, entry);
    const order = (r + n) % 2 === 0 ? ['plugin', 'bare'] : ['bare', 'plugin'];
    for (const which of order) {
      if (which === 'plugin') {
        const { rows: t0 } = await c.query(`select clock_timestamp()::timestamp as at`);
        const ms = await timed(c, () => c.query(`select dispatch.emit('bench.fanout', $1)`, [{ n, v: r }]));
        // what it produced (untimed): a receipt and a notification per recipient, ONE broadcast per
        // recipient's topic (its notification and its unread counter), each unread counter at 1
        const { rows: k } = await c.query(
          `select
            (select count(*) from dispatch.receipts where event_id = 'bench.fanout' and status = 'sent')::int as receipts,
            (select count(*) from dispatch.notifications where event_id = 'bench.fanout')::int as notifications,
            (select count(*) from realtime.messages where inserted_at >= $1
               and topic like 'dispatch:user:00000000-0000-4000-8000-%')::int as broadcasts,
            (select count(*) from dispatch.counter_state where name = 'unread_notifications'
               and scope like '00000000-0000-4000-8000-%' and value <> 0)::int as counted,
            (select count(*) from dispatch.counter_state where name = 'unread_notifications'
               and scope like '00000000-0000-4000-8000-%' and value not in (0, 1))::int as wrong`,
          [t0[0].at],
        );
        entry.created = Math.min(k[0].receipts, k[0].notifications);
        if (k[0].receipts !== n || k[0].notifications !== n || k[0].counted !== n || k[0].wrong !== 0)
          throw new Error(`fanout ${n}: ${JSON.stringify(k[0])}`);
        // (the broadcasts are counted, not asserted: an idle stack may have no realtime partition today)
        entry.plugin.push(ms);
        rows.push({
          round: r,
          recipients: n,
          kind: 'plugin',
          ms: round(ms, 1),
          us_per_recipient: round((ms * 1000) / n, 2),
          broadcasts: k[0].broadcasts,
        });
      } else {
        const ms = await timed(c, () => c.query(BARE, [n]));
        entry.bare.push(ms);
        rows.push({
          round: r,
          recipients: n,
          kind: 'bare',
          ms: round(ms, 1),
          us_per_recipient: round((ms * 1000) / n, 2),
          broadcasts: 0,
        });
      }
      await cleanup(c);
    }
    log(
      `round ${r}, ${n} recipients: plugin ${entry.plugin.at(-1)?.toFixed(0)} ms, bare ${entry.bare.at(-1)?.toFixed(0)} ms`,
    );
  }
}

const summary: Record<string, unknown> = { rounds, sizes };
const plugin: [number, number][] = [];
const bare: [number, number][] = [];
log(`\n${postgres}: one event to N recipients (receipt + notification each), median (min–max)`);
for (const [n, e] of bySize) {
  const p = spread(e.plugin);
  const b = spread(e.bare);
  summary[`n${n}`] = {
    plugin: p,
    bare: b,
    ratio: p.median / b.median,
    usPerRecipient: (p.median * 1000) / n,
  };
  plugin.push([n, p.median]);
  bare.push([n, b.median]);
  log(
    `  ${String(n).padStart(7)}: plugin ${fmtSpread(p, 'ms', 0)}, bare ${fmtSpread(b, 'ms', 0)}, ` +
      `${(p.median / b.median).toFixed(1)}x bare, ${((p.median * 1000) / n).toFixed(1)} µs per recipient`,
  );
}
const ten = bySize.get(10_000);
const tenMs = ten ? spread(ten.plugin) : undefined;
const perRecipient = [...bySize].map(([n, e]) => (spread(e.plugin).median * 1000) / n);
const linear = perRecipient.length > 1 ? Math.max(...perRecipient) / Math.min(...perRecipient) : 1;
summary.linearity = linear;
log(`  per-recipient cost, largest / smallest across sizes: ${linear.toFixed(2)} (1.0 = linear)`);
const plots: PlotSpec[] = [
  {
    id: 'scale',
    title: 'One event to N recipients (receipts + notifications)',
    xLabel: 'recipients',
    yLabel: 'ms',
    logX: true,
    series: [
      { label: 'supadispatch (emit + commit)', points: plugin },
      { label: 'bare INSERT … SELECT', points: bare },
    ],
  },
];
writeReport(args.json, {
  name: 'fanout',
  title: 'One event to N recipients vs a bare INSERT … SELECT of the same rows',
  quick: args.quick,
  postgres,
  rows,
  summary,
  plots,
  targets: tenMs
    ? [
        {
          measure: 'one event to 10,000 recipients',
          comparedWith: `bare INSERT … SELECT: ${fmtSpread(spread(ten?.bare ?? []), 'ms', 0)}`,
          target: '< 1 s, linear',
          result: `${fmtSpread(tenMs, 'ms', 0)}; per-recipient spread ${linear.toFixed(2)}×`,
          met: tenMs.median < 1000 && linear < 1.5,
        },
      ]
    : [],
});
await c.query('drop schema if exists bench_fanout cascade');
await c.query(`delete from dispatch.events where id = 'bench.fanout'`);
await c.end();
