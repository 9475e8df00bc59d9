import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Two folders up from this module: in a checkout of supadispatch, the repository root (`local/src/..`
 * `/..`), where the repository's own scripts and tests find the demo project. Meaningless in an
 * installed package; the stack itself never relies on it.
 */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The Supabase project the stack serves: the nearest directory, from `start` upwards, that holds
 * `supabase/config.toml`; null when there is none.
 */
export function findProjectRoot(start = process.cwd()): string | null {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'supabase', 'config.toml'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** Everything the stack writes at run time lives under one git-ignored folder. */
export interface StatePaths {
  stateDir: string;
  dataDir: string;
  logsDir: string;
  runDir: string;
  stateFile: string;
  secretsFile: string;
  pidFile: string;
}

export function statePaths(projectRoot: string): StatePaths {
  const stateDir = process.env.SUPADISPATCH_STATE_DIR
    ? resolve(process.env.SUPADISPATCH_STATE_DIR)
    : join(projectRoot, '.supadispatch');
  return {
    stateDir,
    dataDir: join(stateDir, 'db'),
    logsDir: join(stateDir, 'logs'),
    runDir: join(stateDir, 'run'),
    stateFile: join(stateDir, 'stack.json'),
    secretsFile: join(stateDir, 'secrets.json'),
    pidFile: join(stateDir, 'run', 'stack.pid'),
  };
}
