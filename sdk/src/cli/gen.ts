/** `supadispatch gen [--check] [--config <file>] [--cwd <dir>]`. */
import path from 'node:path';
import { ConfigError } from '../config/errors.ts';
import { ConfigLoadError, loadConfig } from '../config/load.ts';
import { plan, staleFiles, writePlan } from '../generator/index.ts';
import { parseArgs } from './args.ts';

export interface CommandIo {
  out: (s: string) => void;
  err: (s: string) => void;
  cwd: string;
  now?: () => Date;
}

const defaultIo = (): CommandIo => ({
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  cwd: process.cwd(),
});

/** Tables and columns of a database (`schema.table` → columns), to check the config's names. */
export async function introspectColumns(url: string): Promise<Record<string, string[]>> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `select table_schema || '.' || table_name as t, column_name as c from information_schema.columns
       where table_schema not in ('pg_catalog', 'information_schema') order by 1, ordinal_position`,
    );
    const out: Record<string, string[]> = {};
    for (const r of rows) {
      out[r.t] = out[r.t] ?? [];
      out[r.t].push(r.c);
    }
    return out;
  } finally {
    await client.end();
  }
}

export async function genCommand(argv: string[], io: CommandIo = defaultIo()): Promise<number> {
  const { flags } = parseArgs(argv, ['config', 'cwd', 'db-url']);
  if (flags.help) {
    io.out(
      'usage: supadispatch gen [--check] [--config dispatch.config.ts] [--cwd <project root>] [--db-url <url>: check tables and columns]\n',
    );
    return 0;
  }
  const root = path.resolve(io.cwd, typeof flags.cwd === 'string' ? flags.cwd : '.');
  let loaded: Awaited<ReturnType<typeof loadConfig>>;
  try {
    const columns =
      typeof flags['db-url'] === 'string' ? await introspectColumns(flags['db-url']) : undefined;
    loaded = await loadConfig(root, typeof flags.config === 'string' ? flags.config : undefined, { columns });
  } catch (err) {
    if (err instanceof ConfigError || err instanceof ConfigLoadError) {
      io.err(`${err.message}\n\nnothing was written.\n`);
      return 1;
    }
    throw err;
  }
  const p = await plan(loaded.config, { root, configDir: loaded.dir, now: io.now });
  if (flags.check) {
    const stale = staleFiles(p, root);
    if (stale.length === 0) {
      io.out('supadispatch: generated files are up to date\n');
      return 0;
    }
    io.err(
      `supadispatch: generated files are out of date — run \`npx supadispatch gen\`:\n${stale.map((s) => `  - ${s}\n`).join('')}`,
    );
    return 1;
  }
  const written = writePlan(p, root);
  if (written.length === 0) io.out('supadispatch: everything is up to date\n');
  else io.out(`supadispatch: wrote\n${written.map((w) => `  ${w}\n`).join('')}`);
  if (p.migration) io.out(`\nnext: supabase db push   (${p.changes.join('; ')})\n`);
  return 0;
}

export function checkCommand(argv: string[], io?: CommandIo): Promise<number> {
  return genCommand(['--check', ...argv], io);
}
