/**
 * What the SQL-core measures (drain-cpu, drain-history, drain-horizon, drain-sustained, fanout,
 * global-counter) share: the
 * `--quick` / `--json <path>` contract and its report (the same fields as the suite's MeasureReport:
 * name, title, date, quick, command, machine, rows, summary, targets, plots), the pgbench fixture
 * (bench/pgbench/setup.sql), pgbench runs, backend CPU from /proc, and medians with spread.
 * The database must be on this machine (pgbench, /proc). Connection: BENCH_DB_URL, else
 * SUPABASE_DB_URL (the `postgres` role, core installed).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { toCsv } from '../report/tables.ts';
import {
  type MeasureReport,
  machineFacts,
  type Spread,
  fmtSpread as suiteFmtSpread,
  writeReport as writeSuiteReport,
} from './report.ts';

export const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const pgBin = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** The `postgres`-role URL of the database to measure; throws when none is set. */
export function dbUrl(): string {
  const url = process.env.BENCH_DB_URL ?? process.env.SUPABASE_DB_URL;
  if (!url) throw new Error('set BENCH_DB_URL or SUPABASE_DB_URL (postgres role, core installed)');
  return url;
}

// The suite's contract and statistics (bench/support/report.ts), re-exported so the SQL-core
// measures import one module; only the CSV beside the JSON and fmtSpread's two digits are theirs.
export {
  benchArgs,
  median,
  type PlotSpec,
  round,
  type Spread,
  spread,
  type TargetRow,
} from './report.ts';
export type Row = MeasureReport['rows'][number];
export type Report = MeasureReport;

/**
 * Writes the report as JSON to `path` (when given) and its rows as CSV beside it (same name, .csv),
 * the raw figures for plots. Returns the report.
 */
export function writeReport(
  path: string | undefined,
  r: Omit<Report, 'date' | 'command' | 'machine'> & { postgres?: string },
): Report {
  const { postgres, ...rest } = r;
  const report = writeSuiteReport(path, { ...rest, machine: machineFacts(postgres) });
  if (path) writeFileSync(`${path.replace(/\.json$/, '')}.csv`, toCsv(report.rows));
  return report;
}

/** "0.21 ms (0.19–0.25)": a median and its min–max (two digits: these figures are sub-millisecond). */
export function fmtSpread(s: Spread, unit: string, digits = 2): string {
  return suiteFmtSpread(s, unit, digits);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const log = (message: string) => process.stdout.write(`${message}\n`);

/** ms of CPU a backend has used (utime + stime of /proc/<pid>/stat); NaN off Linux. */
export function backendCpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/** A connected client with its backend pid. */
export async function connect(url = dbUrl()): Promise<{ c: pg.Client; pid: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const pid = (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number;
  return { c, pid };
}

export async function postgresVersion(c: pg.Client): Promise<string> {
  const { rows } = await c.query('select version() as v');
  return String(rows[0].v).split(' ').slice(0, 2).join(' ');
}

/**
 * Builds schema `bench` (bench/pgbench/setup.sql: bare, plugin, inline and webhook tables, the
 * bench.order_created event with 2 channels and 2 counters) and puts a worker URL in Vault (so the
 * debounced poke is measured; a discard port) when the role may.
 */
export async function setupPgbenchFixture(c: pg.Client): Promise<void> {
  await c.query(readFileSync(join(benchDir, 'pgbench', 'setup.sql'), 'utf8'));
  try {
    await c.query(`do $$ begin
      if not exists (select from vault.decrypted_secrets where name = 'dispatch_worker_url') then
        perform vault.create_secret('http://127.0.0.1:9/functions/v1/dispatch-worker', 'dispatch_worker_url');
      end if; end $$`);
  } catch {
    // no Vault access: the plugin runs without its worker poke
  }
}

/** Removes what the fixture and the runs left (schema bench, its events, counters and rows). */
export async function dropPgbenchFixture(c: pg.Client): Promise<void> {
  await c.query(`delete from dispatch.changes where source_table like 'bench.%'`);
  await c.query(`delete from dispatch.sources where source_table like 'bench.%'`);
  await c.query(`delete from dispatch.receipts where event_id like 'bench.%'`);
  await c.query(`delete from dispatch.notifications where event_id like 'bench.%'`);
  await c.query(`delete from dispatch.occurrences where event_id like 'bench.%'`);
  await c.query(`delete from dispatch.events where id like 'bench.%'`);
  await c.query(`delete from dispatch.counters_def where name like 'bench\\_%'`);
  await c.query('drop schema if exists bench cascade');
}

export interface PgbenchResult {
  tps: number;
  transactions: number;
}

/**
 * Runs pgbench with `script` (a file under bench/pgbench or an absolute path): `clients` connections
 * for `seconds`, optionally throttled to `rate` transactions/s in total.
 */
export function pgbench(
  script: string,
  clients: number,
  seconds: number,
  rate?: number,
): Promise<PgbenchResult> {
  const file = script.startsWith('/') ? script : join(benchDir, 'pgbench', script);
  const args = [
    dbUrl(),
    '-n',
    '-c',
    String(clients),
    '-j',
    String(Math.min(clients, 4)),
    '-T',
    String(seconds),
    '-f',
    file,
  ];
  if (rate) args.push('-R', String(rate));
  return new Promise((resolve, reject) => {
    const p = spawn(join(pgBin, 'pgbench'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      err += d;
    });
    p.on('error', reject);
    p.on('close', (code) => {
      const tps = /^tps = ([\d.]+)/m.exec(out);
      const n = /number of transactions actually processed: (\d+)/.exec(out);
      if (code !== 0 || !tps || !n) reject(new Error(`pgbench ${script} failed (${code}): ${err || out}`));
      else resolve({ tps: Number(tps[1]), transactions: Number(n[1]) });
    });
  });
}

/**
 * Exactly `n` captured single-row INSERTs into bench.plugin (pgbench/insert_plugin.sql, 4 clients,
 * n/4 transactions each, an exact count rather than pgbench()'s duration): `n` waiting changes.
 */
export function captureInserts(n: number): void {
  const per = Math.max(1, Math.floor(n / 4));
  const file = join(benchDir, 'pgbench', 'insert_plugin.sql');
  const r = spawnSync(
    join(pgBin, 'pgbench'),
    [dbUrl(), '-n', '-c', '4', '-j', '2', '-t', String(per), '-f', file],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`pgbench insert_plugin.sql failed: ${r.stderr}`);
}

/** Calls dispatch.drain(batch) until a call takes nothing (at most 100,000 calls); returns the changes taken. */
export async function drainAll(c: pg.Client, batch = 500): Promise<number> {
  let taken = 0;
  for (let i = 0; i < 100_000; i++) {
    const n = Number((await c.query('select dispatch.drain($1) as n', [batch])).rows[0].n);
    if (n === 0) break;
    taken += n;
  }
  return taken;
}

/**
 * Stops dispatch.tick() (pg_cron, every minute) from draining: it would take a round's changes before
 * the measured drainer does (a whole round of them at a minute boundary). Returns what puts the
 * setting back.
 */
export async function pauseTickDrains(c: pg.Client): Promise<() => Promise<void>> {
  const before = (await c.query(`select value from dispatch.settings where key = 'tick_drain_max'`)).rows[0]
    ?.value;
  await c.query(`select dispatch.set_setting('tick_drain_max', '0')`);
  return async () => {
    if (before !== undefined)
      await c.query(`update dispatch.settings set value = $1 where key = 'tick_drain_max'`, [
        JSON.stringify(before),
      ]);
  };
}
