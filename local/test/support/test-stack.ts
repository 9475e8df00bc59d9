import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  authenticatorDbUrl,
  type LocalService,
  type StackContext,
  type StackKeys,
} from '../../src/context.ts';
import { type Gateway, startGateway } from '../../src/gateway.ts';
import { signJwt } from '../../src/jwt.ts';
import { generateKeys } from '../../src/keys.ts';
import { createLogger } from '../../src/logger.ts';
import { repoRoot, statePaths } from '../../src/paths.ts';
import { defaultPorts } from '../../src/ports.ts';
import { loadProjectConfig, type ProjectConfig } from '../../src/project-config.ts';

/**
 * A stack for one test file: the real gateway on a free port with just the services under test,
 * over the database in SUPABASE_ADMIN_DB_URL (a dev database or the running local stack's).
 * Keys are fresh per test stack, so tokens from one never work on another.
 */
export interface TestStack {
  url: string;
  anonKey: string;
  serviceRoleKey: string;
  jwtSecret: string;
  keys: StackKeys;
  adminDbUrl: string;
  dbUrl: string;
  ctx: StackContext;
  /** An access token for a user, with Supabase's claims; `extra` overrides claims. */
  signUserToken(userId: string, extra?: Record<string, unknown>): string;
  stop(): Promise<void>;
}

export interface TestStackOptions {
  services: LocalService[];
  /** Project whose supabase/config.toml is used (default: this repository). */
  projectRoot?: string;
  /** Overrides applied to the parsed config.toml. */
  config?: (config: ProjectConfig) => ProjectConfig;
  /** Print the stack log to stderr (default: only when SUPADISPATCH_TEST_LOG=1). */
  verbose?: boolean;
}

export function adminDbUrlOrNull(): string | null {
  return process.env.SUPABASE_ADMIN_DB_URL || null;
}

export const missingAdminDbMessage =
  'needs the local stack database: set SUPABASE_ADMIN_DB_URL (superuser) — npm test does; for development run `npx tsx local/src/db/dev-db.ts start`';

export async function startTestStack(options: TestStackOptions): Promise<TestStack> {
  const adminDbUrl = adminDbUrlOrNull();
  if (!adminDbUrl) throw new Error(missingAdminDbMessage);
  const parsedAdmin = new URL(adminDbUrl);
  const dbUrl =
    process.env.SUPABASE_DB_URL ||
    `postgresql://postgres:postgres@${parsedAdmin.hostname}:${parsedAdmin.port}${parsedAdmin.pathname}`;
  const projectRoot = options.projectRoot ?? repoRoot;
  const verbose = options.verbose ?? process.env.SUPADISPATCH_TEST_LOG === '1';
  const log = createLogger(verbose ? (line) => process.stderr.write(line) : () => {});
  const keys = generateKeys();
  const adminPool = new pg.Pool({ connectionString: adminDbUrl, max: 10 });
  adminPool.on('error', (error) => log('test-stack', 'idle admin connection error', error));

  const stateDir = mkdtempSync(join(tmpdir(), 'supadispatch-test-'));
  const ctxRef: { ctx?: StackContext } = {};
  const gateway: Gateway = await startGateway(
    new Proxy({} as StackContext, { get: (_t, key) => ctxRef.ctx?.[key as keyof StackContext] }),
    0,
  );
  const api = `http://127.0.0.1:${gateway.port}`;
  let config = loadProjectConfig(projectRoot);
  if (options.config) config = options.config(config);
  const ctx: StackContext = {
    projectRoot,
    paths: { ...statePaths(projectRoot), stateDir },
    ports: { ...defaultPorts, api: gateway.port, db: Number(parsedAdmin.port) },
    keys,
    urls: {
      api,
      db: dbUrl,
      adminDb: adminDbUrl,
      authenticatorDb: authenticatorDbUrl(adminDbUrl),
      mail: process.env.MAIL_URL ?? `http://127.0.0.1:${defaultPorts.mail}`,
      smtp: { host: '127.0.0.1', port: defaultPorts.smtp },
      webhookSink: process.env.WEBHOOK_SINK_URL ?? `http://127.0.0.1:${defaultPorts.webhookSink}`,
      functions: `${api}/functions/v1`,
    },
    config,
    adminPool,
    log,
  };
  ctxRef.ctx = ctx;
  // The functions service points Vault's worker URL at this stack's gateway; the database is shared
  // with the suite's main stack (and the next test files), so the values are put back on stop.
  const restoreVault = await saveWorkerVault(adminPool);
  const started: LocalService[] = [];
  try {
    for (const service of options.services) {
      await service.start(ctx);
      started.push(service);
      gateway.mount(service);
    }
  } catch (error) {
    for (const service of started.reverse()) await service.stop().catch(() => {});
    await gateway.close();
    await restoreVault().catch(() => {});
    await adminPool.end();
    throw error;
  }

  return {
    url: api,
    anonKey: keys.anonKey,
    serviceRoleKey: keys.serviceRoleKey,
    jwtSecret: keys.jwtSecret,
    keys,
    adminDbUrl,
    dbUrl,
    ctx,
    signUserToken(userId, extra = {}) {
      const now = Math.floor(Date.now() / 1000);
      return signJwt(
        {
          iss: `${api}/auth/v1`,
          sub: userId,
          aud: 'authenticated',
          role: 'authenticated',
          email: `${userId}@example.test`,
          app_metadata: { provider: 'email', providers: ['email'] },
          user_metadata: {},
          session_id: crypto.randomUUID(),
          is_anonymous: false,
          iat: now,
          exp: now + 3600,
          ...extra,
        },
        keys.jwtSecret,
      );
    },
    async stop() {
      for (const service of started.reverse()) await service.stop().catch(() => {});
      await gateway.close();
      await restoreVault();
      await adminPool.end();
    },
  };
}

const WORKER_VAULT_SECRETS = ['dispatch_worker_url', 'dispatch_worker_secret'];

/** Reads the worker's Vault secrets now; the returned function puts them back (or removes new ones). */
async function saveWorkerVault(pool: pg.Pool): Promise<() => Promise<void>> {
  const { rows: vault } = await pool.query(`select to_regclass('vault.secrets') is not null as present`);
  if (!vault[0]?.present) return async () => {};
  const { rows } = await pool.query<{ name: string; secret: string }>(
    'select name, decrypted_secret as secret from vault.decrypted_secrets where name = any($1)',
    [WORKER_VAULT_SECRETS],
  );
  const saved = new Map(rows.map((r) => [r.name, r.secret]));
  return async () => {
    for (const name of WORKER_VAULT_SECRETS) {
      const value = saved.get(name);
      if (value === undefined) {
        await pool.query('delete from vault.secrets where name = $1', [name]);
      } else {
        await pool.query('select vault.update_secret(id, $2) from vault.secrets where name = $1', [
          name,
          value,
        ]);
      }
    }
  };
}
