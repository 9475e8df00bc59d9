/**
 * Delivery latency with the REAL dispatch-worker running: from the COMMIT of an app write to the
 * in-app notification's broadcast reaching a supabase-js client (signed in as the recipient, on its
 * private `dispatch:user:<id>` topic), the whole path:
 *
 *   INSERT (capture trigger) → COMMIT → pg_net poke → dispatch-worker (Deno) → drain → processor →
 *   dispatch.fire → expander → in_app receipt + notification row → broadcast → Realtime → supabase-js
 *
 * side by side, sample for sample, with the floor: a trigger on another table calling
 * `realtime.send` to the same topic inside the write (no capture, no worker).
 *
 *   SUPABASE_ADMIN_DB_URL=postgresql://supabase_admin:postgres@127.0.0.1:55122/postgres \
 *     node --conditions=supadispatch-source --import tsx bench/delivery-latency.ts [--quick] [--json out.json]
 *       [--samples 300] [--rounds 5]
 *
 * Samples are sequential (a write, its message, then the floor's write and message), 50 ms apart,
 * each waiting at most 5 s; 10 warm-up rounds are dropped. The samples are split into rounds
 * (default 5, at most one per sample); the report gives each round's p50/p99 and their median with
 * min–max, besides the percentiles over all samples. --quick: 5 samples. The clock starts when COMMIT is sent.
 * Percentiles are by nearest rank, the suite's one rule (bench/support/report.ts `percentile`: the
 * smallest sample with at least p% of the samples at or below it): p50 of 60 samples is the 30th, p99
 * of 60 the largest, p99 of 300 the 297th. (Before session 6 this script used floor(p·n) as the index,
 * one rank higher: the 31st, the largest, the 298th.)
 * The broadcast is sent by the transaction that inserts the notification row, so a received
 * message means the row is committed.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createClient } from '@supabase/supabase-js';
import pg from 'pg';
import WebSocket from 'ws';
import { createNetSender } from '../local/src/db/net-sender.ts';
import { createRealtimeService } from '../local/src/realtime/index.ts';
import { BATCH_EVENT, broadcastMessages } from '../sdk/src/client/index.ts';
import {
  benchArgs,
  fmtSpread,
  machineFacts,
  percentile,
  postgresVersion,
  round,
  spread,
  writeReport,
} from './support/report.ts';
import { sleep, startWorkerBench } from './support/worker-stack.ts';

const args = benchArgs({ samples: { type: 'string' }, rounds: { type: 'string' } });
const samples = Math.min(Math.max(Number(args.samples ?? (args.quick ? 5 : 300)), 1), 5000);
const rounds = Math.min(Math.max(Number(args.rounds ?? 5), 1), samples);
const warmup = 10;
const WAIT_MS = 5000;

const registry = {
  events: {
    'bench.note': {
      id: 'bench.note',
      table: 'public.bench_notes',
      operations: ['insert'],
      channels: [{ name: 'in_app:owner', transport: 'in_app', audience: 'owner', delaySeconds: 0 }],
      content: { title: '{{body}}', message: 'note {{body}}' },
      metadata: {},
      strict: false,
      module: null,
    },
  },
};

// as a generated migration does it: capture trigger, processor, expander (in_app is delivered inline)
const sql = `
create or replace function public.bench_expand_note(p_occurrences dispatch.occurrences[]) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform dispatch.create_receipts('bench.note', 'in_app:owner', 'in_app', 'owner', interval '0',
    array(select row(o.id, (o.new_record ->> 'user_id')::uuid, null,
                     jsonb_build_object('title', o.new_record ->> 'body', 'message', 'note ' || (o.new_record ->> 'body'))
                    )::dispatch.recipient from unnest(p_occurrences) o));
end
$$;
select dispatch.register_event('bench.note', 'public.bench_expand_note', 'public.bench_notes', p_transports => array['in_app']);
create table public.bench_notes (id bigint generated always as identity primary key, user_id uuid not null, body text not null);
create function public.bench_notes_process(p_changes dispatch.changes[]) returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_records jsonb;
begin
  select jsonb_agg(jsonb_build_object('new', to_jsonb(r), 'old', null, 'actor', ch.actor, 'at', ch.captured_at) order by ch.id)
    into v_records
  from unnest(p_changes) as ch
  cross join lateral json_populate_recordset(null::public.bench_notes, ch.new_rows) as r
  where ch.operation = 'INSERT';
  if v_records is not null then
    perform dispatch.fire('bench.note', 'insert', 'public.bench_notes', v_records);
  end if;
end
$$;
select dispatch.register_source('public.bench_notes', 'public.bench_notes_process');
create trigger dispatch_capture_insert after insert on public.bench_notes
  referencing new table as new_rows for each statement execute function dispatch.capture_changes();

-- the floor: the broadcast sent by the write itself
create table public.bench_floor (id bigint generated always as identity primary key, user_id uuid not null, body text not null);
create function public.bench_floor_send() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform realtime.send(jsonb_build_object('title', new.body), 'floor', 'dispatch:user:' || new.user_id::text, true);
  return null;
end
$$;
create trigger bench_floor_send after insert on public.bench_floor for each row execute function public.bench_floor_send();
`;

const realtime = createRealtimeService();
const bench = await startWorkerBench({ registry, sql, services: [createNetSender(), realtime] });
await realtime.ready();
const userId = randomUUID();
const supabase = createClient(bench.stack.url, bench.stack.anonKey, {
  realtime: { transport: WebSocket as never, logger: () => {} },
});
await supabase.realtime.setAuth(bench.stack.signUserToken(userId));
const waiting = new Map<string, (t: number) => void>();
const arrived = (m: { payload: Record<string, unknown> }) => {
  const title = (m.payload.title ?? '') as string;
  waiting.get(title)?.(performance.now());
};
const channel = supabase
  .channel(`dispatch:user:${userId}`, { config: { private: true } })
  // a notification comes alone or in a `batch` with the unread counter (one broadcast per topic)
  .on('broadcast', { event: 'notification' }, arrived)
  .on('broadcast', { event: BATCH_EVENT }, (m) => {
    for (const inner of broadcastMessages(m.event, m.payload))
      if (inner.event === 'notification') arrived({ payload: inner.payload as Record<string, unknown> });
  })
  .on('broadcast', { event: 'floor' }, arrived);
await new Promise<void>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('subscribe timed out')), 10_000);
  channel.subscribe((status, error) => {
    if (status === 'SUBSCRIBED') {
      clearTimeout(timer);
      resolve();
    } else if (status !== 'CLOSED') reject(new Error(`${status} ${error?.message ?? ''}`));
  });
});

const db = new pg.Client({ connectionString: bench.dbUrl });
await db.connect();

/** ms from sending COMMIT of an insert into `table` to its message, or null after WAIT_MS. */
async function sample(table: string, body: string): Promise<number | null> {
  const received = new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), WAIT_MS);
    waiting.set(body, (t) => {
      clearTimeout(timer);
      resolve(t);
    });
  });
  await db.query('begin');
  await db.query(`insert into ${table} (user_id, body) values ($1, $2)`, [userId, body]);
  const sent = performance.now();
  await db.query('commit');
  const at = await received;
  waiting.delete(body);
  return at === null ? null : at - sent;
}

