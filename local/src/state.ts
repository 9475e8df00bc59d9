import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StackKeys, StackUrls } from './context.ts';
import { generateKeys, generateWorkerSecret } from './keys.ts';
import type { StatePaths } from './paths.ts';
import type { StackPorts } from './ports.ts';

/** What a running stack publishes in `.supadispatch/stack.json` for `local status` and tests. */
export interface StackState {
  status: 'starting' | 'ready';
  pid: number;
  projectRoot: string;
  startedAt: string;
  ports: StackPorts;
  urls: StackUrls;
  keys: StackKeys;
}

/** Keys are made once per stack and survive restarts, so tokens and .env files stay valid. */
export function loadOrCreateKeys(paths: StatePaths): StackKeys {
  if (existsSync(paths.secretsFile)) {
    const kept = JSON.parse(readFileSync(paths.secretsFile, 'utf8')) as StackKeys;
    if (kept.workerSecret) return kept;
    // a stack made before the worker secret existed: add it, keep the rest
    return saveKeys(paths, { ...kept, workerSecret: generateWorkerSecret() });
  }
  return saveKeys(paths, generateKeys());
}

function saveKeys(paths: StatePaths, keys: StackKeys): StackKeys {
  mkdirSync(dirname(paths.secretsFile), { recursive: true, mode: 0o755 });
  writeFileSync(paths.secretsFile, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  chmodSync(paths.secretsFile, 0o600);
  return keys;
}

export function writeState(paths: StatePaths, state: StackState): void {
  mkdirSync(dirname(paths.stateFile), { recursive: true });
  const tmp = `${paths.stateFile}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  // rename is atomic: a reader never sees half a file.
  writeFileSync(paths.stateFile, readFileSync(tmp));
  rmSync(tmp, { force: true });
}

export function readState(paths: StatePaths): StackState | null {
  try {
    return JSON.parse(readFileSync(paths.stateFile, 'utf8')) as StackState;
  } catch {
    return null;
  }
}

export function clearState(paths: StatePaths): void {
  rmSync(paths.stateFile, { force: true });
  rmSync(paths.pidFile, { force: true });
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `supabase status -o env` names, plus the local stack's own (mail catcher, webhook sink). */
export function statusVariables(state: StackState): Record<string, string> {
  const { urls, keys } = state;
  return {
    API_URL: urls.api,
    REST_URL: `${urls.api}/rest/v1`,
    AUTH_URL: `${urls.api}/auth/v1`,
    REALTIME_URL: `${urls.api.replace(/^http/, 'ws')}/realtime/v1`,
    FUNCTIONS_URL: urls.functions,
    DB_URL: urls.db,
    ADMIN_DB_URL: urls.adminDb,
    ANON_KEY: keys.anonKey,
    SERVICE_ROLE_KEY: keys.serviceRoleKey,
    JWT_SECRET: keys.jwtSecret,
    MAIL_URL: urls.mail,
    INBUCKET_URL: urls.mail,
    SMTP_HOST: urls.smtp.host,
    SMTP_PORT: String(urls.smtp.port),
    WEBHOOK_SINK_URL: urls.webhookSink,
    WEBHOOK_SECRET: keys.webhookSecret,
  };
}
