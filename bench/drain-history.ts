/**
 * Drain cost on tables that hold history: the outbox's time-ordered ids (UUID v7, sql/core
 * 000_schema.sql `dispatch.uuid_v7`) against random ones (v4, `gen_random_uuid()`, the default before
 * core 0.4), side by side in one run. A real install keeps weeks of occurrences, receipts and
 * notifications; with random keys every drained row lands on its own leaf of each index that leads
 * with the id, and after a checkpoint each such page goes whole into the WAL (full_page_writes, on in
 * hosted Postgres). drain-cpu measures on empty tables and cannot show this.
 *
 *   BENCH_DB_URL=postgresql://postgres:postgres@127.0.0.1:54640/postgres \
 *   SUPABASE_ADMIN_DB_URL=postgresql://supabase_admin:postgres@127.0.0.1:54640/postgres \
 *     npx tsx bench/drain-history.ts [--history 1000000] [--changes 20000] [--rounds 5] [--quick] [--json out.json]
 *
 * Setup: the pgbench fixture (bench.plugin: 1 event, in_app + email, 2 counters) and `--history`
 * occurrences of history, each with its 2 receipts and 1 notification, half of them with v4 ids and
 * half with v7 ids made from their own times (so both variants see the same table and index sizes:
 * v4 inserts spread over every page of it, v7 inserts go to its right edge). The history is marked
 * (event `bench.history`) and deleted at the end.
 * Each round, for each variant in alternating order: the id defaults of the three tables set to the
 * variant, `--changes` single-row INSERTs captured by pgbench, a CHECKPOINT (superuser URL), then one
 * connection drains them with dispatch.drain(500): its backend CPU (/proc) and the WAL written
 * (pg_current_wal_lsn) per change. With the superuser URL, full_page_writes is turned on for the
 * measure (hosted's setting; the local stack runs with it off) and put back at the end.
 */
import pg from 'pg';
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
  history: { type: 'string', default: '1000000' },
  changes: { type: 'string', default: '20000' },
  rounds: { type: 'string', default: '5' },
});
const history = args.quick ? 20_000 : Math.max(1000, Number(args.history));
const changes = args.quick ? 1000 : Math.max(100, Number(args.changes));
const rounds = args.quick ? 1 : Math.max(1, Number(args.rounds));

type Variant = 'v4' | 'v7';
const idDefault: Record<Variant, string> = { v4: 'gen_random_uuid()', v7: 'dispatch.uuid_v7()' };
const outboxTables = ['dispatch.occurrences', 'dispatch.receipts', 'dispatch.notifications'];

const { c: admin } = await connect();
const postgres = await postgresVersion(admin);
const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;
const su = adminUrl ? new pg.Client({ connectionString: adminUrl }) : null;
await su?.connect();

await setupPgbenchFixture(admin);
await admin.query(`delete from dispatch.changes where source_table = 'bench.plugin'`);
const restoreTick = await pauseTickDrains(admin);
const fpwBefore = su ? (await su.query('show full_page_writes')).rows[0].full_page_writes : null;
if (su && fpwBefore !== 'on') {
  await su.query('alter system set full_page_writes = on');
  await su.query('select pg_reload_conf()');
}

async function setIds(v: Variant): Promise<void> {
  for (const t of outboxTables)
    await admin.query(`alter table ${t} alter column id set default ${idDefault[v]}`);
}

async function cleanUp(): Promise<void> {
  await setIds('v7');
  await restoreTick();
  log('deleting the history');
  await admin.query(`delete from dispatch.notifications where event_id = 'bench.history'`);
  await admin.query(`delete from dispatch.receipts where event_id = 'bench.history'`);
  await admin.query(`delete from dispatch.occurrences where event_id = 'bench.history'`);
  if (su && fpwBefore !== 'on') {
    await su.query('alter system reset full_page_writes');
    await su.query('select pg_reload_conf()');
  }
}

/**
 * The history: occurrences 200 ms apart ending now, ids v4 for odd and v7 (from the row's own time)
 * for even ones; receipts and notifications take their occurrence's kind. Notifications are written
 * with their insert trigger off (it would broadcast a million of them; the owner may turn it off).
 */
async function fillHistory(n: number): Promise<void> {
  const t0 = performance.now();
  const id = `case when g % 2 = 1 then gen_random_uuid() else dispatch.uuid_v7_at(t) end`;
  await admin.query('begin');
  await admin.query(
    `insert into dispatch.occurrences (id, event_id, source_table, operation, new_record, created_at, expanded_at)
     select ${id}, 'bench.history', 'bench.plugin', 'insert',
            jsonb_build_object('id', g, 'user_id', '00000000-0000-0000-0000-' || lpad((g % 1000 + 1)::text, 12, '0'),
                               'amount', g % 1000, 'status', 'open'), t, t
     from generate_series(1, $1::int) g, lateral (select now() - ($1 - g) * interval '200 ms' as t) x`,
    [n],
  );
  log(`history: ${n} occurrences (${Math.round(performance.now() - t0)} ms)`);
  // a receipt's or notification's id is of its occurrence's kind (the version digit of the uuid)
  const rid = (col: string) =>
    `case when substr(${col}::text, 15, 1) = '7' then dispatch.uuid_v7_at(t) else gen_random_uuid() end`;
  await admin.query(
    `insert into dispatch.receipts (id, occurrence_id, event_id, channel, transport, audience, user_id, status, content,
                                    created_at, updated_at, sent_at)
     select ${rid('o.id')}, o.id, o.event_id, c.ch, c.tr, 'user', (o.new_record ->> 'user_id')::uuid, 'sent',
            case when c.tr = 'in_app' then jsonb_build_object('title', 'Order received', 'message', 'Order #' || (o.new_record ->> 'id')) end,
            t, t, t
     from dispatch.occurrences o cross join (values ('in_app:user', 'in_app'), ('email:user', 'email')) c(ch, tr),
          lateral (select o.created_at as t) x
     where o.event_id = 'bench.history'`,
  );
  log(`history: ${2 * n} receipts (${Math.round(performance.now() - t0)} ms)`);
  await admin.query('alter table dispatch.notifications disable trigger notifications_insert');
  await admin.query(
    `insert into dispatch.notifications (id, user_id, event_id, occurrence_id, receipt_id, title, message, action_url, created_at, read_at)
     select ${rid('r.id')}, r.user_id, r.event_id, r.occurrence_id, r.id, 'Order received', 'Order', '/orders/1', t,
            case when random() < 0.9 then t end
     from dispatch.receipts r, lateral (select r.created_at as t) x
     where r.event_id = 'bench.history' and r.transport = 'in_app'`,
  );
  await admin.query('alter table dispatch.notifications enable trigger notifications_insert');
  await admin.query('commit');
  await admin.query('vacuum analyze dispatch.occurrences, dispatch.receipts, dispatch.notifications');
  log(`history: ${n} notifications, vacuumed (${Math.round(performance.now() - t0)} ms)`);
}

