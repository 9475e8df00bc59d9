/**
 * Backend CPU per single-row INSERT transaction, step by step through the capture (fixture:
 * bench/pgbench/write-path.sql after setup.sql). Each table gets its own connection, which calls
 * wp.loop (INSERT + COMMIT per row, server side) `n` times per round; CPU is the backend's
 * /proc/<pid>/schedstat (ns), so other load on the machine moves it less than tps. Rounds are
 * interleaved; the min and the median are printed with their difference to the first table.
 *
 *   BENCH_DB_URL=postgresql://postgres:postgres@127.0.0.1:55440/postgres \
 *     npx tsx bench/pgbench/write-path.ts [n=5000] [rounds=5] [tables=wp.bare,wp.t_empty,...,wp.cap,wp.cnt]
 * The database must be on this machine (reads /proc); leaves captured changes of wp.cap / wp.cnt
 * behind (no processor: drop them with delete from dispatch.changes where source_table like 'wp.%').
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { benchDir, dbUrl } from '../support/sql-bench.ts';

const n = Number(process.argv[2] ?? 5000);
const rounds = Number(process.argv[3] ?? 5);
const tables = (
  process.argv[4] ??
  'wp.bare,wp.t_empty,wp.t_empty_sd,wp.t_ins,wp.t_tt,wp.t_json,wp.t_ins_agg,wp.cap,wp.cnt,wp.cntw'
).split(',');

/** ms of CPU the backend has run (schedstat, ns resolution). */
const cpuMs = (pid: number) => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;

const setup = new pg.Client({ connectionString: dbUrl() });
await setup.connect();
await setup.query(readFileSync(join(benchDir, 'pgbench', 'setup.sql'), 'utf8'));
await setup.query(readFileSync(join(benchDir, 'pgbench', 'write-path.sql'), 'utf8'));
await setup.end();

const res = new Map<string, number[]>();
const conns = new Map<string, { c: pg.Client; pid: number }>();
for (const t of tables) {
  const c = new pg.Client({ connectionString: dbUrl() });
  await c.connect();
  const pid = (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number;
  conns.set(t, { c, pid });
  res.set(t, []);
  await c.query('call wp.loop($1, 300)', [t]); // warm: plpgsql compiled, caches filled
}
for (let r = 0; r < rounds; r++) {
  for (const [t, { c, pid }] of conns) {
    const c0 = cpuMs(pid);
    await c.query('call wp.loop($1, $2)', [t, n]);
    res.get(t)!.push(((cpuMs(pid) - c0) / n) * 1000);
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const min = (a: number[]) => Math.min(...a);
const first = res.get(tables[0])!;
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(
  `µs of backend CPU per transaction: min (vs ${tables[0]}) | median (vs ${tables[0]})   load ${load}`,
);
for (const [t, v] of res) {
  const d = (x: number, y: number) => `${x.toFixed(1).padStart(6)} (+${(x - y).toFixed(1).padStart(5)})`;
  console.log(`${t.padEnd(16)} ${d(min(v), min(first))} | ${d(med(v), med(first))}`);
}
for (const { c } of conns.values()) await c.end();
