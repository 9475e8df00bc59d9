/**
 * The contract every measure script of `npm run bench` keeps (bench/run.ts runs them):
 *
 *   <script> [--quick] [--json <path>] [its own options]
 *
 * `--quick` is a smoke run (small sizes, few samples: it proves the script works, its figures mean
 * nothing); `--json <path>` writes a {@link MeasureReport} there besides the human-readable output
 * on stdout. The runner turns the reports into CSV, PNG plots and the table in bench/RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { repoRoot } from '../../local/src/paths.ts';

/** The machine a report was measured on; `load` is the 1-minute load average (start and end). */
export interface MachineFacts {
  cores: number;
  memGiB: number;
  load: number[];
  node: string;
  postgres?: string;
  deno?: string;
}

/** One curve of a plot: points (x, y) and, optionally, a band (x, low, high) drawn behind them. */
export interface PlotSeries {
  label: string;
  points: [number, number][];
  band?: [number, number, number][];
}

/** A scale curve the runner renders to bench/results/<measure>-<id>.png. */
export interface PlotSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  /** Log y axis; by default it is log when all y > 0 and they span more than 20×. */
  logY?: boolean;
  series: PlotSeries[];
}

/** A row of the table at the top of bench/RESULTS.md. */
export interface TargetRow {
  /** What is measured, e.g. "commit → store, 100 clients, p50". */
  measure: string;
  /** The peer or floor it is set against, if any. */
  comparedWith?: string;
  /** The target, as the issue states it ("≤ 50 ms"), or "" when there is none. */
  target: string;
  /** The figure, with unit and spread ("41 ms (36–48)"). */
  result: string;
  /** Whether the target is met; null when there is no target or it cannot be judged. */
  met: boolean | null;
}

export interface MeasureReport {
  name: string;
  title: string;
  /** ISO time the measure finished. */
  date: string;
  quick: boolean;
  /** The command that produced the report (relative to the repository). */
  command: string;
  machine: MachineFacts;
  /** The raw figures, one flat object per row (written as CSV too). */
  rows: Record<string, number | string | boolean | null>[];
  summary: Record<string, unknown>;
  targets?: TargetRow[];
  plots?: PlotSpec[];
}

/** Parses the contract's `--quick` / `--json` together with the script's own options. */
export function benchArgs<O extends NonNullable<ParseArgsConfig['options']>>(options: O) {
  const { values } = parseArgs({
    options: {
      ...options,
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
    },
    allowPositionals: false,
  });
  return values as typeof values & { quick: boolean; json?: string };
}

const loadAtStart = loadavg()[0];

function version(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, {
      encoding: 'utf8',
      timeout: 20_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\n')[0]
      .trim();
  } catch {
    return undefined;
  }
}

/** The 1, 5 and 15-minute load averages now, to 2 decimals (printed beside a bench's rounds). */
export function loadAverages(): number[] {
  return loadavg().map((l) => round(l, 2));
}

/** Cores, memory, versions and the load average now (and when the process started). */
export function machineFacts(postgres?: string): MachineFacts {
  const deno = version(join(repoRoot, 'node_modules', '.bin', 'deno'), ['--version']);
  return {
    cores: cpus().length,
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    load: [round(loadAtStart, 2), round(loadavg()[0], 2)],
    node: process.version,
    ...(postgres ? { postgres } : {}),
    ...(deno ? { deno: deno.replace(/^deno\s+/, '').split(' ')[0] } : {}),
  };
}

/** `select version()` shortened to "PostgreSQL 15.x". */
export async function postgresVersion(query: (sql: string) => Promise<{ rows: { v: string }[] }>) {
  const { rows } = await query('select version() as v');
  return rows[0].v.split(' ').slice(0, 2).join(' ');
}

/** Writes the report to `path` (when given) and returns it. */
export function writeReport(
  path: string | undefined,
  report: Omit<MeasureReport, 'date' | 'command'> & { command?: string },
): MeasureReport {
  const full: MeasureReport = {
    ...report,
    date: new Date().toISOString(),
    command: report.command ?? commandLine(),
  };
  if (path) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(full, null, 2)}\n`);
  }
  return full;
}

/** This script's command line as bench/run.ts starts it, relative to the repository, without `--json`. */
export function commandLine(): string {
  const args = process.argv.slice(1);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--json') {
      i++;
      continue;
    }
    out.push(args[i].startsWith(repoRoot) ? args[i].slice(repoRoot.length + 1) : args[i]);
  }
  return ['node --conditions=supadispatch-source --import tsx', ...out].join(' ');
}

// ---- statistics ---------------------------------------------------------------------------------

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * The p-th percentile by nearest rank, the one rule of every bench: the smallest value with at least
 * p percent of `values` at or below it, i.e. the ceil(p/100 · n)-th smallest (p50 of 60 is the 30th,
 * p99 of 300 the 297th, p100 the largest); NaN when empty.
 */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median with its spread over repetitions. */
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

/** "41.2 ms (36.0–48.1)": a median and its min–max. */
export function fmtSpread(s: Spread, unit: string, digits = 1): string {
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
  const u = !unit ? '' : unit === '×' ? unit : ` ${unit}`;
  return `${f(s.median)}${u} (${f(s.min)}–${f(s.max)})`;
}
