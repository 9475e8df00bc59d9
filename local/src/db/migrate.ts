import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../logger.ts';

/**
 * Migrations and types with the real Supabase CLI (v3, npm `supabase`), as a developer runs them
 * against hosted: `supabase db push --remote=<url> --yes` and `supabase gen types --remote=<url>`.
 * The CLI reads `supabase/migrations` (and the seed from config.toml's [db.seed], default
 * `supabase/seed.sql`) under the project root. Push as the non-superuser `postgres` role, so a
 * migration that needs superuser fails here as it does on hosted.
 */

/** The Supabase CLI binary: the workspace's node_modules/.bin/supabase, else `npx supabase`. */
export function supabaseCli(): { command: string; prefix: string[] } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 10; i++) {
    const candidate = join(dir, 'node_modules', '.bin', 'supabase');
    if (existsSync(candidate)) return { command: candidate, prefix: [] };
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return { command: 'npx', prefix: ['--yes', 'supabase'] };
}

/** Our cluster has no TLS; saying so up front spares the CLI's TLS attempt and its warning. */
function withSslDisabled(dbUrl: string): string {
  const url = new URL(dbUrl);
  const host = url.hostname;
  if (!url.searchParams.has('sslmode') && (host === '127.0.0.1' || host === 'localhost' || host === '::1')) {
    url.searchParams.set('sslmode', 'disable');
  }
  return url.toString();
}

/** Hides the password in anything we log or throw. */
export function redactDbUrl(text: string, dbUrl: string): string {
  try {
    const password = new URL(dbUrl).password;
    return password ? text.split(password).join('***') : text;
  } catch {
    return text;
  }
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(
  args: string[],
  options: { cwd: string; log?: Logger; logService?: string; timeoutMs: number; dbUrl: string },
): Promise<RunResult> {
  const cli = supabaseCli();
  return new Promise((resolve, reject) => {
    const child = spawn(cli.command, [...cli.prefix, ...args], {
      cwd: options.cwd,
      env: {
        ...process.env,
        SUPABASE_YES: '1',
        NO_COLOR: '1',
        DO_NOT_TRACK: '1',
        SUPABASE_TELEMETRY_DISABLED: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const pending: Record<'out' | 'err', string> = { out: '', err: '' };
    const emit = (kind: 'out' | 'err', chunk: string, flush = false): void => {
      if (!options.log) return;
      pending[kind] += chunk;
      const lines = pending[kind].split('\n');
      pending[kind] = flush ? '' : (lines.pop() ?? '');
      for (const line of lines) {
        const clean = line.replace(/\r/g, '').trimEnd();
        if (clean && clean !== '│')
          options.log(options.logService ?? 'migrations', redactDbUrl(clean, options.dbUrl));
      }
    };
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      if (options.logService !== 'gen-types') emit('out', chunk);
    });
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      emit('err', chunk);
    });
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`supabase ${args[0]} ${args[1]}: no result after ${options.timeoutMs} ms; killed`));
    }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      emit('out', '', true);
      emit('err', '', true);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface PushMigrationsOptions {
  /** The directory holding `supabase/` (migrations, seed, config.toml). */
  projectRoot: string;
  /** Target database; use the `postgres` role (hosted runs migrations as postgres). */
  dbUrl: string;
  /** Also run the seed (`--include-seed`: config.toml [db.seed].sql_paths, default supabase/seed.sql). */
  includeSeed?: boolean;
  /** Apply local migrations older than the newest applied one (`--include-all`). */
  includeAll?: boolean;
  log?: Logger;
  /** Bound on the CLI's run time (default 10 min). */
  timeoutMs?: number;
}

/**
 * `supabase db push --remote=<dbUrl> --yes [--include-seed]` with cwd = projectRoot, streaming
 * the CLI's output to `log` (service "migrations"). Throws with the CLI's output when it fails.
 */
export async function pushMigrations(options: PushMigrationsOptions): Promise<{ output: string }> {
  const dbUrl = withSslDisabled(options.dbUrl);
  const args = [
    'db',
    'push',
    `--remote=${dbUrl}`,
    '--yes',
    '--agent',
    'no',
    '--workdir',
    options.projectRoot,
  ];
  if (options.includeSeed) args.push('--include-seed');
  if (options.includeAll) args.push('--include-all');
  const result = await runCli(args, {
    cwd: options.projectRoot,
    log: options.log,
    logService: 'migrations',
    timeoutMs: options.timeoutMs ?? 600_000,
    dbUrl,
  });
  const output = redactDbUrl(`${result.stdout}${result.stderr}`.trim(), dbUrl);
  if (result.code !== 0) {
    throw new Error(`supabase db push failed (exit ${result.code}):\n${output}`);
  }
  return { output };
}

export interface GenTypesOptions {
  dbUrl: string;
  /** Schemas to include (`--schema`); the CLI's default is public. */
  schemas?: string[];
  /** Working directory for the CLI (default: the process's cwd; it needs no project). */
  cwd?: string;
  log?: Logger;
  timeoutMs?: number;
}

/** `supabase gen types --lang typescript --remote=<dbUrl>`; returns the generated TypeScript. */
export async function genTypes(options: GenTypesOptions): Promise<string> {
  const dbUrl = withSslDisabled(options.dbUrl);
  const args = ['gen', 'types', '--lang', 'typescript', `--remote=${dbUrl}`, '--agent', 'no'];
  if (options.schemas?.length) args.push('--schema', options.schemas.join(','));
  const result = await runCli(args, {
    cwd: options.cwd ?? process.cwd(),
    log: options.log,
    logService: 'gen-types',
    timeoutMs: options.timeoutMs ?? 300_000,
    dbUrl,
  });
  if (result.code !== 0) {
    const output = redactDbUrl(`${result.stderr}\n${result.stdout}`.trim(), dbUrl);
    throw new Error(`supabase gen types failed (exit ${result.code}):\n${output}`);
  }
  return result.stdout;
}
