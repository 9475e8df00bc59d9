import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';

/**
 * The parts of `supabase/config.toml` the local stack honours. Everything else in the file
 * is accepted and ignored, as `supabase start` ignores settings for services it lacks.
 */
export interface ProjectConfig {
  projectId: string;
  api: { schemas: string[]; extraSearchPath: string[]; maxRows: number };
  auth: {
    siteUrl: string;
    additionalRedirectUrls: string[];
    jwtExpiry: number;
    enableSignup: boolean;
    enableAnonymousSignIns: boolean;
    enableConfirmations: boolean;
    minimumPasswordLength: number;
    enableRefreshTokenRotation: boolean;
    refreshTokenReuseInterval: number;
    sendEmailHook: { enabled: boolean; uri: string; secrets: string } | null;
  };
  functions: Record<string, { verifyJwt: boolean; entrypoint?: string; importMap?: string }>;
  seedPaths: string[];
}

type Table = Record<string, unknown>;
const table = (value: unknown): Table =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Table) : {};

/** Resolves `env(NAME)` the way the Supabase CLI does. */
export function resolveEnvRef(value: unknown, env: NodeJS.ProcessEnv = process.env): string {
  if (typeof value !== 'string') return '';
  const match = /^env\((\w+)\)$/.exec(value.trim());
  return match ? (env[match[1]] ?? '') : value;
}

export function loadProjectConfig(projectRoot: string): ProjectConfig {
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
  const email = table(auth.email);
  const hook = table(table(auth.hook).send_email);
  const seed = table(table(raw.db).seed);
  const functions: ProjectConfig['functions'] = {};
  for (const [name, value] of Object.entries(table(raw.functions))) {
    const fn = table(value);
    functions[name] = {
      verifyJwt: fn.verify_jwt !== false,
      entrypoint: typeof fn.entrypoint === 'string' ? fn.entrypoint : undefined,
      importMap: typeof fn.import_map === 'string' ? fn.import_map : undefined,
    };
  }
  const strings = (value: unknown, fallback: string[]): string[] =>
    Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : fallback;
  return {
    projectId: typeof raw.project_id === 'string' ? raw.project_id : 'local',
    api: {
      schemas: strings(api.schemas, ['public', 'graphql_public']),
      extraSearchPath: strings(api.extra_search_path, ['public', 'extensions']),
      maxRows: typeof api.max_rows === 'number' ? api.max_rows : 1000,
    },
    auth: {
      siteUrl: typeof auth.site_url === 'string' ? auth.site_url : 'http://127.0.0.1:3000',
      additionalRedirectUrls: strings(auth.additional_redirect_urls, []),
      jwtExpiry: typeof auth.jwt_expiry === 'number' ? auth.jwt_expiry : 3600,
      enableSignup: auth.enable_signup !== false,
      enableAnonymousSignIns: auth.enable_anonymous_sign_ins === true,
      enableConfirmations: email.enable_confirmations === true,
      minimumPasswordLength:
        typeof auth.minimum_password_length === 'number' ? auth.minimum_password_length : 6,
      enableRefreshTokenRotation: auth.enable_refresh_token_rotation !== false,
      refreshTokenReuseInterval:
        typeof auth.refresh_token_reuse_interval === 'number' ? auth.refresh_token_reuse_interval : 10,
      sendEmailHook:
        hook.enabled === true
          ? { enabled: true, uri: resolveEnvRef(hook.uri), secrets: resolveEnvRef(hook.secrets) }
          : null,
    },
    functions,
    seedPaths: strings(seed.sql_paths, ['./seed.sql']),
  };
}
