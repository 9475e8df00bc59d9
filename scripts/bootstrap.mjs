#!/usr/bin/env node
// The one entry point of `npm start` and `npm test` on a fresh machine. It needs only Node's
// built-ins: it installs the Debian packages and npm packages that are missing (idempotent, fast
// the second time), then hands over to the TypeScript script for the command.
//
//   node scripts/bootstrap.mjs start   -> scripts/start.ts (local stack + demo, Ctrl-C stops all)
//   node scripts/bootstrap.mjs test    -> scripts/test.ts  (lint, types, every suite)
//   node scripts/bootstrap.mjs install -> installs only
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemPackages } from '../local/src/system-packages.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const command = process.argv[2] ?? 'start';
const say = (message) => process.stderr.write(`[bootstrap] ${message}\n`);

/**
 * Debian packages, each with a file that proves it is installed: the local stack's (its own list,
 * which the stack also checks before it starts PostgreSQL) and the browser of the e2e tests.
 */
const debianPackages = [
  ...systemPackages().map((p) => ({ ...p, for: ['start', 'test', 'install'] })),
  { name: 'chromium', proof: '/usr/bin/chromium', for: ['test', 'install'] },
];

function run(file, args, options = {}) {
  const result = spawnSync(file, args, { stdio: 'inherit', cwd: root, ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function ensureDebianPackages() {
  const missing = debianPackages
    .filter((p) => p.for.includes(command) && !existsSync(p.proof))
    .map((p) => p.name);
  if (missing.length === 0) return;
  const apt = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    say(`missing Debian packages: ${missing.join(', ')}. Install them with:\n\n  sudo sh -c '${apt}'\n`);
    process.exit(1);
  }
  say(`installing Debian packages: ${missing.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (run('apt-get', ['update', '-qq'], { env }) !== 0) {
    say('apt-get update failed');
    process.exit(1);
  }
  if (run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env }) !== 0) {
    say(`apt-get install failed; try by hand: ${apt}`);
    process.exit(1);
  }
}

/** npm install when node_modules is missing or older than any package.json / the lock file. */
function ensureNodeModules() {
  const stamp = join(root, 'node_modules', '.supadispatch-installed');
  const manifests = [
    'package.json',
    'package-lock.json',
    'sdk/package.json',
    'local/package.json',
    'react/package.json',
  ]
    .map((f) => join(root, f))
    .filter((f) => existsSync(f));
  const newest = Math.max(...manifests.map((f) => statSync(f).mtimeMs));
  if (existsSync(stamp) && Number(readFileSync(stamp, 'utf8')) >= newest) return;
  say('installing npm packages (npm install)');
  // `npm install`, not `npm ci`: the supabase CLI's lock entries lack other platforms' binaries.
  if (run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error']) !== 0) {
    say('npm install failed');
    process.exit(1);
  }
  writeFileSync(stamp, String(newest));
}

ensureDebianPackages();
ensureNodeModules();
if (command === 'install') process.exit(0);

const scripts = { start: 'scripts/start.ts', test: 'scripts/test.ts' };
const script = scripts[command];
if (!script) {
  say(`unknown command "${command}": use start, test or install`);
  process.exit(2);
}
// `supadispatch-source`: workspace packages resolve to their TypeScript sources (their package.json
// `exports`), not to a build; see docs/decisions.md (packages).
const nodeArgs = ['--conditions=supadispatch-source', '--import', 'tsx'];
const child = spawn(process.execPath, [...nodeArgs, join(root, script), ...process.argv.slice(3)], {
  cwd: root,
  stdio: 'inherit',
});
// Ctrl-C reaches the whole foreground process group already; forward TERM for `kill <pid>`.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
