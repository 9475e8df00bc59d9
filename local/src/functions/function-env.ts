import { join } from 'node:path';
import type { StackContext } from '../context.ts';
import { DISPATCH_WORKER_SECRET, dispatchFunctionDefaults } from './dispatch-worker.ts';
import { readEnvFile } from './env-file.ts';

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

/**
 * The complete environment of a function process (nothing else of the stack's leaks in), made
 * again at each boot so an edited env file counts: pass-through variables, supadispatch's defaults
 * (dispatch-worker.ts: worker secret, mail catcher, webhook signing secret, allowed hosts), the
 * project's secrets (which override them), then the SUPABASE_* variables the CLI gives every function.
 */
export class FunctionEnvironment {
  private readonly warnedSecrets = new Set<string>();

  constructor(
    private readonly options: {
      /** Secrets file (dotenv); undefined: `<functionsDir>/.env`; null: none. */
      envFile?: string | null;
      denoDir?: string;
      log: (message: string) => void;
    },
  ) {}

  build(ctx: StackContext, functionsDir: string): Record<string, string> {
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
    Object.assign(env, dispatchFunctionDefaults(ctx, functionsDir), this.secrets(ctx, functionsDir), {
      SUPABASE_URL: ctx.urls.api,
      SUPABASE_ANON_KEY: ctx.keys.anonKey,
      SUPABASE_SERVICE_ROLE_KEY: ctx.keys.serviceRoleKey,
      SUPABASE_DB_URL: ctx.urls.db,
      DENO_DIR: this.options.denoDir ?? process.env.DENO_DIR ?? join(ctx.paths.stateDir, 'deno'),
      DENO_NO_UPDATE_CHECK: '1',
      NO_COLOR: '1',
    });
    return env;
  }

  /**
   * The pg_net → dispatch-worker secret: the project's own `DISPATCH_WORKER_SECRET` (env file or
   * config.toml) when it sets one, else the stack's. Vault gets the same value (configureWorkerVault).
   */
  workerSecret(ctx: StackContext, functionsDir: string): string | undefined {
    return this.secrets(ctx, functionsDir)[DISPATCH_WORKER_SECRET] || ctx.keys.workerSecret;
  }

  /**
   * Secrets, as the CLI gives them: `[edge_runtime.secrets]` of config.toml (with `env(NAME)`
   * references resolved), overridden by the env file. Names starting with SUPABASE_ are reserved.
   */
  private secrets(ctx: StackContext, functionsDir: string): Record<string, string> {
    const file = this.options.envFile === undefined ? join(functionsDir, '.env') : this.options.envFile;
    const values = { ...ctx.config.edgeRuntime.secrets, ...(file ? readEnvFile(file) : {}) };
    for (const key of Object.keys(values)) {
      if (key.startsWith('SUPABASE_')) {
        if (!this.warnedSecrets.has(key)) {
          this.warnedSecrets.add(key);
          this.options.log(`secrets: skipping ${key} (names starting with SUPABASE_ are reserved)`);
        }
        delete values[key];
      }
    }
    return values;
  }
}
