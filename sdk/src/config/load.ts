/** Loads `dispatch.config.ts` (through tsx, so TypeScript works without a build) and validates it. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ValidateOptions } from './checker.ts';
import { ConfigError } from './errors.ts';
import type { NormalizedConfig } from './model.ts';
import { validateConfig } from './schema.ts';

export const CONFIG_FILES = [
  'dispatch.config.ts',
  'dispatch.config.mts',
  'dispatch.config.js',
  'dispatch.config.mjs',
];

export class ConfigLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigLoadError';
  }
}

/** The config file in `cwd` (or the one given), or a clear error. */
export function findConfig(cwd: string, explicit?: string): string {
  if (explicit) {
    const file = path.resolve(cwd, explicit);
    if (!existsSync(file)) throw new ConfigLoadError(`config file not found: ${file}`);
    return file;
  }
  for (const name of CONFIG_FILES) {
    const file = path.join(cwd, name);
    if (existsSync(file)) return file;
  }
  throw new ConfigLoadError(
    `no dispatch.config.ts in ${cwd}\n  run \`npx supadispatch init\` to create one, or pass --config <file>`,
  );
}

/** Imports the config module and returns its default export (not yet validated). */
export async function importConfig(file: string): Promise<unknown> {
  let mod: Record<string, unknown>;
  try {
    const { tsImport } = await import('tsx/esm/api');
    mod = (await tsImport(`${pathToFileURL(file).href}?t=${Date.now()}`, import.meta.url)) as Record<
      string,
      unknown
    >;
  } catch (err) {
    const e = err as Error;
    throw new ConfigLoadError(`${file} failed to load: ${e?.stack ?? String(err)}`);
  }
  let value = mod.default;
  // tsx may wrap a CommonJS-compiled default export.
  if (value && typeof value === 'object' && 'default' in value && Object.keys(value).length === 1) {
    value = (value as { default: unknown }).default;
  }
  if (value === undefined) {
    throw new ConfigLoadError(
      `${file} has no default export; end it with \`export default defineDispatch({...})\``,
    );
  }
  return value;
}

export interface LoadedConfig {
  file: string;
  dir: string;
  raw: unknown;
  config: NormalizedConfig;
}

export async function loadConfig(
  cwd: string,
  explicit?: string,
  options?: ValidateOptions,
): Promise<LoadedConfig> {
  const file = findConfig(cwd, explicit);
  const raw = await importConfig(file);
  try {
    const config = validateConfig(raw, options);
    const missing = config.events
      .filter((e) => e.module && !existsSync(path.resolve(path.dirname(file), e.module)))
      .map((e) => ({
        path: ['events', e.id, 'module'],
        message: `file not found: ${path.resolve(path.dirname(file), e.module!)}`,
      }));
    if (missing.length) throw new ConfigError(missing);
    return { file, dir: path.dirname(file), raw, config };
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.issues, path.relative(cwd, file) || file);
    throw err;
  }
}
