/**
 * The core SQL the generator embeds: built from `sql/core/*.sql` by the SQL core's own build
 * (`sql/build.ts`), with its version from `sql/VERSION`. The one place that knows where it lives.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SQL_DIR = path.resolve(here, '../../../../sql');

export interface CoreSql {
  version: string;
  sql: string;
  hash: string;
}

export async function loadCore(): Promise<CoreSql> {
  if (!existsSync(path.join(SQL_DIR, 'build.ts'))) {
    throw new Error(`supadispatch core SQL not found at ${SQL_DIR} (expected sql/build.ts)`);
  }
  const build = (await import(pathToUrl(path.join(SQL_DIR, 'build.ts')))) as {
    buildCore(): string;
    coreVersion(): string;
  };
  const sql = build.buildCore();
  return { version: build.coreVersion(), sql, hash: sha256(sql) };
}

function pathToUrl(p: string): string {
  return new URL(`file://${p}`).href;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
