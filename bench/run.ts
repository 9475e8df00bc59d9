/**
 * `npm run bench`: runs every measure of bench/measures.ts one after another, each in its own
 * process, then writes their CSV and PNG plots beside the JSON in bench/results/ and regenerates
 * the table at the top of bench/RESULTS.md.
 *
 *   npm run bench                          every measure, full size (long: see measures.ts)
 *   npm run bench -- --quick               a smoke run into a temp folder; RESULTS.md untouched
 *   npm run bench -- --only a,b            just these measures (the table keeps the others' last results)
 *   npm run bench -- --results <dir>       write results there instead (with --quick too)
 *   npm run bench -- --report-only         re-render CSV, plots and the table from the JSON there
 *
 * The database: SUPABASE_ADMIN_DB_URL (a dev database or the local stack's, superuser) when set;
 * otherwise the runner starts a database cluster of its own (port SUPADISPATCH_BENCH_DB_PORT, 54640
 * by default; state in .supadispatch/bench-db) and stops it at the end. Each measure makes and drops
 * databases of its own in it. A run in the runner's own cluster starts from empty plugin tables
 * (outbox, occurrences, receipts, notifications, realtime messages).
 */
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { applyBootstrap } from '../local/src/db/bootstrap.ts';
import {
  clusterRunning,
  ensureCluster,
  localPassword,
  serverLogFile,
  startCluster,
  stopCluster,
} from '../local/src/db/cluster.ts';
import { createLogger } from '../local/src/logger.ts';
import { repoRoot } from '../local/src/paths.ts';
import { buildCore } from '../sql/build.ts';
import { type Measure, measures } from './measures.ts';
import { plotPng } from './report/plot.ts';
import { renderTable, replaceTable, toCsv } from './report/tables.ts';
import type { MeasureReport } from './support/report.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    results: { type: 'string' },
    'report-only': { type: 'boolean', default: false },
  },
});
const benchDir = join(repoRoot, 'bench');
const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

const chosen = args.only ? args.only.split(',').map((s) => s.trim()) : measures.map((m) => m.name);
const unknown = chosen.filter((n) => !measures.some((m) => m.name === n));
if (unknown.length) throw new Error(`--only: no measure named ${unknown.join(', ')} in bench/measures.ts`);
const missing = measures.filter((m) => !existsSync(join(benchDir, m.script)));
if (missing.length) {
  log(
    `bench/measures.ts lists scripts that are not there: ${missing.map((m) => `bench/${m.script}`).join(', ')}`,
  );
  process.exit(2);
}
const resultsDir =
  args.results ??
  (args.quick ? mkdtempSync(join(tmpdir(), 'supadispatch-bench-')) : join(benchDir, 'results'));
// every measure writes its report here, so a `--results` folder that does not exist yet is made
mkdirSync(resultsDir, { recursive: true });

/** Runs one measure; resolves to whether it wrote its report. */
function runMeasure(measure: Measure, dbEnv: Record<string, string>): Promise<boolean> {
  const jsonPath = join(resultsDir, `${measure.name}.json`);
  // The script writes into a folder of its own, and only its JSON report is kept: a script may write
  // more beside its --json path (bench/support/sql-bench.ts writes a CSV there, which report() below
  // writes for every measure anyway), and a run that fails must not leave anything in the results.
  const scratch = mkdtempSync(join(tmpdir(), `supadispatch-bench-${measure.name}-`));
  const partial = join(scratch, `${measure.name}.json`);
  const argv = [
    '--conditions=supadispatch-source',
    '--import',
    'tsx',
    join(benchDir, measure.script),
    ...(args.quick ? ['--quick'] : (measure.args ?? [])),
    '--json',
    partial,
  ];
  const minutes = args.quick ? 5 : measure.minutes;
  log(`${measure.name}: bench/${measure.script}${args.quick ? ' --quick' : ''} (at most ${minutes} min)`);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, {
      cwd: repoRoot,
      env: { ...process.env, ...dbEnv },
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
    });
    const timer = setTimeout(() => {
      log(`${measure.name}: still running after ${minutes} min, stopping it`);
      try {
        process.kill(-(child.pid ?? 0), 'SIGTERM');
      } catch {}
    }, minutes * 60_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      const wrote = code === 0 && existsSync(partial);
      // copied, not renamed: the scratch folder may be on another file system
      if (wrote) copyFileSync(partial, jsonPath);
      rmSync(scratch, { recursive: true, force: true });
      if (wrote) {
        log(`${measure.name}: done in ${seconds} s`);
        resolve(true);
      } else {
        log(
          `${measure.name}: FAILED (${signal ?? `exit ${code}`}) after ${seconds} s; its previous results stay`,
        );
        resolve(false);
      }
    });
  });
}

