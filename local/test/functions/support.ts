import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { StackContext } from '../../src/context.ts';
import {
  createFunctionsService,
  type FunctionsService,
  type FunctionsServiceOptions,
} from '../../src/functions/index.ts';
import { startGateway } from '../../src/gateway.ts';
import { signJwt } from '../../src/jwt.ts';
import { repoRoot, statePaths } from '../../src/paths.ts';
import { defaultPorts } from '../../src/ports.ts';
import { loadProjectConfig } from '../../src/project-config.ts';

export const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
export const fixtureProject = join(fixturesDir, 'project');
export const jwtSecret = 'functions-test-secret-with-at-least-32-characters';

export interface Harness {
  projectRoot: string;
  ctx: StackContext;
  service: FunctionsService;
  baseUrl: string;
  logs: string[];
  anonKey: string;
  serviceRoleKey: string;
  close(): Promise<void>;
}

/**
 * A copy of the fixture project (so tests may edit it) inside the repository's git-ignored
 * `.supadispatch/`, so Deno still finds the repository's node_modules for `npm:` imports.
 * The service is mounted on its own HTTP server the way the gateway mounts it (prefix
 * stripped, query kept), or with `viaGateway` on the stack's real gateway.
 */
export async function startHarness(
  options: FunctionsServiceOptions & { viaGateway?: boolean } = {},
): Promise<Harness> {
  const { viaGateway, ...serviceOptions } = options;
  const projectRoot = join(repoRoot, '.supadispatch', `test-functions-${process.pid}-${Date.now()}`);
  mkdirSync(projectRoot, { recursive: true });
  cpSync(fixtureProject, projectRoot, { recursive: true });
  const logs: string[] = [];
  const service = createFunctionsService({
    denoDir: join(repoRoot, '.supadispatch', 'test-deno-dir'),
    ...serviceOptions,
  });
  const anonKey = signJwt({ iss: 'supabase-demo', role: 'anon', exp: 1983812996 }, jwtSecret);
  const serviceRoleKey = signJwt({ iss: 'supabase-demo', role: 'service_role', exp: 1983812996 }, jwtSecret);
  const ctx: StackContext = {
    projectRoot,
    paths: statePaths(projectRoot),
    ports: { ...defaultPorts },
    keys: { jwtSecret, anonKey, serviceRoleKey, webhookSecret: 'whsec_dGVzdA==' },
    urls: {
      api: '',
      db: 'postgresql://postgres:postgres@127.0.0.1:54322/postgres',
      adminDb: 'postgresql://supabase_admin:postgres@127.0.0.1:54322/postgres',
      authenticatorDb: 'postgresql://authenticator:postgres@127.0.0.1:54322/postgres',
      mail: 'http://127.0.0.1:54324',
      smtp: { host: '127.0.0.1', port: 54325 },
      webhookSink: 'http://127.0.0.1:54326',
      functions: '',
    },
    config: loadProjectConfig(projectRoot),
    adminPool: {} as pg.Pool,
    log: (svc, message, extra) => {
      let line = `[${svc}] ${message}`;
      if (extra instanceof Error) line += `\n${extra.stack ?? extra.message}`;
      else if (extra !== undefined) line += ` ${JSON.stringify(extra)}`;
      logs.push(line);
      if (process.env.FUNCTIONS_TEST_DEBUG) process.stderr.write(`${line}\n`);
    },
  };

  let port: number;
  let closeServer: () => Promise<void>;
  if (viaGateway) {
    const gateway = await startGateway(ctx, 0);
    gateway.mount(service);
    port = gateway.port;
    closeServer = () => gateway.close();
  } else {
    const prefix = service.http!.prefix;
    const server = http.createServer((req, res) => {
      const url = req.url ?? '/';
      if (url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`)) {
        void service.http!.handle(req, res, url.slice(prefix.length) || '/');
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    closeServer = async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    };
  }
  const baseUrl = `http://127.0.0.1:${port}`;
  ctx.ports.api = port;
  ctx.urls.api = baseUrl;
  ctx.urls.functions = `${baseUrl}/functions/v1`;

  await service.start(ctx);
  return {
    projectRoot,
    ctx,
    service,
    baseUrl,
    logs,
    anonKey,
    serviceRoleKey,
    async close() {
      await service.stop();
      await closeServer();
      rmSync(projectRoot, { recursive: true, force: true });
    },
  };
}

/** Deno processes (pid and command line) whose parent is `ppid`, from `ps`. */
export function denoChildren(ppid = process.pid): { pid: number; args: string }[] {
  const out = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .filter((m) => Number(m[2]) === ppid && /deno/.test(m[3]))
    .map((m) => ({ pid: Number(m[1]), args: m[3] }));
}

/** Whether a process with this pid exists (signal 0). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` up to `tries` times, `delayMs` apart; returns its last result. */
export async function poll<T>(
  check: () => Promise<T> | T,
  ok: (value: T) => boolean,
  tries = 50,
  delayMs = 100,
) {
  let value = await check();
  for (let i = 1; i < tries && !ok(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    value = await check();
  }
  return value;
}
