/**
 * A stack for the worker benches, the way edge-functions/test/worker-stack.test.ts builds one: a
 * database of its own (bootstrap + SQL core + the bench's SQL), the stack's Edge Functions service
 * (real Deno) serving the REAL dispatch-worker from a temp project, a webhook sink of its own, and
 * whatever other services the bench asks for (pg_net's sender, Realtime). The worker is init's
 * entrypoint with nothing injected: the library's transports (webhook signed as Standard Webhooks
 * say), templates and SSRF-guarded fetch, configured by the functions' environment the stack makes
 * (DISPATCH_WEBHOOK_SECRET, DISPATCH_ALLOWED_HOSTS naming the sink).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import type { LocalService } from '../../local/src/context.ts';
import { createBootstrappedDatabase, dropDatabase } from '../../local/src/db/fresh-database.ts';
import { createFunctionsService, type FunctionsService } from '../../local/src/functions/index.ts';
import { repoRoot } from '../../local/src/paths.ts';
import { createWebhookSink, type WebhookSink } from '../../local/src/webhook-sink/index.ts';
import { startTestStack, type TestStack } from '../../local/test/support/test-stack.ts';
import { buildCore } from '../../sql/build.ts';

export interface WorkerBenchStack {
  stack: TestStack;
  functions: FunctionsService;
  sink: WebhookSink;
  /** The bench database as `postgres` and as the superuser. */
  dbUrl: string;
  adminDbUrl: string;
  /** POSTs to dispatch-worker with the shared secret, as pg_net does. */
  callWorker(body: unknown): Promise<Response>;
  stop(): Promise<void>;
}

export interface WorkerBenchOptions {
  /** The generated registry the worker gets (events by id). */
  registry: unknown;
  /** SQL run after the core (events, expanders, tables). */
  sql: string;
  /** Services besides the functions (createNetSender(), createRealtimeService()). */
  services?: LocalService[];
  /** Extra `serve()` options written into the entrypoint, as source (e.g. `budgetMs: 120000`). */
  serveOptions?: string;
  /** Connections of the worker's pool (default: the worker's own default). */
  workerPool?: number;
  /** Requests the sink keeps (default 1000). */
  sinkRequests?: number;
}

export async function startWorkerBench(options: WorkerBenchOptions): Promise<WorkerBenchStack> {
  const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;
  if (!adminUrl) throw new Error('needs SUPABASE_ADMIN_DB_URL (a local stack or dev-db superuser URL)');
  const tag = `${process.pid}_${Date.now().toString(36)}`;
  const dbName = `sd_bench_${tag}`;
  const projectRoot = join(repoRoot, '.supadispatch', `bench-worker-${tag}`);
  const urls = await createBootstrappedDatabase(adminUrl, dbName, () => {});
  const install = new pg.Client({ connectionString: urls.adminDbUrl });
  await install.connect();
  try {
    await install.query('begin');
    await install.query(buildCore());
    await install.query('commit');
    await install.query(options.sql);
  } finally {
    await install.end();
  }

  const fnDir = join(projectRoot, 'supabase', 'functions', 'dispatch-worker');
  mkdirSync(fnDir, { recursive: true });
  writeFileSync(
    join(projectRoot, 'supabase', 'config.toml'),
    'project_id = "worker-bench"\n\n[functions.dispatch-worker]\nverify_jwt = false\n',
  );
  const src = (path: string) =>
    JSON.stringify(pathToFileURL(join(repoRoot, 'edge-functions', 'src', path)).href);
  const pool = options.workerPool
    ? `db: connectWorkerDb(Deno.env.get('SUPABASE_DB_URL') ?? '', { max: ${options.workerPool} }), `
    : '';
  writeFileSync(
    join(fnDir, 'index.ts'),
    [
      `import { serve } from ${src('worker.ts')};`,
      `import { connectWorkerDb } from ${src('delivery/db.ts')};`,
      `const registry = ${JSON.stringify(options.registry)};`,
      `Deno.serve(serve(registry, { ${pool}${options.serveOptions ?? ''} }));`,
      '',
    ].join('\n'),
  );

  const saved = { admin: process.env.SUPABASE_ADMIN_DB_URL, db: process.env.SUPABASE_DB_URL };
  process.env.SUPABASE_ADMIN_DB_URL = urls.adminDbUrl;
  process.env.SUPABASE_DB_URL = urls.dbUrl;
  const functions = createFunctionsService({
    denoDir: join(repoRoot, '.supadispatch', 'test-deno-dir'),
    envFile: null,
    watch: false,
  });
  let stack: TestStack;
  try {
    stack = await startTestStack({ projectRoot, services: [...(options.services ?? []), functions] });
  } finally {
    process.env.SUPABASE_ADMIN_DB_URL = saved.admin;
    process.env.SUPABASE_DB_URL = saved.db;
  }
  const sink = createWebhookSink({ maxRequests: options.sinkRequests ?? 1000 });
  await sink.start({ ...stack.ctx, ports: { ...stack.ctx.ports, webhookSink: 0 } });
  // the functions' environment (allowed hosts) is made when the worker's process boots: after this
  stack.ctx.urls.webhookSink = sink.url;

  const callWorker = (body: unknown) =>
    fetch(`${stack.ctx.urls.functions}/dispatch-worker`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-dispatch-secret': stack.keys.workerSecret ?? '' },
      body: JSON.stringify(body),
    });
  // boot the worker's process now, so no measurement includes Deno starting
  const probe = await callWorker({ probe: true });
  if (probe.status !== 200) throw new Error(`worker probe: ${probe.status} ${await probe.text()}`);

  return {
    stack,
    functions,
    sink,
    dbUrl: urls.dbUrl,
    adminDbUrl: urls.adminDbUrl,
    callWorker,
    async stop() {
      await stack.stop();
      await sink.stop();
      await dropDatabase(adminUrl, dbName).catch(() => {});
      rmSync(projectRoot, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
