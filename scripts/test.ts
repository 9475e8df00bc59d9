/**
 * `npm test`: lint, type check, then every node:test suite against a local stack started for the
 * run (its own state folder and ports, so a developer's `npm start` stack is left alone). To run
 * the suites against a real Supabase instead, set SUPABASE_URL, SUPABASE_ANON_KEY,
 * SUPABASE_SERVICE_ROLE_KEY and SUPABASE_DB_URL: no local stack is started then.
 *
 *   npm test                      everything
 *   npm test -- local/test/rest   only test files under these paths
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { repoRoot } from '../local/src/paths.ts';
import { demoStackEnv } from './demo-env.ts';

const testRoots = [
  'local/test',
  'sdk/test',
  'react/test',
  'edge-functions/test',
  'sql',
  'e2e',
  'bench/test',
  'demo/test',
];
const filters = process.argv.slice(2).map((p) => p.replace(/\/$/, ''));
const startedAt = Date.now();
const step = (message: string) =>
  process.stdout.write(`\n=== ${message} (${((Date.now() - startedAt) / 1000).toFixed(0)} s)\n`);

function findTests(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'fixtures' || name.startsWith('.')) return [];
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith('.test.ts') || name.endsWith('.test.tsx') ? [path] : [];
  });
}

function run(label: string, file: string, args: string[], env: NodeJS.ProcessEnv = process.env): boolean {
  step(label);
  const result = spawnSync(file, args, { cwd: repoRoot, stdio: 'inherit', env });
  if (result.status !== 0)
    process.stdout.write(`--- ${label}: FAILED (exit ${result.status ?? result.signal})\n`);
  return result.status === 0;
}

const bin = (name: string) => join(repoRoot, 'node_modules', '.bin', name);
const failures: string[] = [];

if (filters.length === 0) {
  if (!run('lint and format (biome)', bin('biome'), ['check', '.'])) failures.push('biome');
  if (!run('type check (tsc)', bin('tsc'), ['-p', 'tsconfig.json'])) failures.push('tsc');
  // the demo again, typed to its config (its schema registered with @supadispatch/react: demo/tsconfig.json)
  if (!run('type check the demo (tsc)', bin('tsc'), ['-p', 'demo/tsconfig.json'])) failures.push('tsc demo');
  // One source of truth for the SQL core: sql/core builds the demo project's core migration, and `gen`
  // reads the same build (a migration identical to it counts as installed), so both checks agree.
  if (!run('core migration (sql/build.ts --check)', bin('tsx'), ['sql/build.ts', '--check']))
    failures.push('core migration');
  if (!run('generated files (supadispatch check)', bin('supadispatch'), ['check']))
    failures.push('supadispatch check');
}

const files = testRoots
  .flatMap((dir) => findTests(join(repoRoot, dir)))
  .map((f) => relative(repoRoot, f))
  .filter((f) => filters.length === 0 || filters.some((p) => f === p || f.startsWith(`${p}/`)))
  .sort();

const env: NodeJS.ProcessEnv = { ...process.env };
const tapFile = join(repoRoot, '.supadispatch', 'test-results.tap');
mkdirSync(dirname(tapFile), { recursive: true });
rmSync(tapFile, { force: true });

/** The runner's own totals, from the TAP copy of its report. */
function totals(): { pass: number; fail: number; skipped: number } | null {
  if (!existsSync(tapFile)) return null;
  const tap = readFileSync(tapFile, 'utf8');
  const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
  return { pass: count('pass'), fail: count('fail') + count('cancelled'), skipped: count('skipped') };
}
const remote = Boolean(env.SUPABASE_URL && env.SUPABASE_DB_URL);
let stopStack: (() => Promise<unknown>) | null = null;
if (!remote) {
  // The test stack: own state folder and ports 100 above the defaults.
  env.SUPADISPATCH_STATE_DIR = join(repoRoot, '.supadispatch', 'test-stack');
  for (const [name, port] of Object.entries({
    API: 54421,
    DB: 54422,
    MAIL: 54424,
    SMTP: 54425,
    WEBHOOK_SINK: 54426,
  })) {
    env[`SUPADISPATCH_${name}_PORT`] ??= String(port);
  }
  // The demo project's config.toml reads the hook's and the sink's URLs on these ports from env.
  Object.assign(env, demoStackEnv(env));
  Object.assign(process.env, env);
  const control = await import('../local/src/control.ts');
  const { statusVariables } = await import('../local/src/state.ts');
  step('starting the local stack for the tests (fresh database)');
  await control.stopStack(repoRoot).catch(() => {});
  // A fresh database every run: the demo project's core migration is rebuilt in place while the
  // core is developed, and `supabase db push` never re-applies a version it has recorded.
  rmSync(env.SUPADISPATCH_STATE_DIR, { recursive: true, force: true });
  try {
    const { state } = await control.startStack(repoRoot);
    const vars = statusVariables(state);
    Object.assign(env, {
      SUPABASE_URL: vars.API_URL,
      SUPABASE_ANON_KEY: vars.ANON_KEY,
      SUPABASE_SERVICE_ROLE_KEY: vars.SERVICE_ROLE_KEY,
      SUPABASE_DB_URL: vars.DB_URL,
      SUPABASE_ADMIN_DB_URL: vars.ADMIN_DB_URL,
      JWT_SECRET: vars.JWT_SECRET,
      MAIL_URL: vars.MAIL_URL,
      SMTP_HOST: vars.SMTP_HOST,
      SMTP_PORT: vars.SMTP_PORT,
      WEBHOOK_SINK_URL: vars.WEBHOOK_SINK_URL,
      WEBHOOK_SECRET: vars.WEBHOOK_SECRET,
    });
    stopStack = () => control.stopStack(repoRoot);
  } catch (error) {
    process.stdout.write(`could not start the local stack: ${(error as Error).message}\n`);
    failures.push('local stack');
  }
}

try {
  if (files.length === 0) {
    process.stdout.write('no test files matched\n');
    failures.push('no tests');
  } else if (!failures.includes('local stack')) {
    const ok = run(
      `node:test, ${files.length} files`,
      process.execPath,
      [
        // Workspace packages imported by name resolve to their sources (package.json `exports`).
        '--conditions=supadispatch-source',
        '--import',
        'tsx',
        '--test',
        // per test file; `npm run test:chaos` raises it (its 50,000-write fault runs longer)
        `--test-timeout=${Number(process.env.SUPADISPATCH_TEST_TIMEOUT_MS) || 600000}`,
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=tap',
        `--test-reporter-destination=${tapFile}`,
        ...files,
      ],
      env,
    );
    if (!ok) failures.push('node:test');
  }
} finally {
  if (stopStack) {
    step('stopping the local stack');
    await stopStack();
  }
}

step(failures.length ? `FAILED: ${failures.join(', ')}` : 'all green');
const counted = totals();
if (counted)
  process.stdout.write(`${counted.pass} passed, ${counted.fail} failed, ${counted.skipped} skipped\n`);
process.exit(failures.length ? 1 : 0);
