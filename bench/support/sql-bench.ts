/**
 * What the SQL-core measures (drain-cpu, drain-sustained, fanout, global-counter) share: the
 * `--quick` / `--json <path>` contract and its report (the same fields as the suite's MeasureReport:
 * name, title, date, quick, command, machine, rows, summary, targets, plots), the pgbench fixture
 * (bench/pgbench/setup.sql), pgbench runs, backend CPU from /proc, and medians with spread.
 * The database must be on this machine (pgbench, /proc). Connection: BENCH_DB_URL, else
 * SUPABASE_DB_URL (the `postgres` role, core installed).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import pg from 'pg';

export const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = join(benchDir, '..');
export const pgBin = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** The `postgres`-role URL of the database to measure; throws when none is set. */
export function dbUrl(): string {
  const url = process.env.BENCH_DB_URL ?? process.env.SUPABASE_DB_URL;
  if (!url) throw new Error('set BENCH_DB_URL or SUPABASE_DB_URL (postgres role, core installed)');
  return url;
}

/** Parses `--quick` / `--json` together with the script's own options. */
export function benchArgs<O extends NonNullable<ParseArgsConfig['options']>>(options: O) {
  const { values } = parseArgs({
    options: { ...options, quick: { type: 'boolean', default: false }, json: { type: 'string' } },
    allowPositionals: false,
  });
  return values as typeof values & { quick: boolean; json?: string };
}

export interface TargetRow {
  measure: string;
  comparedWith?: string;
  target: string;
  result: string;
  met: boolean | null;
}

export interface PlotSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  series: { label: string; points: [number, number][]; band?: [number, number, number][] }[];
}

export type Row = Record<string, number | string | boolean | null>;

export interface Report {
  name: string;
  title: string;
  date: string;
  quick: boolean;
  command: string;
  machine: { cores: number; memGiB: number; load: number[]; node: string; postgres?: string };
  rows: Row[];
  summary: Record<string, unknown>;
  targets?: TargetRow[];
  plots?: PlotSpec[];
}

const loadAtStart = loadavg()[0];

/**
 * Writes the report as JSON to `path` (when given) and its rows as CSV beside it (same name, .csv),
 * the raw figures for plots. Returns the report.
 */
export function writeReport(
  path: string | undefined,
  r: Omit<Report, 'date' | 'command' | 'machine'> & { postgres?: string },
): Report {
  const { postgres, ...rest } = r;
  const report: Report = {
    ...rest,
    date: new Date().toISOString(),
    command: process.argv
      .slice(1)
      .filter((a, i, all) => a !== '--json' && all[i - 1] !== '--json')
      .map((a) => (a.startsWith(repoRoot) ? a.slice(repoRoot.length + 1) : a))
      .join(' '),
    machine: {
      cores: cpus().length,
      memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      load: [round(loadAtStart, 2), round(loadavg()[0], 2)],
      node: process.version,
      ...(postgres ? { postgres } : {}),
    },
  };
  if (path) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(path.replace(/\.json$/, '') + '.csv', toCsv(report.rows));
  }
  return report;
}

function toCsv(rows: Row[]): string {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return `${[cols.join(','), ...rows.map((r) => cols.map((c) => cell(r[c])).join(','))].join('\n')}\n`;
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: number[]): Spread {
  return {
    median: median(values),
    min: values.length ? Math.min(...values) : Number.NaN,
    max: values.length ? Math.max(...values) : Number.NaN,
    n: values.length,
  };
}

/** "0.21 ms (0.19–0.25)": a median and its min–max. */
export function fmtSpread(s: Spread, unit: string, digits = 2): string {
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
  return `${f(s.median)}${unit === '×' ? '×' : ` ${unit}`} (${f(s.min)}–${f(s.max)})`;
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
