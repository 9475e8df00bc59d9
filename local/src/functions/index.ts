import { existsSync, type FSWatcher, readdirSync, statSync, watch } from 'node:fs';
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { LocalService, StackContext } from '../context.ts';
import { verifyJwt } from '../jwt.ts';
import { defaultDenoSearchPath, resolveDenoBinary } from './deno-binary.ts';
import { readEnvFile } from './env-file.ts';
import { BootError, FunctionProcess, functionErrorHeader } from './runtime.ts';

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
const entrypointNames = ['index.ts', 'index.js', 'index.tsx', 'index.jsx', 'index.mjs'];
const functionNamePattern = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
/** Variables of the stack's own environment a function may need (time zone, locale, proxies, CAs). */
const passThroughEnv = [
  'TZ',
  'LANG',
  'LC_ALL',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'SSL_CERT_FILE',
  'DENO_CERT',
  'DENO_TLS_CA_STORE',
];

function errorBody(
  res: ServerResponse,
  status: number,
  body: unknown,
  extraHeaders: Record<string, string> = {},
) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain;charset=UTF-8' : 'application/json',
    'content-length': Buffer.byteLength(text),
    ...extraHeaders,
  });
  res.end(text);
}

const bootError = { code: 'BOOT_ERROR', message: 'Worker failed to boot (please check logs)' };
const workerError = { code: 'WORKER_ERROR', message: 'Function exited due to an error (please check logs)' };
const workerLimit = {
  code: 'WORKER_LIMIT',
  message: 'Worker failed to respond due to a resource limit (please check logs)',
};
const internalError = {
  code: 'Internal Server Error',
  message: 'Request failed due to an internal server error',
};

