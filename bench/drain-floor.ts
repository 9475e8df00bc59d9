/**
 * The floor under the drain: what writing the rows a drain writes per change costs by itself. The
 * same captured changes (bench.plugin: 1 event with in_app + email to the row's user, 2 counters)
 * are processed twice, in alternating order: by dispatch.drain(batch), and by one plain set-based
 * statement per batch that writes the same rows into the same tables, at the same sizes and with the
 * same indexes, with triggers off (session_replication_role = replica) and no plpgsql: the changes
 * deleted, an occurrence per change, an in_app receipt (sent) and an email receipt (pending), a
 * notification, a realtime message per user, the per-user counter and the audience counter upserted
 * (into a copy of counter_state: its rows name registered counters). No drain that stores these rows
 * can cost less; the ratio says how much of the drain is its own logic.
 *
 *   BENCH_DB_URL=postgresql://postgres:postgres@127.0.0.1:54640/postgres \
 *   SUPABASE_ADMIN_DB_URL=postgresql://supabase_admin:postgres@127.0.0.1:54640/postgres \
 *     npx tsx bench/drain-floor.ts [--batches 100,500,2000] [--changes 10000] [--rounds 3] [--quick] [--json out.json]
 *
 * Both paths run in one superuser session (the floor's SET needs it; the drain runs as its definer
 * whoever calls it). The floor's rows carry event `bench.floor` and are deleted at the end. The drain
 * pays the local stack's NOTIFY trigger on realtime.messages (about 9 µs per change, see RESULTS.md),
 * which hosted does not run and the floor skips.
 */
import {
  backendCpuMs,
  benchArgs,
  captureInserts,
  connect,
  drainAll,
  fmtSpread,
  log,
  pauseTickDrains,
  postgresVersion,
  type Row,
  round,
  setupPgbenchFixture,
  spread,
  writeReport,
} from './support/sql-bench.ts';

const args = benchArgs({
  // 2000: the worker's batches in a backlog (drainMaxBacklog)
  batches: { type: 'string', default: '100,500,2000' },
  changes: { type: 'string', default: '10000' },
  rounds: { type: 'string', default: '3' },
});
const batches = args.quick
  ? [100]
  : String(args.batches)
      .split(',')
      .map(Number)
      .filter((n) => n > 0);
const changes = args.quick ? 1000 : Math.max(500, Number(args.changes));
const rounds = args.quick ? 1 : Math.max(1, Number(args.rounds));

const { c: admin } = await connect();
const postgres = await postgresVersion(admin);
await setupPgbenchFixture(admin);
await admin.query(`delete from dispatch.changes where source_table = 'bench.plugin'`);
await admin.query(`drop schema if exists bench_floor cascade; create schema bench_floor;
  create table bench_floor.changes (like dispatch.changes including all);
  create table bench_floor.counter_state (like dispatch.counter_state including all);
  insert into bench_floor.counter_state select * from dispatch.counter_state;`);
const restoreTick = await pauseTickDrains(admin);
const superUrl = process.env.SUPABASE_ADMIN_DB_URL;
if (!superUrl)
  throw new Error('drain-floor: set SUPABASE_ADMIN_DB_URL (a superuser: the floor writes with triggers off)');
const worker = await connect(superUrl);