/** SUPABASE_ADMIN_DB_URL, or a cluster of the runner's own (and how to stop it). */
async function database(): Promise<{ env: Record<string, string>; stop: () => void }> {
  if (process.env.SUPABASE_ADMIN_DB_URL) return { env: {}, stop: () => {} };
  const port = Number(process.env.SUPADISPATCH_BENCH_DB_PORT ?? 54640);
  const stateDir = join(repoRoot, '.supadispatch', 'bench-db');
  const options = {
    dataDir: join(stateDir, 'db'),
    runDir: join(stateDir, 'run'),
    logFile: serverLogFile(join(stateDir, 'run')),
    port,
    log: createLogger(() => {}),
  };
  log(`no SUPABASE_ADMIN_DB_URL: starting a database cluster on port ${port} (${stateDir})`);
  ensureCluster(options);
  const wasRunning = clusterRunning(options.dataDir);
  if (!wasRunning) startCluster(options);
  const adminUrl = `postgresql://supabase_admin:${localPassword}@127.0.0.1:${port}/postgres`;
  await applyBootstrap(adminUrl, options.log);
  // The SQL-core measures work in the `postgres` database with the core installed, as on the
  // stack; installing it again is an upgrade in place (the core is re-runnable, like db push).
  const dbUrl = `postgresql://postgres:${localPassword}@127.0.0.1:${port}/postgres`;
  const install = new pg.Client({ connectionString: dbUrl });
  await install.connect();
  try {
    await install.query(buildCore());
  } finally {
    await install.end();
  }
  const admin = new pg.Client({ connectionString: adminUrl }); // realtime.messages is not postgres's
  await admin.connect();
  try {
    // Every run starts from empty plugin tables in the runner's own cluster (never in a database
    // given by SUPABASE_ADMIN_DB_URL): what earlier runs left (25 million receipts and 11 million
    // realtime messages after eight sessions) made each insert dearer and one run's figures
    // incomparable with the next. A database with history is measured on purpose: drain-history.
    await admin.query(`truncate dispatch.changes, dispatch.occurrences, dispatch.receipts, dispatch.notifications,
                         dispatch.counter_dirty, dispatch.counter_dirty_tx, realtime.messages cascade`);
  } finally {
    await admin.end();
  }
  return {
    env: { SUPABASE_ADMIN_DB_URL: adminUrl, SUPABASE_DB_URL: dbUrl },
    stop: () => {
      if (!wasRunning) stopCluster(options);
    },
  };
}

/** CSV and PNGs of every report in the results folder, and (full runs) the table in RESULTS.md. */
function report(): void {
  const reports: MeasureReport[] = [];
  const plots = new Map<string, string[]>();
  for (const m of measures) {
    const path = join(resultsDir, `${m.name}.json`);
    if (!existsSync(path)) continue;
    const r = JSON.parse(readFileSync(path, 'utf8')) as MeasureReport;
    reports.push(r);
    writeFileSync(join(resultsDir, `${m.name}.csv`), toCsv(r.rows));
    for (const stale of readdirSync(resultsDir))
      if (stale.startsWith(`${m.name}-`) && stale.endsWith('.png')) rmSync(join(resultsDir, stale));
    const files: string[] = [];
    for (const spec of r.plots ?? []) {
      const file = `${m.name}-${spec.id}.png`;
      writeFileSync(join(resultsDir, file), plotPng(spec));
      files.push(file);
    }
    plots.set(m.name, files);
  }
  const intoMarkdown = !args.quick && resultsDir === join(benchDir, 'results');
  if (intoMarkdown) {
    const mdPath = join(benchDir, 'RESULTS.md');
    const given = process.argv.slice(2);
    const command = `npm run bench${given.length ? ` -- ${given.join(' ')}` : ''}`;
    writeFileSync(mdPath, replaceTable(readFileSync(mdPath, 'utf8'), renderTable(reports, plots, command)));
    log(`table updated in bench/RESULTS.md (${reports.length} measures)`);
  }
  log(`results in ${resultsDir}`);
}

let failed: string[] = [];
if (!args['report-only']) {
  const db = await database();
  try {
    for (const m of measures.filter((x) => chosen.includes(x.name)))
      if (!(await runMeasure(m, db.env))) failed.push(m.name);
  } finally {
    db.stop();
  }
} else failed = [];
report();
if (failed.length) {
  log(`failed: ${failed.join(', ')}`);
  process.exit(1);
}
