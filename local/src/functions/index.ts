import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { LocalService, StackContext } from '../context.ts';
import { verifyJwt } from '../jwt.ts';
import { bootError, errorBody, internalError } from './answers.ts';
import { defaultDenoSearchPath, resolveDenoBinary } from './deno-binary.ts';
import { configureWorkerVault } from './dispatch-worker.ts';
import { FunctionEnvironment } from './function-env.ts';
import { FunctionsFolder } from './function-files.ts';
import { FunctionProcessPool } from './process-pool.ts';
import { proxyToFunction } from './proxy.ts';
import type { FunctionProcess } from './runtime.ts';
import { watchFunctionsFolder } from './watch-files.ts';

export { DenoNotFoundError, resolveDenoBinary } from './deno-binary.ts';
export { parseEnvFile, readEnvFile } from './env-file.ts';
export { bootstrapPath, denoRunFlags } from './runtime.ts';

/**
 * Edge Functions served by real Deno, the way `supabase functions serve` / `supabase start`
 * serve them: `API_URL/functions/v1/<name>[/...]` reaches `supabase/functions/<name>/index.ts`.
 *
 * One Deno process per function, started on its first request (and again after it dies or
 * its files change); the bootstrap (bootstrap.js) makes the function's `Deno.serve` listen on
 * a free loopback port and this service proxies requests and responses to it, streaming.
 * JWT verification, error bodies and status codes follow the CLI's edge-runtime main worker
 * (supabase/cli internal/functions/serve/templates/main.ts).
 *
 * This file keeps the service's lifecycle and its request path (find the function, check the
 * JWT, get its process, proxy); the parts live beside it: function-files.ts (entrypoints, deno.json),
 * function-env.ts (environment and secrets), process-pool.ts (the Deno processes), watch-files.ts
 * (hot reload), proxy.ts (streaming to a process), answers.ts (the CLI's error bodies),
 * runtime.ts (one process), deno-binary.ts, env-file.ts.
 */
export interface FunctionsServiceOptions {
  /** Default `<projectRoot>/supabase/functions`. */
  functionsDir?: string;
  /** Secrets file (dotenv), like `supabase functions serve --env-file`. Default `<functionsDir>/.env`; null: none. */
  envFile?: string | null;
  /** Deno executable; default: resolved from node_modules (see deno-binary.ts). */
  denoPath?: string;
  /** DENO_DIR (Deno's module/compile cache). Default `$DENO_DIR`, else `<stateDir>/deno`. */
  denoDir?: string;
  /** Time for a function process to import its code and listen (default 30 s) → 503 BOOT_ERROR. */
  bootTimeoutMs?: number;
  /** Time for a function to answer with status and headers (default 150 s, Supabase's idle timeout) → 546. */
  requestTimeoutMs?: number;
  /** Time for a whole exchange, body included (default 400 s, Supabase's wall-clock limit). */
  wallClockLimitMs?: number;
  /** Restart a function's process when files under the functions folder change (default true). */
  watch?: boolean;
  /** Extra flags for `deno run`, e.g. ['--cached-only'] or ['--no-remote']. */
  extraDenoArgs?: string[];
}

export interface FunctionsService extends LocalService {
  /** Names of the functions found on disk (folders with an entrypoint, not starting with `_` or `.`). */
  listFunctions(): string[];
  /** Running Deno processes, by function name. */
  processes(): { name: string; pid: number | undefined; port: number | null }[];
}

const SERVICE = 'functions';
const PREFIX = '/functions/v1';

