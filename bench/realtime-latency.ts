/**
 * Broadcast from Database latency of the local Realtime stand-in: from the COMMIT of a transaction
 * that called `realtime.send` to the message reaching supabase-js subscribers (same machine, same
 * process, through the real gateway and websockets). Two subscribers on the same topic, one per
 * protocol version (vsn 1.0.0 JSON and 2.0.0 binary), receive every sample side by side.
 *
 *   node --conditions=supadispatch-source --import tsx bench/realtime-latency.ts [--quick] [--json out.json]
 *     [--rounds 5] [--samples 60]
 *
 * Needs SUPABASE_ADMIN_DB_URL. Rounds of sequential samples (each waits at most 2 s) after 20
 * warm-up sends; per round the p50 and p95 of each clock, reported as the median over rounds with
 * min–max. Two clocks per sample: from sending COMMIT, and from COMMIT returning to the sender.
 */
import { performance } from 'node:perf_hooks';
import { createClient } from '@supabase/supabase-js';
import pg from 'pg';
import WebSocket from 'ws';
import { createRealtimeService } from '../local/src/realtime/index.ts';
import { adminDbUrlOrNull, missingAdminDbMessage, startTestStack } from '../local/test/support/test-stack.ts';
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

const args = benchArgs({ rounds: { type: 'string' }, samples: { type: 'string' } });
const rounds = Math.min(Math.max(Number(args.rounds ?? (args.quick ? 1 : 5)), 1), 50);
const samples = Math.min(Math.max(Number(args.samples ?? (args.quick ? 10 : 60)), 1), 1000);
const warmup = args.quick ? 3 : 20;
const VSNS = ['1.0.0', '2.0.0'] as const;

if (!adminDbUrlOrNull()) {
  console.error(missingAdminDbMessage);
  process.exit(2);
}

const service = createRealtimeService();
const stack = await startTestStack({ services: [service] });
await service.ready();
const topic = `bench-latency-${process.pid}`;
const waiting = new Map<string, (t: number) => void>();
const clients = VSNS.map((vsn) =>
  createClient(stack.url, stack.anonKey, {
    realtime: { transport: WebSocket as never, vsn, logger: () => {} },
  }),
);
for (const [k, supabase] of clients.entries()) {
  const channel = supabase.channel(topic).on('broadcast', { event: 'tick' }, (m) => {
    waiting.get(`${VSNS[k]}:${m.payload.i}`)?.(performance.now());
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('subscribe timed out')), 10_000);
    channel.subscribe((status, error) => {
      if (status === 'SUBSCRIBED') {
        clearTimeout(timer);
        resolve();
      } else if (status !== 'CLOSED') reject(new Error(`${status} ${error?.message ?? ''}`));
    });
  });
}

const db = new pg.Client({ connectionString: stack.adminDbUrl });
await db.connect();
const postgres = await postgresVersion((sql) => db.query(sql));
const rows: {
  round: number;
  vsn: string;
  clock: string;
  p50_ms: number;
  p95_ms: number;
  max_ms: number;
  n: number;
}[] = [];
let lost = 0;
let i = 0;
const received = (key: string) =>
  new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), 2000);
    waiting.set(key, (t) => {
      clearTimeout(timer);
      resolve(t);
    });
  });
for (let r = 0; r <= rounds; r++) {
  const sent: Record<string, number[]> = {};
  const done: Record<string, number[]> = {};
  for (const v of VSNS) [sent[v], done[v]] = [[], []];
  for (let s = 0; s < (r === 0 ? warmup : samples); s++, i++) {
    const arrivals = VSNS.map((v) => received(`${v}:${i}`));
    await db.query('begin');
    await db.query(`select realtime.send(jsonb_build_object('i', $1::int), 'tick', $2, false)`, [i, topic]);
    const t0 = performance.now();
    await db.query('commit');
    const t1 = performance.now();
    const at = await Promise.all(arrivals);
    for (const [k, v] of VSNS.entries()) {
      waiting.delete(`${v}:${i}`);
      if (r === 0) continue;
      const t = at[k];
      if (t === null) lost++;
      else {
        sent[v].push(t - t0);
        done[v].push(Math.max(0, t - t1));
      }
    }
  }
  if (r === 0) continue; // warm-up
  for (const v of VSNS)
    for (const [clock, values] of [
      ['commit sent', sent[v]],
      ['commit returned', done[v]],
    ] as const)
      rows.push({
        round: r,
        vsn: v,
        clock,
        p50_ms: round(percentile(values, 50), 3),
        p95_ms: round(percentile(values, 95), 3),
        max_ms: round(percentile(values, 100), 3),
        n: values.length,
      });
}

const pick = (vsn: string, clock: string, key: 'p50_ms' | 'p95_ms') =>
  spread(rows.filter((x) => x.vsn === vsn && x.clock === clock).map((x) => x[key]));
const summary: Record<string, unknown> = { rounds, samplesPerRound: samples, lost };
console.log(
  `realtime-latency: ${rounds} rounds × ${samples} samples, both protocol versions per sample, ${lost} lost`,
);
for (const v of VSNS)
  for (const clock of ['commit sent', 'commit returned']) {
    const p50 = pick(v, clock, 'p50_ms');
    const p95 = pick(v, clock, 'p95_ms');
    summary[`vsn ${v}, ${clock}`] = { p50, p95 };
    console.log(
      `  vsn ${v}  ${clock.padEnd(16)} -> received: p50 ${fmtSpread(p50, 'ms', 2)}, p95 ${fmtSpread(p95, 'ms', 2)}`,
    );
  }
const v2 = pick('2.0.0', 'commit sent', 'p50_ms');
writeReport(args.json, {
  name: 'realtime-latency',
  title: 'Realtime: Broadcast from Database latency (local stand-in)',
  quick: args.quick,
  machine: machineFacts(postgres),
  rows,
  summary,
  targets: [
    {
      measure: 'realtime.send commit → supabase-js subscriber (vsn 2.0.0), p50',
      comparedWith: 'vsn 1.0.0 on the same messages',
      target: 'well inside 50 ms',
      result: `${fmtSpread(v2, 'ms', 2)} vs ${fmtSpread(pick('1.0.0', 'commit sent', 'p50_ms'), 'ms', 2)}`,
      met: v2.median < 50,
    },
  ],
});

await db.end();
await Promise.all(clients.map((c) => c.removeAllChannels()));
await stack.stop();
process.exit(lost > 0 ? 1 : 0);
