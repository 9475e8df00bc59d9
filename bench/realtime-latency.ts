/**
 * Broadcast from Database latency of the local Realtime stand-in: from the COMMIT of a
 * transaction that called `realtime.send` to the message reaching a supabase-js subscriber
 * (same machine, same process, through the real gateway and a websocket).
 *
 *   SUPABASE_ADMIN_DB_URL=postgresql://supabase_admin:postgres@127.0.0.1:55432/postgres \
 *     npx tsx bench/realtime-latency.ts [samples=300] [vsn=2.0.0]
 *
 * Two clocks per sample: from sending COMMIT, and from COMMIT returning to the sender.
 * Samples are sequential and bounded (each waits at most 2 s), after 20 warm-up rounds.
 */
import { performance } from 'node:perf_hooks';
import { createClient } from '@supabase/supabase-js';
import pg from 'pg';
import WebSocket from 'ws';
import { createRealtimeService } from '../local/src/realtime/index.ts';
import { adminDbUrlOrNull, missingAdminDbMessage, startTestStack } from '../local/test/support/test-stack.ts';

const samples = Math.min(Math.max(Number(process.argv[2] ?? 300), 1), 5000);
const vsn = (process.argv[3] ?? '2.0.0') as '1.0.0' | '2.0.0';
const warmup = 20;

if (!adminDbUrlOrNull()) {
  console.error(missingAdminDbMessage);
  process.exit(2);
}

const service = createRealtimeService();
const stack = await startTestStack({ services: [service] });
await service.ready();
const supabase = createClient(stack.url, stack.anonKey, {
  realtime: { transport: WebSocket as never, vsn, logger: () => {} },
});
const topic = `bench-latency-${process.pid}`;
const waiting = new Map<number, (t: number) => void>();
const channel = supabase.channel(topic).on('broadcast', { event: 'tick' }, (m) => {
  waiting.get(m.payload.i as number)?.(performance.now());
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

const db = new pg.Client({ connectionString: stack.adminDbUrl });
await db.connect();
const fromCommitSent: number[] = [];
const fromCommitDone: number[] = [];
let lost = 0;
for (let i = 0; i < warmup + samples; i++) {
  const received = new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), 2000);
    waiting.set(i, (t) => {
      clearTimeout(timer);
      resolve(t);
    });
  });
  await db.query('begin');
  await db.query(`select realtime.send(jsonb_build_object('i', $1::int), 'tick', $2, false)`, [i, topic]);
  const sent = performance.now();
  await db.query('commit');
  const done = performance.now();
  const at = await received;
  waiting.delete(i);
  if (i < warmup) continue;
  if (at === null) {
    lost++;
    continue;
  }
  fromCommitSent.push(at - sent);
  fromCommitDone.push(Math.max(0, at - done));
}

const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};
const fmt = (v: number) => `${v.toFixed(2)} ms`;
console.log(`realtime-latency: ${fromCommitSent.length} samples (vsn ${vsn}), ${lost} lost`);
console.log(
  `  COMMIT sent -> received:     median ${fmt(pct(fromCommitSent, 50))}, p95 ${fmt(pct(fromCommitSent, 95))}, max ${fmt(pct(fromCommitSent, 100))}`,
);
console.log(
  `  COMMIT returned -> received: median ${fmt(pct(fromCommitDone, 50))}, p95 ${fmt(pct(fromCommitDone, 95))}, max ${fmt(pct(fromCommitDone, 100))}`,
);

await db.end();
await supabase.removeAllChannels();
await stack.stop();
process.exit(lost > 0 ? 1 : 0);
