/**
 * What the install tests share: packing this repository's packages with `npm pack` (as on publish:
 * prepack builds them), installing tarballs into a folder outside the repository, and running
 * commands there with an environment stripped of this repository's settings, so nothing a test
 * does in that folder can lean on the checkout.
 */
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../local/src/paths.ts';

/** The publishable packages, by folder, in the order they build (react takes sdk's types). */
export const packages = ['sdk', 'local', 'react'] as const;
export type PackageFolder = (typeof packages)[number];

/** The version of a package this repository has installed, so npm takes it from its cache. */
export function installedVersion(name: string): string {
  const manifest = join(repoRoot, 'node_modules', name, 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** `name@version` as this repository has it installed. */
export const asInstalled = (name: string): string => `${name}@${installedVersion(name)}`;

/** This process's environment without what points into the repository or its test stack. */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('SUPADISPATCH_') || key.startsWith('NODE_') || key.startsWith('npm_')) continue;
    env[key] = value;
  }
  return { ...env, npm_config_update_notifier: 'false', ...extra };
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export function run(
  cwd: string,
  command: string,
  args: string[],
  options: RunOptions = {},
): SpawnSyncReturns<string> & { output: string } {
  const result = spawnSync(command, args, {
    cwd,
    env: options.env ?? userEnv(),
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 300_000,
  });
  if (result.error) throw result.error;
  return Object.assign(result, { output: `${result.stdout}${result.stderr}` });
}

/** Runs and asserts exit 0, showing the command's output when it fails. */
export function ok(cwd: string, command: string, args: string[], options?: RunOptions): string {
  const result = run(cwd, command, args, options);
  assert.equal(result.status, 0, `${command} ${args.join(' ')} exited ${result.status}:\n${result.output}`);
  return result.output;
}

/** Every path under node_modules that is a symlink, with where it points. */
export function symlinksUnder(dir: string): { link: string; target: string }[] {
  const found: { link: string; target: string }[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 3 || !existsSync(d)) return;
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const stat = lstatSync(path);
      if (stat.isSymbolicLink()) found.push({ link: path, target: realpathSync(path) });
      else if (stat.isDirectory() && (name.startsWith('@') || depth === 0)) walk(path, depth + 1);
    }
  };
  walk(dir, 0);
  return found;
}

// Packing rebuilds <pkg>/dist in place: two test files packing at once would delete each other's
// build. A lock folder (mkdir is atomic) makes them take turns; a lock whose holder died is taken over.
const lockDir = join(repoRoot, '.supadispatch', 'pack.lock');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function withPackLock<T>(work: () => T): T {
  mkdirSync(join(lockDir, '..'), { recursive: true });
  const waitUntil = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch {
      const holder = Number(
        existsSync(join(lockDir, 'pid')) ? readFileSync(join(lockDir, 'pid'), 'utf8') : 0,
      );
      if (holder && !alive(holder)) rmSync(lockDir, { recursive: true, force: true });
      else if (Date.now() > waitUntil)
        throw new Error(`packing: ${lockDir} is still held by process ${holder}`);
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
  try {
    return work();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/** Packs `which` into `packDir` (prepack builds each, as on publish); the tarballs' paths. */
export function packPackages(packDir: string, which: readonly PackageFolder[] = packages): string[] {
  mkdirSync(packDir, { recursive: true });
  withPackLock(() => {
    for (const pkg of packages.filter((p) => which.includes(p)))
      ok(join(repoRoot, pkg), 'npm', ['pack', '--pack-destination', packDir, '--loglevel=error']);
  });
  const tarballs = readdirSync(packDir)
    .filter((f) => f.endsWith('.tgz'))
    .map((f) => join(packDir, f));
  assert.equal(tarballs.length, which.length, `one tarball per package in ${packDir}`);
  return tarballs;
}

/** `npm install` of `specs` (tarball paths, `name@version`) in `dir`, from npm's cache where it can. */
export function npmInstall(dir: string, specs: string[], options: RunOptions = {}): string {
  return ok(
    dir,
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...specs],
    { timeoutMs: 600_000, ...options },
  );
}
