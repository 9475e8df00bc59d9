/**
 * `dispatch-worker`: called by pg_net and pg_cron with the shared secret in `x-dispatch-secret`
 * (Vault `dispatch_worker_secret` on the database side, `DISPATCH_WORKER_SECRET` here). Deploy it
 * with `--no-verify-jwt`: pg_net sends no JWT. Anything without the secret gets 401 and does nothing;
 * `{"probe":true}` answers 200 and does no work (it names the function secrets that are missing).
 *
 * A poke starts a run (worker/loop.ts) in the background and answers 202 at once, so pg_net never
 * waits (EdgeRuntime.waitUntil keeps the isolate alive for the run). A poke while a run of this
 * isolate still claims joins it (the run polls at once) instead of starting a second one.
 * `{"wait":true}` answers when the run ends, with its summary (for people and tests).
 *
 * A run that ends while a receipt comes due soon waits for it or hands over to a new run by POSTing
 * `{"reason":"handover","alarm":<chain>}` to this function's own URL with the secret (worker/alarm.ts);
 * the run that takes it continues the chain, so that at most one chain exists at a time.
 */
import { connectWorkerDb, type WorkerDb } from './delivery/db.ts';
import { FUNCTION_ENV, type GuardedFetch, type PrepareContent, type Transport } from './delivery/types.ts';
import { json, problem, readJsonBody } from './http.ts';
import type { Registry } from './registry.ts';
import { secretsEqual } from './secret.ts';
import { loadWorkerDefaults, type WorkerDefaults } from './worker/defaults.ts';
import { missingEnv } from './worker/environment.ts';
import {
  type ExpandModuleOccurrences,
  startWorkerRun,
  type WorkerRun,
  type WorkerRunOptions,
  type WorkerRunSummary,
} from './worker/loop.ts';

export type { ExpandModuleOccurrences, WorkerRunSummary } from './worker/loop.ts';

export interface WorkerOptions
  extends Partial<Omit<WorkerRunOptions, 'workerName' | 'signal' | 'now' | 'random' | 'alarm'>> {
  /** The shared secret; default: the `DISPATCH_WORKER_SECRET` environment variable. */
  secret?: string;
  /** Default: `../transports/index.ts` of the library. */
  transports?: Record<string, Transport>;
  /** Default: `../templates/prepare.ts` of the library. */
  prepareContent?: PrepareContent;
  /** Default: `../modules/expand.ts` of the library (no-op without it). */
  expandModuleOccurrences?: ExpandModuleOccurrences;
  /** Default: the SSRF-guarded fetch of `../delivery/fetch.ts`. */
  fetch?: GuardedFetch;
  /** Default: a pool on `SUPABASE_DB_URL`, made on the first run. */
  db?: WorkerDb;
  /** Function secrets by name (default: the environment). */
  env?(name: string): string | undefined;
  log?(message: string, detail?: unknown): void;
  /**
   * This function's URL, for hand-overs (default: Vault `dispatch_worker_url`, the address pg_net
   * pokes, read by the database when a run hands over).
   */
  selfUrl?: string;
}

interface EdgeRuntimeGlobal {
  waitUntil?(promise: Promise<unknown>): void;
}

/** This isolate, in worker names (`dispatch.attempts.worker`): `dispatch-worker:<isolate>:<run>`. */
const isolateId = crypto.randomUUID().slice(0, 8);