/** One batch of the floor: the rows the drain writes for `batch` changes, in one statement, triggers off. */
const floorBatch = (batch: number) => `
begin;
set local session_replication_role = replica;
with ch as (
  delete from bench_floor.changes where id in (select id from bench_floor.changes order by id limit ${batch} for update skip locked)
  returning id, new_rows, actor, captured_at
), rec as (
  select r, (r ->> 'user_id')::uuid as user_id, ch.actor, ch.captured_at
  from ch cross join lateral json_array_elements(ch.new_rows) r
), occ as (
  insert into dispatch.occurrences (event_id, source_table, operation, new_record, actor, created_at, expanded_at)
  select 'bench.floor', 'bench.plugin', 'INSERT', rec.r::jsonb, rec.actor, rec.captured_at, now() from rec
  returning id, new_record
), in_app as (
  insert into dispatch.receipts (occurrence_id, event_id, channel, transport, audience, user_id, status, sent_at, content)
  select o.id, 'bench.floor', 'in_app:user', 'in_app', 'user', (o.new_record ->> 'user_id')::uuid, 'sent', now(),
         jsonb_build_object('title', 'Order received',
                            'message', concat('Order #', o.new_record ->> 'id', ' for ', o.new_record ->> 'amount'),
                            'actionUrl', concat('/orders/', o.new_record ->> 'id'))
  from occ o
  on conflict (occurrence_id, channel, recipient_key) do nothing
  returning id, occurrence_id, user_id, content
), email as (
  insert into dispatch.receipts (occurrence_id, event_id, channel, transport, audience, user_id, status)
  select o.id, 'bench.floor', 'email:user', 'email', 'user', (o.new_record ->> 'user_id')::uuid, 'pending'
  from occ o
  on conflict (occurrence_id, channel, recipient_key) do nothing
), notif as (
  insert into dispatch.notifications (user_id, event_id, occurrence_id, receipt_id, type, title, message, action_url)
  select i.user_id, 'bench.floor', i.occurrence_id, i.id, 'info', i.content ->> 'title', i.content ->> 'message',
         i.content ->> 'actionUrl'
  from in_app i
  returning id, user_id, title, message
), per_user as (
  insert into bench_floor.counter_state as s (name, scope, value, seq)
  select 'bench_open_orders', rec.user_id::text, count(*), 1 from rec group by rec.user_id order by 2
  on conflict (name, scope) do update set value = s.value + excluded.value, seq = s.seq + 1, updated_at = now()
  returning scope, value, seq
), audience as (
  insert into bench_floor.counter_state as s (name, scope, value, seq)
  select 'bench_all_open_orders', 'admin', count(*), 1 from rec
  on conflict (name, scope) do update set value = s.value + excluded.value, seq = s.seq + 1, updated_at = now()
  returning value, seq
), messages as (
  insert into realtime.messages (id, topic, extension, event, payload, private)
  select dispatch.uuid_v7(), 'dispatch:user:' || n.user_id, 'broadcast', 'bench_floor',
         jsonb_build_object('notifications', jsonb_agg(jsonb_build_object('id', n.id, 'title', n.title, 'message', n.message)),
                            'counter', jsonb_build_object('name', 'bench_open_orders', 'value', min(u.value), 'seq', min(u.seq))),
         true
  from notif n join per_user u on u.scope = n.user_id::text group by n.user_id
  union all
  select dispatch.uuid_v7(), 'dispatch:audience:admin', 'broadcast', 'bench_floor',
         jsonb_build_object('name', 'bench_all_open_orders', 'value', a.value, 'seq', a.seq), true
  from audience a
)
select count(*)::int as n from ch;
commit;`;

/** Runs one floor batch; returns how many changes it took. */
async function floorOnce(batch: number): Promise<number> {
  const results = (await worker.c.query(floorBatch(batch))) as unknown as { rows: { n: number }[] }[];
  return Number(results.find((r) => r.rows?.[0]?.n !== undefined)?.rows[0].n ?? 0);
}

/** Floor batches until one takes nothing (at most 100,000, as drainAll); returns the changes taken. */
async function floorAll(batch: number): Promise<number> {
  let taken = 0;
  for (let i = 0; i < 100_000; i++) {
    const n = await floorOnce(batch);
    if (n === 0) break;
    taken += n;
  }
  return taken;
}

const rows: Row[] = [];
const summary: Record<
  string,
  { floor: ReturnType<typeof spread>; drain: ReturnType<typeof spread>; ratio: ReturnType<typeof spread> }