export function createFunctionsService(options: FunctionsServiceOptions = {}): FunctionsService {
  let ctx: StackContext | null = null;
  let folder: FunctionsFolder | null = null;
  /** Null while stopped: requests then get 503. */
  let pool: FunctionProcessPool | null = null;
  let watcher: { close(): void } | null = null;

  const log = (message: string, extra?: unknown) => ctx?.log(SERVICE, message, extra);
  const environment = new FunctionEnvironment({ envFile: options.envFile, denoDir: options.denoDir, log });
  const limits = {
    prefix: PREFIX,
    requestTimeoutMs: options.requestTimeoutMs ?? 150_000,
    wallClockLimitMs: options.wallClockLimitMs ?? 400_000,
    log,
  };

  /** `{msg}` 401s exactly as the CLI's main worker words them. */
  function checkJwt(req: IncomingMessage): string | null {
    const header = req.headers.authorization;
    if (!header) return 'Error: Missing authorization header';
    const [scheme, token] = header.split(' ');
    if (scheme !== 'Bearer') return "Error: Auth header is not 'Bearer {token}'";
    const result = verifyJwt(token ?? '', ctx!.keys.jwtSecret);
    if (!result.ok) {
      log(`JWT verification failed: ${result.message}`);
      return 'Invalid JWT';
    }
    return null;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    try {
      if (!ctx || !folder || !pool) {
        errorBody(res, 503, { code: 'SERVICE_UNAVAILABLE', message: 'Edge Functions are not running' });
        return;
      }
      const queryAt = path.indexOf('?');
      const pathname = queryAt === -1 ? path : path.slice(0, queryAt);
      const urlQueryAt = req.url?.indexOf('?') ?? -1;
      const search =
        queryAt !== -1 ? path.slice(queryAt) : urlQueryAt !== -1 ? req.url!.slice(urlQueryAt) : '';
      const name = decodeURIComponent(pathname.split('/')[1] ?? '');
      const entrypoint =
        name && !name.startsWith('_') && !name.startsWith('.') ? folder.entrypointOf(name) : null;
      if (!entrypoint) {
        errorBody(res, 404, 'Function not found');
        return;
      }
      // As `supabase functions deploy`. dispatch-worker is poked without a JWT: `supadispatch init`
      // writes `verify_jwt = false` under [functions.dispatch-worker]; no name is special here, so a
      // project that lacks it fails here as it would on hosted: verify_jwt from config.toml, true by default (for every name).
      const verify = ctx.config.functions[name]?.verifyJwt ?? true;
      if (verify && req.method !== 'OPTIONS') {
        const problem = checkJwt(req);
        if (problem) {
          errorBody(res, 401, { msg: problem });
          return;
        }
      }
      let proc: FunctionProcess;
      try {
        proc = await pool.processFor(name, entrypoint);
      } catch (error) {
        // The process's own output (the import error and its stack) is already in the log.
        log(`[${name}] worker failed to boot: ${(error as Error).message}`);
        errorBody(res, 503, bootError);
        return;
      }
      await proxyToFunction(req, res, name, `${pathname}${search}`, proc, limits);
    } catch (error) {
      log('request failed', error);
      errorBody(res, 500, internalError);
    }
  }

  return {
    name: SERVICE,
    async start(context: StackContext): Promise<void> {
      ctx = context;
      const functions = new FunctionsFolder(
        context,
        options.functionsDir ?? join(context.projectRoot, 'supabase', 'functions'),
      );
      folder = functions;
      const denoPath =
        options.denoPath ?? resolveDenoBinary({ searchFrom: defaultDenoSearchPath(context.projectRoot) });
      const processes = new FunctionProcessPool({
        denoPath,
        bootTimeoutMs: options.bootTimeoutMs ?? 30_000,
        denoArgs: (name, entrypoint) => [
          ...(options.extraDenoArgs ?? []),
          ...functions.denoConfigArgs(name, entrypoint),
        ],
        env: () => environment.build(context, functions.dir),
        log,
      });
      pool = processes;
      const names = functions.list();
      log(
        `serving ${names.length} function(s) from ${functions.dir} with ${denoPath}` +
          (names.length ? `: ${names.map((n) => `${context.urls.api}${PREFIX}/${n}`).join(', ')}` : ''),
      );
      await configureWorkerVault(context, environment.workerSecret(context, functions.dir)).catch((error) =>
        log(`Vault: could not store the worker's URL and secret (${(error as Error).message})`),
      );
      if (options.watch !== false) {
        watcher = watchFunctionsFolder(functions.dir, (changed) => processes.retire(changed), log);
      }
    },
    async stop(): Promise<void> {
      const stopping = pool;
      pool = null;
      watcher?.close();
      watcher = null;
      await stopping?.stop();
    },
    http: { prefix: PREFIX, handle },
    listFunctions: () => folder?.list() ?? [],
    processes: () => pool?.list() ?? [],
  };
}
