import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Logger } from '../logger.ts';
import { partitionMode } from './partitions.ts';

/**
 * Makes a plain PostgreSQL 15 look like a hosted Supabase database: roles, schemas (auth,
 * extensions, realtime, net and vault stand-ins), grants. The SQL lives in `bootstrap/`, one file
 * per concern, applied in name order as the superuser. Every file is idempotent, so the whole
 * bootstrap runs on every `local start` (it also keeps realtime partitions ahead of today).
 *
 * A file whose first line is `-- bootstrap:skip-if <select returning one boolean>` is skipped when
 * that query returns true (used to never clobber a real pg_net / supabase_vault extension).
 */
export const bootstrapDir = join(dirname(fileURLToPath(import.meta.url)), 'bootstrap');

export function bootstrapFiles(): string[] {
  return readdirSync(bootstrapDir)
    .filter((name) => name.endsWith('.sql'))
    .sort();
}

/** The guard query of a bootstrap file (`-- bootstrap:skip-if <query>` on its first line), if any. */
export function skipIfQuery(sql: string): string | null {
  const match = /^--\s*bootstrap:skip-if\s+(.+)$/m.exec(sql.split('\n', 1)[0] ?? '');
  return match?.[1]?.trim() || null;
}

export async function applyBootstrap(adminDbUrl: string, log: Logger): Promise<void> {
  const client = new pg.Client({ connectionString: adminDbUrl });
  await client.connect();
  try {
    // Read by 200_realtime.sql: in on-connect mode it makes no partition (see db/partitions.ts).
    await client.query(`select set_config('supadispatch.realtime_partitions', $1, false)`, [partitionMode()]);
    for (const file of bootstrapFiles()) {
      const sql = readFileSync(join(bootstrapDir, file), 'utf8');
      try {
        const guard = skipIfQuery(sql);
        if (guard) {
          const result = await client.query(guard);
          if (result.rows[0] && Object.values(result.rows[0])[0] === true) {
            log('db', `bootstrap ${file} skipped (guard true: ${guard})`);
            continue;
          }
        }
        await client.query(sql);
      } catch (error) {
        const e = error as Error & { position?: string; where?: string };
        throw new Error(`bootstrap ${file}: ${e.message}${e.where ? ` (${e.where})` : ''}`);
      }
    }
    log('db', `bootstrap applied (${bootstrapFiles().length} files)`);
  } finally {
    await client.end();
  }
}