const worker: number[] = [];
const floor: number[] = [];
/** Per round: [worker samples, floor samples]. */
const perRound: [number[], number[]][] = Array.from({ length: rounds }, () => [[], []]);
let lost = 0;
try {
  for (let i = 0; i < warmup + samples; i++) {
    const viaWorker = await sample('public.bench_notes', `w${i}`);
    await sleep(50);
    const viaFloor = await sample('public.bench_floor', `f${i}`);
    await sleep(50);
    if (i < warmup) continue;
    const r = Math.floor(((i - warmup) * rounds) / samples);
    if (viaWorker === null || viaFloor === null) lost++;
    if (viaWorker !== null) {
      worker.push(viaWorker);
      perRound[r][0].push(viaWorker);
    }
    if (viaFloor !== null) {
      floor.push(viaFloor);
      perRound[r][1].push(viaFloor);
    }
  }
  const { rows: counted } = await db.query(
    `select count(*)::int as n from dispatch.notifications where user_id = $1 and event_id = 'bench.note'`,
    [userId],
  );
  const notified = counted[0].n;
  const fmt = (v: number) => `${v.toFixed(1)} ms`.padStart(9);
  const row = (name: string, v: number[]) =>
    `  ${name.padEnd(34)} p50 ${fmt(percentile(v, 50))}  p99 ${fmt(percentile(v, 99))}  max ${fmt(percentile(v, 100))}  (${v.length} samples)`;
  console.log(
    `delivery-latency: ${samples} samples each, ${lost} lost, ${notified} notification rows for ${warmup + samples} writes`,
  );
  console.log(row('app write → worker → notification', worker));
  console.log(row('floor: realtime.send in the write', floor));
  console.log(
    `  ratio worker / floor:               p50 ${(percentile(worker, 50) / percentile(floor, 50)).toFixed(2)}  p99 ${(percentile(worker, 99) / percentile(floor, 99)).toFixed(2)}`,
  );
  const rows = perRound.flatMap(([w, f], r) =>
    (
      [
        ['worker', w],
        ['floor', f],
      ] as const
    ).map(([path, v]) => ({
      round: r + 1,
      path,
      p50_ms: round(percentile(v, 50), 2),
      p99_ms: round(percentile(v, 99), 2),
      max_ms: round(percentile(v, 100), 2),
      n: v.length,
    })),
  );
  const of = (path: string, key: 'p50_ms' | 'p99_ms') =>
    spread(rows.filter((x) => x.path === path).map((x) => x[key]));
  const wP50 = of('worker', 'p50_ms');
  const ratio = spread(perRound.map(([w, f]) => percentile(w, 50) / percentile(f, 50)));
  writeReport(args.json, {
    name: 'delivery-latency',
    title: 'Worker: commit → in-app notification broadcast (real dispatch-worker)',
    quick: args.quick,
    machine: machineFacts(await postgresVersion((q) => db.query(q))),
    rows,
    summary: {
      samples,
      rounds,
      lost,
      notificationRows: Number(notified),
      worker: { p50: wP50, p99: of('worker', 'p99_ms') },
      floor: { p50: of('floor', 'p50_ms'), p99: of('floor', 'p99_ms') },
      ratioP50: ratio,
      all: {
        workerP50: percentile(worker, 50),
        workerP99: percentile(worker, 99),
        floorP50: percentile(floor, 50),
        floorP99: percentile(floor, 99),
      },
    },
    targets: [
      {
        measure: 'commit → in-app notification broadcast via the worker, p50 / p99',
        comparedWith: 'realtime.send inside the write (floor)',
        target: '',
        result: `p50 ${fmtSpread(wP50, 'ms')}, p99 ${fmtSpread(of('worker', 'p99_ms'), 'ms')}; ${fmtSpread(ratio, '×', 1)} the floor`,
        met: null,
      },
    ],
  });
} finally {
  await db.end();
  await supabase.removeAllChannels();
  await bench.stop();
}