> = {};
try {
  captureInserts(200); // warm-up: both paths' plans made once for the session
  await admin.query(
    `insert into bench_floor.changes overriding system value select * from dispatch.changes where source_table = 'bench.plugin'`,
  );
  await drainAll(worker.c);
  await floorAll(500);
  for (const batch of batches) {
    const floorUs: number[] = [];
    const drainUs: number[] = [];
    const ratio: number[] = [];
    for (let r = 1; r <= rounds; r++) {
      captureInserts(changes);
      // the same changes for both: copied into the floor's queue, and its statistics taken (the
      // floor's statement is planned each time: on a queue autovacuum had not analyzed yet, its
      // claim became a nested loop over the whole queue, and a round took 1.5 ms per change)
      await admin.query(
        `insert into bench_floor.changes overriding system value select * from dispatch.changes where source_table = 'bench.plugin'`,
      );
      await admin.query('analyze bench_floor.changes');
      const perRound: Record<string, number> = {};
      for (const path of r % 2 === 1 ? ['floor', 'drain'] : ['drain', 'floor']) {
        const cpu0 = backendCpuMs(worker.pid);
        const taken = path === 'floor' ? await floorAll(batch) : await drainAll(worker.c, batch);
        const us = ((backendCpuMs(worker.pid) - cpu0) * 1000) / Math.max(taken, 1);
        perRound[path] = us;
        rows.push({ batch, round: r, path, changes: taken, cpu_us_per_change: round(us, 1) });
        log(`batch ${batch} round ${r} ${path}: ${taken} changes, CPU ${us.toFixed(1)} us/change`);
      }
      floorUs.push(perRound.floor);
      drainUs.push(perRound.drain);
      ratio.push(perRound.drain / perRound.floor);
    }
    summary[batch] = { floor: spread(floorUs), drain: spread(drainUs), ratio: spread(ratio) };
  }
  // the floor wrote what the drain writes: per change an occurrence, two receipts, a notification
  const { rows: made } = await admin.query(`select
      (select count(*) from dispatch.occurrences where event_id = 'bench.floor')::int as occurrences,
      (select count(*) from dispatch.receipts where event_id = 'bench.floor')::int as receipts,
      (select count(*) from dispatch.notifications where event_id = 'bench.floor')::int as notifications,
      (select count(*) from bench_floor.changes)::int as left_over`);
  const m = made[0];
  if (m.left_over !== 0 || m.receipts !== 2 * m.occurrences || m.notifications !== m.occurrences)
    throw new Error(`the floor did not write the drain's rows: ${JSON.stringify(m)}`);
  log(`floor wrote ${m.occurrences} occurrences, ${m.receipts} receipts, ${m.notifications} notifications`);
} finally {
  await restoreTick();
  await admin.query('drop schema if exists bench_floor cascade');
  await admin.query(`delete from dispatch.notifications where event_id = 'bench.floor'`);
  await admin.query(`delete from dispatch.receipts where event_id = 'bench.floor'`);
  await admin.query(`delete from dispatch.occurrences where event_id = 'bench.floor'`);
  await worker.c.query(`delete from realtime.messages where event = 'bench_floor'`);
}

log(`\n${postgres}, ${changes} changes per round:`);
for (const [batch, s] of Object.entries(summary))
  log(
    `  batch ${batch}: drain ${fmtSpread(s.drain, 'us', 0)}, floor ${fmtSpread(s.floor, 'us', 0)} per change; drain/floor ${fmtSpread(s.ratio, '×')}`,
  );
writeReport(args.json, {
  name: 'drain-floor',
  title: 'Drain CPU per change against the floor: the same rows written by one plain statement per batch',
  quick: args.quick,
  postgres,
  rows,
  summary: { changes, rounds, batches: summary },
  targets: Object.entries(summary).map(([batch, s]) => ({
    measure: `drain CPU per change, batches of ${batch}`,
    comparedWith: 'the same rows written by one plain statement per batch (the floor), same rounds',
    target: '',
    result: `${fmtSpread(s.drain, 'µs', 0)} vs ${fmtSpread(s.floor, 'µs', 0)} (${fmtSpread(s.ratio, '×')})`,
    met: null,
  })),
});
await worker.c.end();
await admin.end();
