/**
 * `supadispatch doctor [--db-url <url>] [--config <file>] [--probe-timeout <ms>]`: a checklist of an
 * install, with a fix for each failure; exit 1 when anything fails. The database URL comes from
 * --db-url or SUPABASE_DB_URL. The worker is probed at the URL stored in Vault (what pg_net calls).
 */
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../config/load.ts';
import type { NormalizedConfig } from '../../config/model.ts';
import { loadCore } from '../../generator/sql/core.ts';
import { parseArgs } from '../args.ts';
import type { CommandIo } from '../gen.ts';
import { formatChecks } from './format.ts';
import { runChecks } from './run.ts';
import { DEFAULT_PROBE_TIMEOUT_MS } from './worker.ts';

export async function doctorCommand(argv: string[], io?: CommandIo): Promise<number> {
  const out = io?.out ?? ((s: string) => process.stdout.write(s));
  const err = io?.err ?? ((s: string) => process.stderr.write(s));
  const { flags } = parseArgs(argv, ['db-url', 'config', 'cwd', 'probe-timeout']);
  const root = path.resolve(io?.cwd ?? process.cwd(), typeof flags.cwd === 'string' ? flags.cwd : '.');
  const url = typeof flags['db-url'] === 'string' ? flags['db-url'] : process.env.SUPABASE_DB_URL;
  if (!url) {
    err('supadispatch doctor: no database: pass --db-url <postgres url> or set SUPABASE_DB_URL\n');
    return 2;
  }
  let config: NormalizedConfig | null = null;
  try {
    config = (await loadConfig(root, typeof flags.config === 'string' ? flags.config : undefined)).config;
  } catch (e) {
    out(`! config not loaded (trigger check skipped): ${(e as Error).message.split('\n')[0]}\n`);
  }
  const core = await loadCore();
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (e) {
    err(`✗ database reachable — ${(e as Error).message}\n    fix: check --db-url / SUPABASE_DB_URL\n`);
    return 1;
  }
  try {
    const probeTimeoutMs =
      typeof flags['probe-timeout'] === 'string' ? Number(flags['probe-timeout']) : DEFAULT_PROBE_TIMEOUT_MS;
    const checks = await runChecks(
      async (sql, params) => (await client.query(sql, params as unknown[])).rows,
      config,
      core.version,
      {
        probeTimeoutMs:
          Number.isFinite(probeTimeoutMs) && probeTimeoutMs > 0 ? probeTimeoutMs : DEFAULT_PROBE_TIMEOUT_MS,
      },
    );
    const { text, failed } = formatChecks(checks);
    out(text);
    out(failed ? `\n${failed} check${failed === 1 ? '' : 's'} failed\n` : '\nall checks passed\n');
    return failed ? 1 : 0;
  } finally {
    await client.end();
  }
}
