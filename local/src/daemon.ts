import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { authenticatorDbUrl, type LocalService, type StackContext, type StackUrls } from './context.ts';
import { applyApiPrivileges } from './db/api-privileges.ts';
import { applyBootstrap } from './db/bootstrap.ts';
import {
  clusterRunning,
  ensureCluster,
  localPassword,
  serverLogFile,
  startCluster,
  stopCluster,
} from './db/cluster.ts';
import { type Gateway, startGateway } from './gateway.ts';
import { createLogger, type Logger } from './logger.ts';
import { statePaths } from './paths.ts';
import { resolvePorts, type StackPorts } from './ports.ts';
import { loadProjectConfig } from './project-config.ts';
import { createStackServices } from './services.ts';
import { clearState, loadOrCreateKeys, writeState } from './state.ts';

/**
 * The stack's supervisor process: it owns PostgreSQL and every service, and stops them all on
 * SIGTERM/SIGINT. `local start` runs it detached; `npm start` runs it attached to the terminal.
 */

export interface RunningStack {
  ctx: StackContext;
  stop(): Promise<void>;
}

export function stackUrls(ports: StackPorts): StackUrls {
  const api = `http://127.0.0.1:${ports.api}`;
  const adminDb = `postgresql://supabase_admin:${localPassword}@127.0.0.1:${ports.db}/postgres`;
  return {
    api,
    db: `postgresql://postgres:${localPassword}@127.0.0.1:${ports.db}/postgres`,
    adminDb,
    authenticatorDb: authenticatorDbUrl(adminDb),
    mail: `http://127.0.0.1:${ports.mail}`,
    smtp: { host: '127.0.0.1', port: ports.smtp },
    webhookSink: `http://127.0.0.1:${ports.webhookSink}`,
    functions: `${api}/functions/v1`,
  };
}

export interface RunStackOptions {
  projectRoot: string;
  log?: Logger;
  /** Called after the database is bootstrapped and before services start (migrations, seed). */
  afterDatabase?: (ctx: StackContext) => Promise<void>;
}

export async function runStack(options: RunStackOptions): Promise<RunningStack> {
  const log = options.log ?? createLogger();
  const paths = statePaths(options.projectRoot);
  const ports = resolvePorts();
  mkdirSync(paths.logsDir, { recursive: true });
  mkdirSync(paths.runDir, { recursive: true });
  writeFileSync(paths.pidFile, `${process.pid}\n`);
  const keys = loadOrCreateKeys(paths);
  const urls = stackUrls(ports);
  const cluster = {
    dataDir: paths.dataDir,
    runDir: paths.runDir,
    logFile: serverLogFile(paths.runDir),
    port: ports.db,
    log,
  };

  const started: LocalService[] = [];
  let gateway: Gateway | null = null;
  let adminPool: pg.Pool | null = null;
  let stopping: Promise<void> | null = null;

  const stop = () => {
    stopping ??= (async () => {
      for (const service of started.reverse()) {
        try {
          await service.stop();
        } catch (error) {
          log('stack', `stopping ${service.name} failed`, error);
        }
      }
      await gateway?.close();
      await adminPool?.end().catch(() => {});
      try {
        stopCluster(cluster);
      } catch (error) {
        log('stack', 'stopping PostgreSQL failed', error);
      }
      clearState(paths);
      log('stack', 'stopped');
    })();
    return stopping;
  };

  try {
    const created = ensureCluster(cluster);
    if (created) log('db', 'new database cluster created');
    if (!clusterRunning(paths.dataDir)) startCluster(cluster);
    await applyBootstrap(urls.adminDb, log);
    adminPool = new pg.Pool({ connectionString: urls.adminDb, max: 20 });
    adminPool.on('error', (error) => log('stack', 'idle database connection error', error));
    const ctx: StackContext = {
      projectRoot: options.projectRoot,
      paths,
      ports,
      keys,
      urls,
      config: loadProjectConfig(options.projectRoot),
      adminPool,
      log,
    };
    await applyApiPrivileges(adminPool, ctx.config.api.autoExposeNewTables, log);
    gateway = await startGateway(ctx, ports.api);
    for (const service of await createStackServices()) {
      await service.start(ctx);
      started.push(service);
      gateway.mount(service);
      log('stack', `${service.name} ready`);
    }
    if (options.afterDatabase) await options.afterDatabase(ctx);
    writeState(paths, {
      status: 'ready',
      pid: process.pid,
      projectRoot: options.projectRoot,
      startedAt: new Date().toISOString(),
      ports,
      urls,
      keys,
    });
    log('stack', `ready: API ${urls.api}, database 127.0.0.1:${ports.db}`);
    return { ctx, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Entry point of the detached supervisor: `node --import tsx local/src/daemon.ts <projectRoot>`. */
async function main(): Promise<void> {
  const projectRoot = process.argv[2];
  if (!projectRoot || !existsSync(projectRoot)) {
    console.error('usage: daemon.ts <projectRoot>');
    process.exit(2);
  }
  const log = createLogger();
  const { runMigrationsAndSeed } = await import('./migrations.ts');
  let running: RunningStack;
  try {
    running = await runStack({ projectRoot, log, afterDatabase: (ctx) => runMigrationsAndSeed(ctx) });
  } catch (error) {
    log('stack', 'failed to start', error);
    process.exit(1);
  }
  let signalled = false;
  const shutdown = (signal: string) => {
    if (signalled) return;
    signalled = true;
    log('stack', `${signal} received, stopping`);
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => shutdown('SIGHUP'));
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
