/**
 * Concatenates sql/core/*.sql (sorted by name) into the core migration the demo project carries:
 *   npx tsx sql/build.ts           write supabase/migrations/20261125000000_supadispatch_core.sql
 *   npx tsx sql/build.ts --check   exit 1 if that file is not up to date
 * Deterministic: same inputs, same bytes (no timestamps).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const sqlDir = dirname(fileURLToPath(import.meta.url));
export const coreDir = join(sqlDir, 'core');
export const migrationPath = join(
  sqlDir,
  '..',
  'supabase',
  'migrations',
  '20261125000000_supadispatch_core.sql',
);

export function coreVersion(): string {
  return readFileSync(join(sqlDir, 'VERSION'), 'utf8').trim();
}

export function buildCore(): string {
  const files = readdirSync(coreDir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort();
  const version = coreVersion();
  const parts = [
    `-- supadispatch core ${version}: generated from sql/core — do not edit.`,
    '-- Regenerate with `npx tsx sql/build.ts`. Installs as the `postgres` role; re-running is a no-op.',
    '',
  ];
  for (const f of files) {
    const text = readFileSync(join(coreDir, f), 'utf8').replace(/\r\n/g, '\n').trimEnd();
    parts.push(`-- ==== sql/core/${f} ====`, text, '');
  }
  return parts.join('\n');
}

function main(): void {
  const built = buildCore();
  if (process.argv.includes('--check')) {
    const current = existsSync(migrationPath) ? readFileSync(migrationPath, 'utf8') : '';
    if (current !== built) {
      console.error(`${migrationPath} is out of date: run npx tsx sql/build.ts`);
      process.exit(1);
    }
    console.log('core migration is up to date');
    return;
  }
  writeFileSync(migrationPath, built);
  console.log(`wrote ${migrationPath}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
