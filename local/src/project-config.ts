import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';

/**
 * The parts of `supabase/config.toml` the local stack honours. Everything else in the file
 * is accepted and ignored, as `supabase start` ignores settings for services it lacks.
 *
 * This is the only reader of config.toml: the stack parses it once at start and every service
 * reads its section from `StackContext.config` (tests override sections there).
 */
export interface ProjectConfig {
  projectId: string;
  api: {
    schemas: string[];
    extraSearchPath: string[];
    maxRows: number;
    /**
     * `[api] auto_expose_new_tables`, as the CLI reads it: unset or false, new tables, views and
     * sequences in `public` need explicit GRANTs (hosted's default since 2026-10-30); true, they are
     * granted to anon, authenticated and service_role by default (deprecated by the CLI).
     */
    autoExposeNewTables: boolean | null;
  };
  auth: {
    siteUrl: string;
    additionalRedirectUrls: string[];
    jwtExpiry: number;
    enableSignup: boolean;
    enableAnonymousSignIns: boolean;
    enableConfirmations: boolean;
    minimumPasswordLength: number;
    /** `[auth] password_requirements` as written ('' when unset); auth/settings.ts maps it to GoTrue's sets. */
    passwordRequirements: string;
    enableRefreshTokenRotation: boolean;
    refreshTokenReuseInterval: number;
    sendEmailHook: { enabled: boolean; uri: string; secrets: string } | null;
    /** `[auth.email]` beyond `enable_confirmations`. */
    email: {
      enabled: boolean;
      otpLength: number;
      otpExpirySeconds: number;
      maxFrequencySeconds: number;
      doubleConfirmChanges: boolean;
      /** `[auth.email.template.<name>]` keyed by config.toml's name (confirmation, magic_link, ...); paths as written. */
      templates: Record<string, { subject?: string; contentPath?: string }>;
    };
  };
  functions: Record<string, { verifyJwt: boolean; entrypoint?: string; importMap?: string }>;
  /** `[edge_runtime.secrets]`, with `env(NAME)` references resolved. */
  edgeRuntime: { secrets: Record<string, string> };
  seedPaths: string[];
}

type Table = Record<string, unknown>;
const table = (value: unknown): Table =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Table) : {};
const strings = (value: unknown, fallback: string[]): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : fallback;

/** Resolves `env(NAME)` the way the Supabase CLI does. */
export function resolveEnvRef(value: unknown, env: NodeJS.ProcessEnv = process.env): string {
  if (typeof value !== 'string') return '';
  const match = /^env\((\w+)\)$/.exec(value.trim());
  return match ? (env[match[1]] ?? '') : value;
}

/** Go's time.ParseDuration for the units config.toml uses (e.g. "1s", "1m30s", "500ms"). */
export function parseGoDuration(value: unknown, fallbackSeconds: number): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string' || value.trim() === '') return fallbackSeconds;
  const units: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  let total = 0;
  let rest = value.trim();
  while (rest.length > 0) {
    const match = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!match) return fallbackSeconds;
    total += Number(match[1]) * units[match[2]];
    rest = rest.slice(match[0].length);
  }
  return total;
}

export function loadProjectConfig(projectRoot: string, env: NodeJS.ProcessEnv = process.env): ProjectConfig {
  const path = join(projectRoot, 'supabase', 'config.toml');
  let raw: Table = {};
  if (existsSync(path)) {
    try {
      raw = parse(readFileSync(path, 'utf8')) as Table;
    } catch (error) {
      throw new Error(`${path}: ${(error as Error).message}`);
    }
  }
  const api = table(raw.api);
  const auth = table(raw.auth);
  const seed = table(table(raw.db).seed);
  return {
    projectId: typeof raw.project_id === 'string' ? raw.project_id : 'local',
    api: {
      schemas: strings(api.schemas, ['public', 'graphql_public']),
      extraSearchPath: strings(api.extra_search_path, ['public', 'extensions']),
      maxRows: typeof api.max_rows === 'number' ? api.max_rows : 1000,
      autoExposeNewTables:
        typeof api.auto_expose_new_tables === 'boolean' ? api.auto_expose_new_tables : null,
    },
    auth: authSection(auth, env),
    functions: functionsSection(table(raw.functions)),
    edgeRuntime: { secrets: edgeRuntimeSecrets(table(table(raw.edge_runtime).secrets), env) },
    seedPaths: strings(seed.sql_paths, ['./seed.sql']),
  };
}

function authSection(auth: Table, env: NodeJS.ProcessEnv): ProjectConfig['auth'] {
  const email = table(auth.email);
  const hook = table(table(auth.hook).send_email);
  const templates: ProjectConfig['auth']['email']['templates'] = {};
  for (const [name, value] of Object.entries(table(email.template))) {
    const entry = table(value);
    const template: { subject?: string; contentPath?: string } = {};
    if (typeof entry.subject === 'string') template.subject = entry.subject;
    if (typeof entry.content_path === 'string') template.contentPath = entry.content_path;
    templates[name] = template;
  }
  return {
    siteUrl: typeof auth.site_url === 'string' ? auth.site_url : 'http://127.0.0.1:3000',
    additionalRedirectUrls: strings(auth.additional_redirect_urls, []),
    jwtExpiry: typeof auth.jwt_expiry === 'number' ? auth.jwt_expiry : 3600,
    enableSignup: auth.enable_signup !== false,
    enableAnonymousSignIns: auth.enable_anonymous_sign_ins === true,
    enableConfirmations: email.enable_confirmations === true,
    minimumPasswordLength:
      typeof auth.minimum_password_length === 'number' ? auth.minimum_password_length : 6,
    passwordRequirements: typeof auth.password_requirements === 'string' ? auth.password_requirements : '',
    enableRefreshTokenRotation: auth.enable_refresh_token_rotation !== false,
    refreshTokenReuseInterval:
      typeof auth.refresh_token_reuse_interval === 'number' ? auth.refresh_token_reuse_interval : 10,
    sendEmailHook:
      hook.enabled === true
        ? { enabled: true, uri: resolveEnvRef(hook.uri, env), secrets: resolveEnvRef(hook.secrets, env) }
        : null,
    email: {
      enabled: email.enabled !== false,
      otpLength: typeof email.otp_length === 'number' ? email.otp_length : 6,
      otpExpirySeconds: typeof email.otp_expiry === 'number' ? email.otp_expiry : 3600,
      maxFrequencySeconds: parseGoDuration(email.max_frequency, 1),
      doubleConfirmChanges: email.double_confirm_changes !== false,
      templates,
    },
  };
}

function functionsSection(raw: Table): ProjectConfig['functions'] {
  const functions: ProjectConfig['functions'] = {};
  for (const [name, value] of Object.entries(raw)) {
    const fn = table(value);
    functions[name] = {
      verifyJwt: fn.verify_jwt !== false,
      entrypoint: typeof fn.entrypoint === 'string' ? fn.entrypoint : undefined,
      importMap: typeof fn.import_map === 'string' ? fn.import_map : undefined,
    };
  }
  return functions;
}

/** Strings as written (`env(NAME)` resolved); numbers and booleans as text, like the CLI's env values. */
function edgeRuntimeSecrets(raw: Table, env: NodeJS.ProcessEnv): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value === 'string') secrets[key] = resolveEnvRef(value, env);
    else if (typeof value === 'number' || typeof value === 'boolean') secrets[key] = String(value);
  }
  return secrets;
}
