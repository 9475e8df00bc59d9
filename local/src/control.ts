import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertSystemPackages, clusterRunning, serverLogFile, stopCluster } from './db/cluster.ts';
import { createLogger } from './logger.ts';
import { statePaths } from './paths.ts';
import { resolvePorts, type StackPorts } from './ports.ts';
import { clearState, processAlive, readState, type StackState } from './state.ts';

/** `supadispatch local start | stop | status`: controls the detached stack supervisor. */

export class StackError extends Error {}

/**
 * How to run the supervisor beside this module: the built `daemon.js` on plain Node in an installed
 * package, or `daemon.ts` through tsx in a source checkout (this module is then `control.ts`).
 */
function daemonCommand(): string[] {
  const fromSource = import.meta.url.endsWith('.ts');
  const daemon = fileURLToPath(new URL(fromSource ? './daemon.ts' : './daemon.js', import.meta.url));
  return fromSource ? ['--import', import.meta.resolve('tsx'), daemon] : [daemon];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

const portNames: Record<keyof StackPorts, string> = {
  api: 'API',
  db: 'DB',
  mail: 'MAIL',
  smtp: 'SMTP',
  webhookSink: 'WEBHOOK_SINK',
};

export async function assertPortsFree(ports: StackPorts, dbAlreadyOurs: boolean): Promise<void> {
  for (const [key, port] of Object.entries(ports) as [keyof StackPorts, number][]) {
    if (key === 'db' && dbAlreadyOurs) continue;
    if (!(await portFree(port))) {
      throw new StackError(
        `port ${port} (${portNames[key]}) is already in use on 127.0.0.1. Stop whatever listens there ` +
          `(\`ss -ltnp 'sport = :${port}'\` shows it; \`supabase stop\` if it is a Supabase stack), ` +
          `or move the stack with SUPADISPATCH_${portNames[key]}_PORT=<free port>.`,
      );
    }
  }
}

export function runningState(projectRoot: string): StackState | null {
  const paths = statePaths(projectRoot);
  const state = readState(paths);
  if (state && processAlive(state.pid)) return state;
  return null;
}

function logTail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export interface StartResult {
  state: StackState;
  alreadyRunning: boolean;
}

/** Starts the stack in the background and returns once every service is ready. */
export async function startStack(projectRoot: string, timeoutMs = 240_000): Promise<StartResult> {
  const paths = statePaths(projectRoot);
  const existing = readState(paths);
  if (existing && processAlive(existing.pid)) {
    if (existing.status === 'ready') return { state: existing, alreadyRunning: true };
    throw new StackError(
      `the stack is still starting (pid ${existing.pid}); wait, or run \`supadispatch local stop\``,
    );
  }
  // Here, not only in the supervisor: the user sees the missing package, not a log file's tail.
  assertSystemPackages();
  // A supervisor that died leaves PostgreSQL behind; stop it before starting afresh.
  const log = createLogger(() => {});
  if (clusterRunning(paths.dataDir)) stopCluster({ dataDir: paths.dataDir, log });
  clearState(paths);
  await assertPortsFree(resolvePorts(), false);

  mkdirSync(paths.logsDir, { recursive: true });
  const logFile = join(paths.logsDir, 'stack.log');
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...daemonCommand(), projectRoot], {
    cwd: projectRoot,
    detached: true,
    stdio: ['ignore', out, out],
    env: process.env,
  });
  closeSync(out);
  let exited: number | null = null;
  child.on('exit', (code) => {
    exited = code ?? 1;
  });
  child.unref();

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const state = readState(paths);
    if (state?.status === 'ready' && state.pid === child.pid) return { state, alreadyRunning: false };
    if (exited !== null) {
      throw new StackError(
        `the stack failed to start (exit ${exited}). Last lines of ${logFile}:\n${logTail(logFile)}\n` +
          `PostgreSQL's log: ${serverLogFile(paths.runDir)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {}
  throw new StackError(`the stack did not become ready within ${timeoutMs / 1000} s; see ${logFile}`);
}

/** Stops the stack; returns false when nothing was running. */
export async function stopStack(projectRoot: string, timeoutMs = 60_000): Promise<boolean> {
  const paths = statePaths(projectRoot);
  const state = readState(paths);
  let pid = state?.pid;
  if (!pid) {
    try {
      pid = Number(readFileSync(paths.pidFile, 'utf8').trim()) || undefined;
    } catch {}
  }
  let wasRunning = false;
  if (pid && processAlive(pid)) {
    wasRunning = true;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + timeoutMs;
    while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  if (clusterRunning(paths.dataDir)) {
    wasRunning = true;
    stopCluster({ dataDir: paths.dataDir, log: createLogger(() => {}) });
  }
  clearState(paths);
  return wasRunning;
}

/**
 * Stops the stack and deletes its database (keys are kept), like `supabase db reset` on a fresh
 * container: the next start re-runs the bootstrap, every migration and the seed.
 */
export async function resetStack(projectRoot: string): Promise<void> {
  const paths = statePaths(projectRoot);
  await stopStack(projectRoot);
  rmSync(paths.dataDir, { recursive: true, force: true });
  rmSync(paths.runDir, { recursive: true, force: true });
}