export function serve(registry: Registry, options: WorkerOptions = {}): (req: Request) => Promise<Response> {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  let deps: Promise<WorkerDefaults> | null = null;
  let db: WorkerDb | null = options.db ?? null;
  let active: WorkerRun | null = null;
  let runs = 0;
  // The Edge runtime says 'beforeunload' before it ends the isolate (wall-clock, CPU or memory limit):
  // the run then stops claiming and hands what is due over to a new run.
  const unloading = new AbortController();
  globalThis.addEventListener?.('beforeunload', () => unloading.abort());
  const workerSecret = () => options.secret ?? env(FUNCTION_ENV.workerSecret) ?? '';

  /** A new run for the chain `alarm`, as pg_net would start one: a POST with the secret, answered 202. */
  async function handOver(url: string | null, alarm: string): Promise<boolean> {
    const target = options.selfUrl ?? url;
    if (!target) {
      console.error('[dispatch-worker] cannot hand over: Vault dispatch_worker_url is not set');
      return false;
    }
    const res = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-dispatch-secret': workerSecret() },
      body: JSON.stringify({ reason: 'handover', alarm }),
      signal: AbortSignal.timeout(10_000),
    });
    await res.body?.cancel();
    return res.status === 202;
  }

  function database(): WorkerDb {
    if (db) return db;
    const url = env(FUNCTION_ENV.dbUrl) ?? '';
    if (url === '')
      throw new Error(`${FUNCTION_ENV.dbUrl} is not set (hosted Supabase sets it for every function)`);
    db = connectWorkerDb(url);
    return db;
  }

  async function begin(alarm?: string): Promise<WorkerRun> {
    deps ??= loadWorkerDefaults(options);
    deps.catch(() => {
      deps = null; // tried again on the next poke
    });
    const loaded = await deps;
    const run = startWorkerRun(
      {
        db: database(),
        registry,
        transports: loaded.transports,
        prepareContent: loaded.prepareContent,
        expandModuleOccurrences: loaded.expandModuleOccurrences,
        fetch: loaded.fetch,
        secret: env,
        log: options.log,
        handOver,
      },
      {
        ...options,
        workerName: `dispatch-worker:${isolateId}:${++runs}`,
        signal: unloading.signal,
        alarm,
      },
    );
    active = run;
    run.done
      .catch((error) => console.error(`[dispatch-worker] run failed: ${(error as Error).message}`))
      .finally(() => {
        if (active === run) active = null;
      });
    return run;
  }

  return async (req) => {
    const secret = workerSecret();
    if (secret === '') {
      return problem(
        500,
        'worker_secret_missing',
        'DISPATCH_WORKER_SECRET is not set: `supabase secrets set DISPATCH_WORKER_SECRET=<the Vault secret dispatch_worker_secret>`',
      );
    }
    if (!secretsEqual(req.headers.get('x-dispatch-secret') ?? '', secret)) {
      return problem(401, 'unauthorized', 'header x-dispatch-secret: missing or wrong');
    }
    if (req.method !== 'POST') return problem(405, 'method_not_allowed', `method ${req.method}: use POST`);
    const read = await readJsonBody(req);
    if ('response' in read) return read.response;
    const body = (read.body ?? {}) as { probe?: unknown; wait?: unknown; alarm?: unknown };
    if (typeof body === 'object' && body.probe === true) {
      // names only: doctor says which `supabase secrets set` is missing
      const missing = missingEnv(registry, env);
      return json(200, {
        probe: true,
        events: Object.keys(registry.events).length,
        ...(missing.length > 0 ? { missingEnv: missing } : {}),
      });
    }
    // the runtime is ending this isolate: a run here would stop at once and hand over again, so the
    // caller (a hand-over, pg_net) is told to go elsewhere (a hand-over then releases its alarm)
    if (unloading.signal.aborted)
      return problem(503, 'worker_unloading', 'this worker instance is shutting down');
    const wait = typeof body === 'object' && body.wait === true;
    // a hand-over names the chain it continues (worker/alarm.ts)
    const alarm =
      typeof body === 'object' && typeof body.alarm === 'string' && body.alarm.length <= 200
        ? body.alarm
        : undefined;
    if (!wait && active?.wake(alarm)) return json(202, { worker: active.workerName, joined: true });
    let run: WorkerRun;
    try {
      run = await begin(alarm);
    } catch (error) {
      return problem(500, 'worker_unavailable', (error as Error).message);
    }
    if (wait) {
      try {
        const summary: WorkerRunSummary = await run.done;
        return json(200, summary);
      } catch (error) {
        return problem(500, 'worker_run_failed', (error as Error).message);
      }
    }
    const edge = (globalThis as { EdgeRuntime?: EdgeRuntimeGlobal }).EdgeRuntime;
    edge?.waitUntil?.(run.done.catch(() => {}));
    return json(202, { worker: run.workerName, joined: false });
  };
}
