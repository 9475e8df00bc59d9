/**
 * CPU per single-row INSERT transaction, measured on the backend itself (/proc/<pid>/stat utime +
 * stime), so other load on the machine barely moves it (unlike tps). One connection per table,
 * warmed up first; tables are interleaved round by round and the median is printed.
 *   BENCH_DB_URL=... npx tsx bench/pgbench/cpu.ts [txns=1000] [rounds=3] [tables=bare,plugin,webhook]
 * The database must be on this machine (reads /proc). Run bench/pgbench/setup.sql first.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';

const url = process.env.BENCH_DB_URL ?? process.env.SUPABASE_DB_URL;
if (!url) throw new Error('set BENCH_DB_URL (postgres role)');
const n = Number(process.argv[2] ?? 1000);
const rounds = Number(process.argv[3] ?? 3);
const tables = (process.argv[4] ?? 'bare,plugin,webhook').split(',');
const ticks = 100; // USER_HZ

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / ticks;
}

const results: Record<string, { cpu: number[]; wall: number[] }> = {};
const clients = new Map<string, { c: pg.Client; pid: number }>();
for (const t of tables) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const pid = (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number;
  clients.set(t, { c, pid });
  results[t] = { cpu: [], wall: [] };
}
const sql = (t: string) => `insert into bench.${t} (user_id, amount) values ($1, $2)`;
const uid = (i: number) => `00000000-0000-0000-0000-${String((i % 1000) + 1).padStart(12, '0')}`;
for (const [t, { c }] of clients) for (let i = 0; i < 100; i++) await c.query(sql(t), [uid(i), i]);
for (let r = 0; r < rounds; r++) {
  for (const [t, { c, pid }] of clients) {
    const c0 = cpuMs(pid);
    const w0 = performance.now();
    for (let i = 0; i < n; i++) await c.query(sql(t), [uid(i * 7 + r), i]);
    results[t].wall.push((performance.now() - w0) / n);
    results[t].cpu.push((cpuMs(pid) - c0) / n);
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
for (const t of tables) {
  console.log(
    `${t.padEnd(10)} backend cpu ${med(results[t].cpu).toFixed(3)} ms/txn  wall ${med(results[t].wall).toFixed(3)} ms/txn  (cpu rounds: ${results[t].cpu.map((x) => x.toFixed(3)).join(' ')})`,
  );
}
for (const { c } of clients.values()) await c.end();