const rows: Row[] = [];
const cpu: Record<Variant, number[]> = { v4: [], v7: [] };
const wal: Record<Variant, number[]> = { v4: [], v7: [] };
const cpuRatio: number[] = [];
const walRatio: number[] = [];
try {
  await fillHistory(history);
  const drainer = await connect();
  captureInserts(40); // warm-up: the drain path's plans compiled once for the session
  await drainAll(drainer.c);
  for (let r = 1; r <= rounds; r++) {
    const order: Variant[] = r % 2 === 1 ? ['v4', 'v7'] : ['v7', 'v4'];
    const perRound: Partial<Record<Variant, { cpu: number; wal: number }>> = {};
    for (const v of order) {
      await setIds(v);
      captureInserts(changes);
      if (su) await su.query('checkpoint');
      const lsn0 = (await admin.query('select pg_current_wal_lsn()::text as l')).rows[0].l;
      const cpu0 = backendCpuMs(drainer.pid);
      const t0 = performance.now();
      const taken = await drainAll(drainer.c);
      const wallMs = performance.now() - t0;
      const cpuMs = backendCpuMs(drainer.pid) - cpu0;
      const walBytes = Number(
        (await admin.query('select pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8 as b', [lsn0]))
          .rows[0].b,
      );
      const c = cpuMs / taken;
      const w = walBytes / 1024 / taken;
      cpu[v].push(c);
      wal[v].push(w);
      perRound[v] = { cpu: c, wal: w };
      rows.push({
        round: r,
        ids: v,
        changes: taken,
        cpu_ms: cpuMs,
        wall_ms: round(wallMs, 0),
        cpu_ms_per_change: round(c, 3),
        wal_kib_per_change: round(w, 2),
      });
      log(`round ${r} ${v}: ${taken} changes, CPU ${c.toFixed(3)} ms/change, WAL ${w.toFixed(2)} KiB/change`);
    }
    const a = perRound.v4;
    const b = perRound.v7;
    if (a && b) {
      cpuRatio.push(b.cpu / a.cpu);
      walRatio.push(b.wal / a.wal);
    }
  }
  await drainer.c.end();
} finally {
  await cleanUp();
}

const c4 = spread(cpu.v4);
const c7 = spread(cpu.v7);
const w4 = spread(wal.v4);
const w7 = spread(wal.v7);
const cr = spread(cpuRatio);
const wr = spread(walRatio);
const fpw = su
  ? 'on'
  : `${(await admin.query('show full_page_writes')).rows[0].full_page_writes} (no superuser URL)`;
log(
  `\n${postgres}, ${history} occurrences of history, full_page_writes ${fpw}:\n` +
    `  drain CPU per change: v7 ${fmtSpread(c7, 'ms', 3)}, v4 ${fmtSpread(c4, 'ms', 3)}; v7/v4 ${fmtSpread(cr, '×')}\n` +
    `  WAL per change:       v7 ${fmtSpread(w7, 'KiB')}, v4 ${fmtSpread(w4, 'KiB')}; v7/v4 ${fmtSpread(wr, '×')}`,
);
writeReport(args.json, {
  name: 'drain-history',
  title: 'Drain CPU and WAL per change on tables with history: time-ordered (v7) against random (v4) ids',
  quick: args.quick,
  postgres,
  rows,
  summary: {
    history,
    changes,
    rounds,
    fullPageWrites: fpw,
    cpu: { v4: c4, v7: c7 },
    wal: { v4: w4, v7: w7 },
    cpuRatio: cr,
    walRatio: wr,
  },
  targets: [
    {
      measure: `drain per single-row change with ${history.toLocaleString('en')} occurrences of history (full_page_writes ${fpw === 'on' ? 'on' : 'off'}, a checkpoint before each drain)`,
      comparedWith: 'random v4 ids (before core 0.4), same rounds',
      target: '',
      result: `CPU ${fmtSpread(c7, 'ms', 3)} vs ${fmtSpread(c4, 'ms', 3)} (${fmtSpread(cr, '×')}); WAL ${fmtSpread(w7, 'KiB')} vs ${fmtSpread(w4, 'KiB')} (${fmtSpread(wr, '×')})`,
      met: null,
    },
  ],
});
await su?.end();
await admin.end();
