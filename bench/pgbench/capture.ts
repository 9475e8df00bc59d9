/**
 * The bench contract (bench/support/report.ts) around bench/pgbench/run.sh: INSERT throughput of a
 * bare table vs the plugin's capture vs strict (inline) processing vs a per-row webhook trigger, in
 * interleaved rounds; a bulk INSERT; and dispatch.drain() after commit. run.sh does the measuring;
 * this wrapper gives it a fresh database (bootstrap + SQL core) on SUPABASE_ADMIN_DB_URL's cluster,
 * parses its output into rows and a summary, and drops the database.
 *
 *   node --conditions=supadispatch-source --import tsx bench/pgbench/capture.ts [--quick] [--json out.json]
 *     [--rounds 5] [--duration 10] [--clients 8]
 *
 * Full: 8 clients, 5 rounds of 10 s per system, 10,000-row bulk. Quick: 2 clients, 1 round of 1 s, 200 rows.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createBootstrappedDatabase, dropDatabase } from '../../local/src/db/fresh-database.ts';
import { buildCore } from '../../sql/build.ts';
import {
  benchArgs,
  fmtSpread,
  machineFacts,
  postgresVersion,
  round,
  spread,
  writeReport,
} from '../support/report.ts';

const args = benchArgs({
  rounds: { type: 'string' },
  duration: { type: 'string' },
  clients: { type: 'string' },
});
const quick = args.quick;
const rounds = Number(args.rounds ?? (quick ? 1 : 5));
const duration = Number(args.duration ?? (quick ? 1 : 10));
const clients = Number(args.clients ?? (quick ? 2 : 8));
const bulk = quick ? 200 : 10_000;

const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;
if (!adminUrl) {
  console.error('needs SUPABASE_ADMIN_DB_URL (a dev database or the local stack, superuser)');
  process.exit(2);
}
const dbName = `sd_bench_capture_${process.pid}`;
const urls = await createBootstrappedDatabase(adminUrl, dbName, () => {});
let output = '';
let postgres = '';
try {
  // as the `postgres` role, the way migrations are applied (run.sh works as that role too)
  const install = new pg.Client({ connectionString: urls.dbUrl });
  await install.connect();
  try {
    await install.query(buildCore());
    postgres = await postgresVersion((sql) => install.query(sql));
  } finally {
    await install.end();
  }
  const run = spawnSync('bash', [join(dirname(fileURLToPath(import.meta.url)), 'run.sh')], {
    env: {
      ...process.env,
      BENCH_DB_URL: urls.dbUrl,
      CLIENTS: String(clients),
      DURATION: String(duration),
      ROUNDS: String(rounds),
      BULK_ROWS: String(bulk),
    },
    encoding: 'utf8',
    timeout: (rounds * duration * 4 + 300) * 1000,
  });
  output = run.stdout;
  process.stdout.write(run.stdout);
  if (run.status !== 0)
    throw new Error(`run.sh failed (${run.status ?? run.signal}):\n${run.stdout}\n${run.stderr}`);
} finally {
  await dropDatabase(adminUrl, dbName).catch(() => {});
}

const match = (re: RegExp, what: string) => {
  const m = output.match(re);
  if (!m) throw new Error(`run.sh printed no ${what}:\n${output}`);
  return m;
};
const rows = [
  ...output.matchAll(
    /^round (\d+): bare (\d+) tps, plugin (\d+) tps, inline (\d+) tps, webhook (\d+) tps$/gm,
  ),
].map((m) => ({
  round: Number(m[1]),
  bare_tps: Number(m[2]),
  plugin_tps: Number(m[3]),
  inline_tps: Number(m[4]),
  webhook_tps: Number(m[5]),
  plugin_over_bare: round(Number(m[3]) / Number(m[2]), 3),
  plugin_over_webhook: round(Number(m[3]) / Number(m[5]), 3),
}));
if (rows.length !== rounds) throw new Error(`expected ${rounds} round lines:\n${output}`);
const bulkMs = match(new RegExp(`^${bulk}-row INSERT \\(ms\\)\\s+(\\d+)\\s+(\\d+)$`, 'm'), 'bulk line');
const drain = output.match(/^ {2}(\d+) single-row changes in (\d+) ms: (\d+\.\d+) ms per change/m);
const bulkDrain = match(new RegExp(`^ {2}one ${bulk}-row change: (\\d*) ms$`, 'm'), 'bulk drain line');

const overBare = spread(rows.map((r) => r.plugin_over_bare));
const overWebhook = spread(rows.map((r) => r.plugin_over_webhook));
const bulkRatio = Number(bulkMs[2]) / Number(bulkMs[1]);
const summary = {
  clients,
  durationS: duration,
  rounds,
  bareTps: spread(rows.map((r) => r.bare_tps)).median,
  pluginTps: spread(rows.map((r) => r.plugin_tps)).median,
  pluginOverBare: overBare,
  pluginOverWebhook: overWebhook,
  bulkRows: bulk,
  bulkBareMs: Number(bulkMs[1]),
  bulkPluginMs: Number(bulkMs[2]),
  bulkRatio: round(bulkRatio, 2),
  drainMsPerChange: drain ? Number(drain[3]) : null,
  bulkDrainMs: bulkDrain[1] ? Number(bulkDrain[1]) : null,
};
writeReport(args.json, {
  name: 'capture-throughput',
  title: 'SQL core: INSERT throughput with capture (pgbench)',
  quick,
  machine: machineFacts(postgres),
  rows,
  summary,
  targets: [
    {
      measure: `capture: single-row INSERT tps, ${clients} clients`,
      comparedWith: 'bare INSERT, same rounds',
      target: '≥ 0.5×',
      result: `${fmtSpread(overBare, '×', 2)}`,
      met: overBare.median >= 0.5,
    },
    {
      measure: 'capture vs a per-row net.http_post webhook trigger',
      comparedWith: 'webhook trigger, same rounds',
      target: '≥ 0.8×',
      result: `${fmtSpread(overWebhook, '×', 2)}`,
      met: overWebhook.median >= 0.8,
    },
    {
      measure: `one ${bulk.toLocaleString('en')}-row INSERT`,
      comparedWith: 'bare table',
      target: '≤ 3× bare',
      result: `${round(bulkRatio, 2)}× (${bulkMs[2]} vs ${bulkMs[1]} ms)`,
      met: bulkRatio <= 3,
    },
    {
      // run.sh times dispatch.drain() by the clock: an upper bound of its CPU, loose on a loaded machine
      measure: 'drain time per single-row change (dispatch.drain, one backend, wall clock)',
      target: '≤ 0.2 ms CPU',
      result: drain ? `${drain[3]} ms wall (an upper bound of the CPU)` : 'not timed (nothing left to drain)',
      met: drain && Number(drain[3]) <= 0.2 ? true : null,
    },
  ],
});
