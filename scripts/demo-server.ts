/**
 * The demo app's Vite dev server (demo/), for `npm start` and the e2e tests (e2e/demo): installs
 * demo's packages when they are missing, starts `vite` against a stack (VITE_SUPABASE_URL,
 * VITE_SUPABASE_ANON_KEY, DEMO_PORT) and waits until it answers.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../local/src/paths.ts';

export const demoDir = join(repoRoot, 'demo');

/** The seeded users (supabase/seed.sql); every password is `demopass`. */
export const demoPassword = 'demopass';
export const demoUsers = [
  {
    email: 'admin@demo-market.test',
    role: 'admin (region north)',
    id: 'd0000000-0000-4000-8000-000000000001',
  },
  {
    email: 'seller1@demo-market.test',
    role: "seller: Sam's Ceramics",
    id: 'd0000000-0000-4000-8000-000000000002',
  },
  {
    email: 'seller2@demo-market.test',
    role: 'seller: Sol Bikes',
    id: 'd0000000-0000-4000-8000-000000000003',
  },
  {
    email: 'buyer1@demo-market.test',
    role: 'buyer (region north)',
    id: 'd0000000-0000-4000-8000-000000000004',
  },
  {
    email: 'buyer2@demo-market.test',
    role: 'buyer (region south)',
    id: 'd0000000-0000-4000-8000-000000000005',
  },
] as const;

/** Whether the root package.json lists demo/ as a workspace (then the root install covers it). */
function demoIsWorkspace(): boolean {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    workspaces?: string[];
  };
  return (manifest.workspaces ?? []).includes('demo');
}

/** `npm install` for demo/ when its packages are missing or older than its package.json. */
export function ensureDemoInstalled(say: (message: string) => void): void {
  const manifest = join(demoDir, 'package.json');
  if (!existsSync(manifest)) throw new Error(`no ${manifest}: the demo app is missing`);
  const workspace = demoIsWorkspace();
  const stamp = join(workspace ? repoRoot : demoDir, 'node_modules', '.supadispatch-demo-installed');
  const newest = statSync(manifest).mtimeMs;
  const vite = [
    join(demoDir, 'node_modules', '.bin', 'vite'),
    join(repoRoot, 'node_modules', '.bin', 'vite'),
  ];
  if (vite.some((v) => existsSync(v)) && existsSync(stamp) && Number(readFileSync(stamp, 'utf8')) >= newest)
    return;
  say(`installing the demo's npm packages (npm install${workspace ? '' : ' in demo/'})`);
  const result = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: workspace ? repoRoot : demoDir,
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error(`npm install for the demo failed (exit ${result.status})`);
  writeFileSync(stamp, String(newest));
}

export interface DemoServer {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export interface DemoServerOptions {
  supabaseUrl: string;
  anonKey: string;
  port: number;
  /** `inherit` shows Vite's output (npm start); `ignore` keeps a test's output clean. */
  output: 'inherit' | 'ignore';
  /** How long to wait for the first answer (default 120 s: the first start pre-bundles). */
  timeoutMs?: number;
}

/** Starts `vite` in demo/ (its own process group, so stop() ends npm and vite together). */
export async function startDemoServer(options: DemoServerOptions): Promise<DemoServer> {
  const url = `http://127.0.0.1:${options.port}`;
  // Something already answering there (a dev server left running by an interrupted run, with
  // another stack's keys) would be taken for ours below: refuse, and say what to do.
  const taken = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
    () => true,
    () => false,
  );
  if (taken) {
    throw new Error(
      `port ${options.port} already answers (a demo dev server left running?): stop it, or set DEMO_PORT`,
    );
  }
  const child = spawn(
    'npm',
    ['run', 'dev', '--', '--host', '127.0.0.1', '--port', String(options.port), '--strictPort'],
    {
      cwd: demoDir,
      detached: true,
      stdio: ['ignore', options.output, options.output],
      env: {
        ...process.env,
        VITE_SUPABASE_URL: options.supabaseUrl,
        VITE_SUPABASE_ANON_KEY: options.anonKey,
        DEMO_PORT: String(options.port),
      },
    },
  );
  let exited: number | null = null;
  child.on('exit', (code) => {
    exited = code ?? 1;
  });
  const stop = async () => {
    if (exited !== null || child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {}
    for (let i = 0; i < 50 && exited === null; i++) await new Promise((r) => setTimeout(r, 100));
    if (exited === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }
  };
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(`the demo's dev server exited (${exited}) before it answered`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { url, child, stop };
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(
    `the demo's dev server did not answer on ${url} within ${(options.timeoutMs ?? 120_000) / 1000} s`,
  );
}
