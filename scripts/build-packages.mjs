#!/usr/bin/env node
// Builds the publishable packages to plain ESM JavaScript with .d.ts files:
//
//   node scripts/build-packages.mjs [sdk] [local] [react]     (default: all three, in that order)
//
// Each package: dist/ from `tsc -p <pkg>/tsconfig.build.json` (relative `.ts` imports rewritten to
// `.js`), plus what it needs at run time that is not TypeScript:
//   sdk    assets/sql (the built core SQL and its VERSION), assets/functions (the Edge Functions library)
//   local  the .sql, .js and .mjs files beside its sources (database bootstrap, the Deno functions
//          bootstrap, the system package list shared with scripts/bootstrap.mjs, with its .d.mts)
// `npm pack` runs this through each package's prepack script. react is built after sdk: it takes the
// client core's types from sdk/dist.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const all = ['sdk', 'local', 'react'];
const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!all.includes(name)) {
    process.stderr.write(`build-packages: unknown package "${name}" (use ${all.join(', ')})\n`);
    process.exit(2);
  }
}
const say = (message) => process.stderr.write(`[build] ${message}\n`);

function tsc(pkg) {
  const dist = join(root, pkg, 'dist');
  rmSync(dist, { recursive: true, force: true });
  const result = spawnSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, pkg, 'tsconfig.build.json')],
    { stdio: 'inherit', cwd: root },
  );
  if (result.status !== 0) {
    say(`${pkg}: tsc failed`);
    process.exit(1);
  }
}

/** Copies files under `from` whose name passes `keep`, keeping their relative paths. */
function copyTree(from, to, keep) {
  let count = 0;
  for (const name of readdirSync(from)) {
    const source = join(from, name);
    if (statSync(source).isDirectory()) count += copyTree(source, join(to, name), keep);
    else if (keep(relative(root, source))) {
      mkdirSync(to, { recursive: true });
      cpSync(source, join(to, name));
      count++;
    }
  }
  return count;
}

async function buildSdk() {
  tsc('sdk');
  const assets = join(root, 'sdk', 'assets');
  rmSync(assets, { recursive: true, force: true });
  mkdirSync(join(assets, 'sql'), { recursive: true });
  const { tsImport } = await import('tsx/esm/api');
  const build = await tsImport(join(root, 'sql', 'build.ts'), import.meta.url);
  writeFileSync(join(assets, 'sql', 'core.sql'), build.buildCore());
  writeFileSync(join(assets, 'sql', 'VERSION'), `${build.coreVersion()}\n`);
  const functions = copyTree(
    join(root, 'edge-functions', 'src'),
    join(assets, 'functions'),
    (f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('_test.ts'),
  );
  say(`sdk: dist/, assets/sql (core ${build.coreVersion()}), assets/functions (${functions} files)`);
}

function buildLocal() {
  tsc('local');
  const copied = copyTree(
    join(root, 'local', 'src'),
    join(root, 'local', 'dist'),
    (f) => /\.(sql|js|mjs|d\.mts)$/.test(f) && !f.startsWith(join('local', 'src', 'db', 'test')),
  );
  say(`local: dist/ (+${copied} .sql/.js/.mjs files)`);
}

function buildReact() {
  tsc('react');
  say('react: dist/');
}

const steps = { sdk: buildSdk, local: buildLocal, react: buildReact };
for (const name of all.filter((n) => wanted.length === 0 || wanted.includes(n))) await steps[name]();
