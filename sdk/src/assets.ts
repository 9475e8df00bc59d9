/**
 * The files the supadispatch package carries besides its code: the core SQL (built from `sql/core`)
 * and the Edge Functions library (the Deno modules of `edge-functions/src`). The one place that knows
 * where they live:
 * - an installed package reads `assets/` (written by the package build, scripts/build-packages.mjs);
 * - a source checkout (src/ beside dist/, as in this repository) reads the sources themselves, so an
 *   edit to `sql/core` or `edge-functions/src` is what the next `gen` uses, with no build between.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The package folder: this module is `src/assets.ts` or `dist/assets.js`. */
const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const checkoutRoot = path.resolve(packageDir, '..');

/** Folder names inside `assets/`, shared with the package build. */
export const ASSET_DIRS = { sql: 'sql', functions: 'functions' } as const;

function fromCheckout(): boolean {
  return existsSync(path.join(packageDir, 'src')) && existsSync(path.join(checkoutRoot, 'sql', 'build.ts'));
}

export interface CoreSqlText {
  version: string;
  sql: string;
}

/** The core SQL and its version. */
export async function readCoreSql(): Promise<CoreSqlText> {
  if (fromCheckout()) {
    const build = (await import(pathToFileURL(path.join(checkoutRoot, 'sql', 'build.ts')).href)) as {
      buildCore(): string;
      coreVersion(): string;
    };
    return { version: build.coreVersion(), sql: build.buildCore() };
  }
  const dir = path.join(packageDir, 'assets', ASSET_DIRS.sql);
  const files = { sql: path.join(dir, 'core.sql'), version: path.join(dir, 'VERSION') };
  for (const file of Object.values(files))
    if (!existsSync(file)) throw new Error(`supadispatch is missing ${file}: reinstall the package`);
  return {
    version: readFileSync(files.version, 'utf8').trim(),
    sql: readFileSync(files.sql, 'utf8'),
  };
}

export interface LibraryFile {
  /** Path inside the library folder, forward slashes, e.g. `worker.ts` or `transports/email.ts`. */
  name: string;
  content: string;
}

/** The Edge Functions library, sorted by path (tests beside the sources are not part of it). */
export function readFunctionsLibrary(): LibraryFile[] {
  const dir = fromCheckout()
    ? path.join(checkoutRoot, 'edge-functions', 'src')
    : path.join(packageDir, 'assets', ASSET_DIRS.functions);
  if (!existsSync(dir)) throw new Error(`supadispatch is missing ${dir}: reinstall the package`);
  const files: LibraryFile[] = [];
  const walk = (folder: string, prefix: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const name = `${prefix}${entry.name}`;
      if (entry.isDirectory()) walk(path.join(folder, entry.name), `${name}/`);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('_test.ts'))
        files.push({
          name,
          content: readFileSync(path.join(folder, entry.name), 'utf8').replace(/\r\n/g, '\n'),
        });
    }
  };
  walk(dir, '');
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
