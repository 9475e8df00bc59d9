/**
 * The local Realtime with many sockets over time: does its memory stay flat? The Realtime stand-in
 * runs in this process behind the real gateway (startTestStack over SUPABASE_ADMIN_DB_URL); a
 * separate process (bench/support/socket-holder.ts) holds N realtime-js sockets joined to one
 * public topic, and the database sends one Broadcast from Database message a second to it (each
 * fanned out to all N). This process's RSS and heap are sampled at a fixed interval.
 *
 *   node --conditions=supadispatch-source --import tsx bench/realtime-soak.ts [--quick] [--json out.json]
 *     [--sockets 1000] [--minutes 10]
 *
 * "Flat" is judged on the samples after the warm-up: the median RSS of the last fifth against the
 * median of the first fifth (growth ≤ 10%), with the least-squares slope in MiB per minute beside
 * it. --quick: 50 sockets for 20 s.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createRealtimeService } from '../local/src/realtime/index.ts';
import { adminDbUrlOrNull, missingAdminDbMessage, startTestStack } from '../local/test/support/test-stack.ts';
import { benchArgs, machineFacts, median, postgresVersion, round, writeReport } from './support/report.ts';
import { sleep } from './support/worker-stack.ts';

const args = benchArgs({ sockets: { type: 'string' }, minutes: { type: 'string' } });
const sockets = Math.min(Math.max(Number(args.sockets ?? (args.quick ? 50 : 1000)), 1), 5000);
const durationS = Math.min(Math.max(Number(args.minutes ?? (args.quick ? 1 / 3 : 10)) * 60, 5), 3600);
const intervalS = args.quick ? 1 : 10;
const warmupS = args.quick ? 3 : 30;
const MiB = 2 ** 20;
const log = (message: string) => process.stderr.write(`${message}\n`);

if (!adminDbUrlOrNull()) {
  console.error(missingAdminDbMessage);
  process.exit(2);
}
const service = createRealtimeService();
const stack = await startTestStack({ services: [service] });
await service.ready();
const db = new pg.Client({ connectionString: stack.adminDbUrl });
await db.connect();
const postgres = await postgresVersion((sql) => db.query(sql));
const topic = `bench-soak-${process.pid}`;
const rssBefore = process.memoryUsage().rss;

const holder = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    join(dirname(fileURLToPath(import.meta.url)), 'support', 'socket-holder.ts'),
    `${stack.url.replace(/^http/, 'ws')}/realtime/v1`,
    stack.anonKey,
    topic,
    String(sockets),
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const replies: string[] = [];
let wake: (() => void) | null = null;
createInterface({ input: holder.stdout }).on('line', (line) => {
  replies.push(line);
  wake?.();
});
async function reply(within: number): Promise<string> {
  const until = Date.now() + within;
  while (replies.length === 0 && Date.now() < until)
    await new Promise<void>((r) => {
      wake = r;
      setTimeout(r, 200);
    });
  const line = replies.shift();
  if (line === undefined) throw new Error(`socket holder did not answer within ${within} ms`);
  return line;
}

type Row = {
  t_s: number;
  rss_mib: number;
  heap_mib: number;
  sent: number;
  received: number;
  holder_rss_mib: number;
};
const rows: Row[] = [];
let sent = 0;
let ticking = true;
try {
  log(`realtime-soak: opening ${sockets} sockets ...`);
  const joined = Number((await reply(180_000)).split(' ')[1]);
  if (joined < sockets) throw new Error(`only ${joined} of ${sockets} sockets joined`);
  log(`realtime-soak: ${joined} joined; ${warmupS} s warm-up, then ${round(durationS / 60, 1)} min`);
  const ticker = (async () => {
    while (ticking) {
      await db.query(`select realtime.send(jsonb_build_object('i', $1::int), 'tick', $2, false)`, [
        sent,
        topic,
      ]);
      sent++;
      await sleep(1000);
    }
  })();
  await sleep(warmupS * 1000);
  const start = Date.now();
  for (let k = 0; k * intervalS <= durationS; k++) {
    const wait = start + k * intervalS * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
    holder.stdin.write('report\n');
    const [, received, , holderRss] = (await reply(30_000)).split(' ');
    const mem = process.memoryUsage();
    rows.push({
      t_s: round((Date.now() - start) / 1000, 1),
      rss_mib: round(mem.rss / MiB, 1),
      heap_mib: round(mem.heapUsed / MiB, 1),
      sent,
      received: Number(received),
      holder_rss_mib: round(Number(holderRss) / MiB, 1),
    });
  }
  ticking = false;
  await ticker;
} finally {
  ticking = false;
  holder.stdin.end();
  await new Promise((r) => {
    holder.once('exit', r);
    setTimeout(r, 15_000);
  });
  await db.end();
  await stack.stop();
}

const fifth = Math.max(1, Math.floor(rows.length / 5));
const first = median(rows.slice(0, fifth).map((r) => r.rss_mib));
const last = median(rows.slice(-fifth).map((r) => r.rss_mib));
const growth = (last - first) / first;
const slope = (() => {
  const xs = rows.map((r) => r.t_s / 60);
  const ys = rows.map((r) => r.rss_mib);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  return den > 0 ? xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) / den : 0;
})();
const end = rows[rows.length - 1];
const expectedMessages = end.sent * sockets;
const summary = {
  sockets,
  minutes: round(durationS / 60, 2),
  rssBeforeMiB: round(rssBefore / MiB, 1),
  rssFirstFifthMiB: first,
  rssLastFifthMiB: last,
  growthPct: round(growth * 100, 1),
  slopeMiBPerMin: round(slope, 2),
  heapFirstMiB: rows[0].heap_mib,
  heapLastMiB: end.heap_mib,
  messagesSent: end.sent,
  messagesReceived: end.received,
  messagesExpected: expectedMessages,
};
console.log(
  `realtime-soak: ${sockets} sockets, ${summary.minutes} min, ${end.sent} broadcasts (${end.received} of ${expectedMessages} deliveries seen)`,
);
console.log(
  `  server RSS ${first} MiB (first fifth, median) → ${last} MiB (last fifth): ${summary.growthPct}%, slope ${summary.slopeMiBPerMin} MiB/min; heap ${rows[0].heap_mib} → ${end.heap_mib} MiB`,
);
writeReport(args.json, {
  name: 'realtime-soak',
  title: `Realtime stand-in: memory with ${sockets} sockets`,
  quick: args.quick,
  machine: machineFacts(postgres),
  rows,
  summary,
  targets: [
    {
      measure: `local Realtime RSS, ${sockets} sockets, ${summary.minutes} min, 1 broadcast/s to all`,
      target: 'flat (last fifth ≤ first fifth + 10%)',
      result: `${first} → ${last} MiB (${summary.growthPct}%, ${summary.slopeMiBPerMin} MiB/min)`,
      met: growth <= 0.1,
    },
  ],
  plots: [
    {
      id: 'rss',
      title: `Realtime stand-in with ${sockets} sockets: memory over time`,
      xLabel: 'seconds after the warm-up',
      yLabel: 'MiB',
      series: [
        { label: 'server process RSS', points: rows.map((r) => [r.t_s, r.rss_mib]) },
        { label: 'server heap used', points: rows.map((r) => [r.t_s, r.heap_mib]) },
      ],
    },
  ],
});
process.exit(0);
