import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Finds the Deno executable the npm package `deno` installed. That package ships a Node
 * wrapper (`bin.cjs`, which spawns the binary and would double every process and signal);
 * the real executable comes from its optional dependency for the platform
 * (`@deno/linux-x64-glibc`, ...), and its postinstall also links a copy beside `bin.cjs`.
 *
 * Order: `SUPADISPATCH_DENO_PATH`, the platform package, `node_modules/deno/deno`.
 */

/** npm package that carries the Deno binary for each platform/arch the `deno` package supports. */
export const denoPlatformPackages: Record<string, string> = {
  'linux-x64': '@deno/linux-x64-glibc',
  'linux-arm64': '@deno/linux-arm64-glibc',
  'darwin-x64': '@deno/darwin-x64',
  'darwin-arm64': '@deno/darwin-arm64',
  'win32-x64': '@deno/win32-x64',
  'win32-arm64': '@deno/win32-arm64',
};

export class DenoNotFoundError extends Error {
  constructor(readonly looked: string[]) {
    super(
      `Deno executable not found (Edge Functions need it). Looked in:\n${looked.map((p) => `  - ${p}`).join('\n')}\n` +
        'Install it with `npm install` at the repository root (devDependency `deno`, whose optional ' +
        `dependency ${denoPlatformPackages[`${process.platform}-${process.arch}`] ?? '@deno/<platform>'} ` +
        'carries the binary; do not install with --omit=optional), or set SUPADISPATCH_DENO_PATH to a deno executable.',
    );
    this.name = 'DenoNotFoundError';
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, process.platform === 'win32' ? constants.F_OK : constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface ResolveDenoOptions {
  env?: NodeJS.ProcessEnv;
  /** Directories to resolve node_modules from (each is walked upwards). Default: this file's folder. */
  searchFrom?: string[];
  platform?: string;
  arch?: string;
}

let cached: string | null = null;
const ownDir = dirname(fileURLToPath(import.meta.url));

/** Where the stack looks by default: the served project's node_modules, then the repository's. */
export function defaultDenoSearchPath(projectRoot?: string): string[] {
  return projectRoot ? [projectRoot, ownDir] : [ownDir];
}

/** The absolute path of the Deno executable; throws DenoNotFoundError listing every place looked. */
export function resolveDenoBinary(options: ResolveDenoOptions = {}): string {
  const env = options.env ?? process.env;
  const usesDefaults = !options.env && !options.searchFrom && !options.platform && !options.arch;
  if (usesDefaults && cached) return cached;
  const looked: string[] = [];
  const explicit = env.SUPADISPATCH_DENO_PATH;
  if (explicit) {
    if (isExecutable(explicit)) return explicit;
    throw new DenoNotFoundError([`SUPADISPATCH_DENO_PATH=${explicit} (missing or not executable)`]);
  }
  const platform = options.platform ?? process.platform;
  const arch = options.arch ?? process.arch;
  const exe = platform === 'win32' ? 'deno.exe' : 'deno';
  const pkg = denoPlatformPackages[`${platform}-${arch}`];
  const bases = options.searchFrom ?? [ownDir];
  const candidates: string[] = [];
  for (const base of bases) {
    const require = createRequire(join(base, 'noop.js'));
    for (const name of pkg ? [pkg, 'deno'] : ['deno']) {
      try {
        candidates.push(join(dirname(require.resolve(`${name}/package.json`)), exe));
      } catch {
        looked.push(`${name} (npm package not resolvable from ${base})`);
      }
    }
  }
  for (const candidate of new Set(candidates)) {
    if (existsSync(candidate) && isExecutable(candidate)) {
      if (usesDefaults) cached = candidate;
      return candidate;
    }
    looked.push(`${candidate} (missing or not executable)`);
  }
  if (!pkg) looked.push(`no @deno/* binary package exists for ${platform}-${arch}`);
  throw new DenoNotFoundError(looked);
}