export function createFunctionsService(options: FunctionsServiceOptions = {}): FunctionsService {
  let ctx: StackContext | null = null;
  let functionsDir = '';
  let denoPath = '';
  let watcher: FSWatcher | null = null;
  let stopping = false;
  const running = new Map<string, FunctionProcess>();
  /** Every Deno process alive, including ones still booting or being replaced. */
  const spawned = new Set<FunctionProcess>();
  const booting = new Map<string, Promise<FunctionProcess>>();
  const pendingReload = new Set<string>();
  const warnedSecrets = new Set<string>();
  let reloadTimer: NodeJS.Timeout | null = null;

  const bootTimeoutMs = options.bootTimeoutMs ?? 30_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 150_000;
  const wallClockLimitMs = options.wallClockLimitMs ?? 400_000;
  /** How long a replaced process may finish its in-flight requests after a file change. */
  const reloadGraceMs = 10_000;

  const log = (message: string, extra?: unknown) => ctx?.log(SERVICE, message, extra);
  const supabaseDir = () => join(ctx!.projectRoot, 'supabase');
  const fromSupabaseDir = (p: string) => (isAbsolute(p) ? p : resolve(supabaseDir(), p));

  function entrypointOf(name: string): string | null {
    if (!functionNamePattern.test(name)) return null;
    const custom = ctx!.config.functions[name]?.entrypoint;
    if (custom) {
      const path = fromSupabaseDir(custom);
      return existsSync(path) ? path : null;
    }
    for (const file of entrypointNames) {
      const path = join(functionsDir, name, file);
      if (existsSync(path)) return path;
    }
    return null;
  }

  function listFunctions(): string[] {
    if (!ctx || !existsSync(functionsDir)) return [];
    return readdirSync(functionsDir)
      .filter((entry) => !entry.startsWith('_') && !entry.startsWith('.'))
      .filter((entry) => {
        try {
          return statSync(join(functionsDir, entry)).isDirectory() && entrypointOf(entry) !== null;
        } catch {
          return false;
        }
      })
      .sort();
  }

  /**
   * Secrets, as the CLI gives them: `[edge_runtime.secrets]` of config.toml (with `env(NAME)`
   * references resolved), overridden by the env file. Names starting with SUPABASE_ are reserved.
   */
  function secrets(): Record<string, string> {
    const file = options.envFile === undefined ? join(functionsDir, '.env') : options.envFile;
    const values = { ...ctx!.config.edgeRuntime.secrets, ...(file ? readEnvFile(file) : {}) };
    for (const key of Object.keys(values)) {
      if (key.startsWith('SUPABASE_')) {
        if (!warnedSecrets.has(key)) {
          warnedSecrets.add(key);
          log(`secrets: skipping ${key} (names starting with SUPABASE_ are reserved)`);
        }
        delete values[key];
      }
    }
    return values;
  }

  function functionEnv(): Record<string, string> {
    const c = ctx!;
    const env: Record<string, string> = {};
    for (const key of passThroughEnv) {
      const value = process.env[key];
      if (value !== undefined) env[key] = value;
    }
    if (env.HTTP_PROXY || env.HTTPS_PROXY || env.http_proxy || env.https_proxy) {
      // SUPABASE_URL is on the loopback interface: never send it through a proxy.
      const noProxy = env.NO_PROXY ?? env.no_proxy ?? '';
      env.NO_PROXY = [noProxy, '127.0.0.1', 'localhost', '::1'].filter(Boolean).join(',');
    }
    Object.assign(env, secrets(), {
      SUPABASE_URL: c.urls.api,
      SUPABASE_ANON_KEY: c.keys.anonKey,
      SUPABASE_SERVICE_ROLE_KEY: c.keys.serviceRoleKey,
      SUPABASE_DB_URL: c.urls.db,
      DENO_DIR: options.denoDir ?? process.env.DENO_DIR ?? join(c.paths.stateDir, 'deno'),
      DENO_NO_UPDATE_CHECK: '1',
      NO_COLOR: '1',
    });
    return env;
  }

  /**
   * Which deno.json / import map applies, in the CLI's order: `import_map` of the function in
   * config.toml, then a deno.json(c) beside the entrypoint, then the legacy shared
   * `supabase/functions/import_map.json`. Deno's own discovery would start from bootstrap.js
   * (the main module), so each is passed explicitly.
   */
  function configArgs(name: string, entrypoint: string): string[] {
    const importMap = ctx!.config.functions[name]?.importMap;
    if (importMap) return [`--import-map=${fromSupabaseDir(importMap)}`];
    for (const file of ['deno.json', 'deno.jsonc']) {
      const path = join(dirname(entrypoint), file);
      if (existsSync(path)) return [`--config=${path}`];
    }
    const shared = join(functionsDir, 'import_map.json');
    if (existsSync(shared)) return [`--import-map=${shared}`];
    return [];
  }

  async function boot(name: string, entrypoint: string): Promise<FunctionProcess> {
    const extraArgs = [...(options.extraDenoArgs ?? []), ...configArgs(name, entrypoint)];
    const proc = new FunctionProcess({
      name,
      denoPath,
      entrypoint,
      cwd: dirname(entrypoint),
      env: functionEnv(),
      extraArgs,
      bootTimeoutMs,
      log: (text) => log(`[${name}] ${text}`),
    });
    spawned.add(proc);
    void proc.exited.then((code) => {
      spawned.delete(proc);
      if (running.get(name) === proc) running.delete(name);
      if (!stopping && !proc.stopRequested) log(`[${name}] deno process ${proc.pid} exited (${code})`);
    });
    try {
      const port = await proc.ready();
      log(`[${name}] serving from ${entrypoint} (deno pid ${proc.pid}, port ${port})`);
      return proc;
    } catch (error) {
      await proc.stop();
      throw error;
    }
  }

  function processFor(name: string, entrypoint: string): Promise<FunctionProcess> {
    const current = running.get(name);
    if (current?.alive && current.port !== null) return Promise.resolve(current);
    let pending = booting.get(name);
    if (!pending) {
      pending = boot(name, entrypoint).then(
        async (proc) => {
          booting.delete(name);
          if (stopping) {
            await proc.stop();
            throw new BootError('the functions service is stopping', '');
          }
          running.set(name, proc);
          return proc;
        },
        (error) => {
          booting.delete(name);
          throw error;
        },
      );
      booting.set(name, pending);
    }
    return pending;
  }

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

  function scheduleReload(name: string | null): void {
    pendingReload.add(name ?? '*');
    if (reloadTimer) clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => {
      reloadTimer = null;
      const all = pendingReload.has('*');
      const names = all ? [...running.keys()] : [...pendingReload].filter((n) => running.has(n));
      pendingReload.clear();
      for (const n of names) {
        const proc = running.get(n);
        if (!proc) continue;
        running.delete(n);
        log(`[${n}] files changed: restarting on next request`);
        void proc.retire(reloadGraceMs);
      }
    }, 150);
    reloadTimer.unref();
  }

  function startWatching(): void {
    if (options.watch === false || !existsSync(functionsDir)) return;
    try {
      watcher = watch(functionsDir, { recursive: true }, (_event, filename) => {
        if (!filename) return scheduleReload(null);
        const first = filename.toString().split(/[\\/]/)[0];
        const isFunctionDir = filename.toString().includes('/') || filename.toString().includes('\\');
        // A function's own folder restarts that function; shared code (_shared), .env,
        // deno.json or import maps at the top restart them all.
        scheduleReload(isFunctionDir && !first.startsWith('_') && !first.startsWith('.') ? first : null);
      });
      watcher.on('error', (error) => log('file watcher failed; hot reload is off', error));
      watcher.unref();
    } catch (error) {
      log('cannot watch functions folder; hot reload is off', error);
    }
  }

  async function proxy(
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    upstreamPath: string,
    proc: FunctionProcess,
  ): Promise<void> {
    const headers: OutgoingHttpHeaders = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined && !hopByHop.has(key)) headers[key] = value;
    }
    const remote = req.socket.remoteAddress ?? '127.0.0.1';
    const forwardedFor = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = forwardedFor ? `${forwardedFor}, ${remote}` : remote;
    headers['x-forwarded-proto'] ??= 'http';
    if (req.headers.host) headers['x-forwarded-host'] ??= req.headers.host;
    headers['x-forwarded-prefix'] ??= PREFIX;

    const untrack = proc.track();
    await new Promise<void>((done) => {
      let finished = false;
      const end = () => {
        if (finished) return;
        finished = true;
        untrack();
        clearTimeout(headerTimer);
        clearTimeout(wallTimer);
        done();
      };
      const upstream = http.request({
        host: '127.0.0.1',
        port: proc.port!,
        method: req.method,
        path: upstreamPath,
        headers,
        agent: proc.agent,
      });
      const headerTimer = setTimeout(() => {
        log(`[${name}] no response within ${requestTimeoutMs} ms`);
        upstream.destroy();
        errorBody(res, 546, workerLimit);
        end();
      }, requestTimeoutMs);
      const wallTimer = setTimeout(() => {
        log(`[${name}] request exceeded the wall-clock limit of ${wallClockLimitMs} ms`);
        upstream.destroy();
        errorBody(res, 546, workerLimit);
        end();
      }, wallClockLimitMs);
      headerTimer.unref();
      wallTimer.unref();

      upstream.on('response', (answer) => {
        clearTimeout(headerTimer);
        if (answer.headers[functionErrorHeader]) {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => {
            let stack = '';
            try {
              stack = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { stack?: string }).stack ?? '';
            } catch {
              stack = Buffer.concat(chunks).toString('utf8');
            }
            const error = new Error(`uncaught error in ${req.method} ${upstreamPath}`);
            error.stack = stack || error.message;
            log(`[${name}] function threw`, error);
            errorBody(res, 500, workerError);
            end();
          });
          answer.on('error', () => {
            errorBody(res, 500, workerError);
            end();
          });
          return;
        }
        const raw: string[] = [];
        for (let i = 0; i < answer.rawHeaders.length; i += 2) {
          if (!hopByHop.has(answer.rawHeaders[i].toLowerCase()))
            raw.push(answer.rawHeaders[i], answer.rawHeaders[i + 1]);
        }
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, raw);
        res.flushHeaders();
        answer.pipe(res);
        answer.on('end', end);
        answer.on('error', () => {
          res.destroy();
          end();
        });
      });
      upstream.on('error', (error) => {
        if (finished) return;
        log(
          `[${name}] request to the function failed: ${error.message}${proc.alive ? '' : ' (process died)'}`,
        );
        errorBody(res, 500, workerError);
        end();
      });
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
        end();
      });
      req.on('error', () => upstream.destroy());
      req.pipe(upstream);
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    try {
      if (!ctx || stopping) {
        errorBody(res, 503, { code: 'SERVICE_UNAVAILABLE', message: 'Edge Functions are not running' });
        return;
      }
      const queryAt = path.indexOf('?');
      const pathname = queryAt === -1 ? path : path.slice(0, queryAt);
      const urlQueryAt = req.url?.indexOf('?') ?? -1;
      const search =
        queryAt !== -1 ? path.slice(queryAt) : urlQueryAt !== -1 ? req.url!.slice(urlQueryAt) : '';
      const name = decodeURIComponent(pathname.split('/')[1] ?? '');
      const entrypoint = name && !name.startsWith('_') && !name.startsWith('.') ? entrypointOf(name) : null;
      if (!entrypoint) {
        errorBody(res, 404, 'Function not found');
        return;
      }
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
        proc = await processFor(name, entrypoint);
      } catch (error) {
        // The process's own output (the import error and its stack) is already in the log.
        log(`[${name}] worker failed to boot: ${(error as Error).message}`);
        errorBody(res, 503, bootError);
        return;
      }
      await proxy(req, res, name, `${pathname}${search}`, proc);
    } catch (error) {
      log('request failed', error);
      errorBody(res, 500, internalError);
    }
  }

  return {
    name: SERVICE,
    async start(context: StackContext): Promise<void> {
      ctx = context;
      stopping = false;
      functionsDir = options.functionsDir ?? join(context.projectRoot, 'supabase', 'functions');
      denoPath =
        options.denoPath ?? resolveDenoBinary({ searchFrom: defaultDenoSearchPath(context.projectRoot) });
      const names = listFunctions();
      log(
        `serving ${names.length} function(s) from ${functionsDir} with ${denoPath}` +
          (names.length ? `: ${names.map((n) => `${context.urls.api}${PREFIX}/${n}`).join(', ')}` : ''),
      );
      startWatching();
    },
    async stop(): Promise<void> {
      stopping = true;
      watcher?.close();
      watcher = null;
      if (reloadTimer) clearTimeout(reloadTimer);
      reloadTimer = null;
      await Promise.all([...spawned].map((proc) => proc.stop()));
      await Promise.allSettled([...booting.values()]);
      running.clear();
    },
    http: { prefix: PREFIX, handle },
    listFunctions,
    processes: () => [...running.entries()].map(([name, proc]) => ({ name, pid: proc.pid, port: proc.port })),
  };
}
