import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { StackContext } from '../context.ts';

const entrypointNames = ['index.ts', 'index.js', 'index.tsx', 'index.jsx', 'index.mjs'];
const functionNamePattern = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/**
 * The functions folder as the CLI reads it: which functions exist, where each one's entrypoint
 * is (`[functions.<name>] entrypoint` of config.toml, else `<name>/index.*`), and which deno.json
 * or import map applies to it. Paths in config.toml are relative to `supabase/`.
 */
export class FunctionsFolder {
  constructor(
    private readonly ctx: StackContext,
    readonly dir: string,
  ) {}

  private fromSupabaseDir(path: string): string {
    return isAbsolute(path) ? path : resolve(join(this.ctx.projectRoot, 'supabase'), path);
  }

  /** The entrypoint of function `name`, or null when there is no such function. */
  entrypointOf(name: string): string | null {
    if (!functionNamePattern.test(name)) return null;
    const custom = this.ctx.config.functions[name]?.entrypoint;
    if (custom) {
      const path = this.fromSupabaseDir(custom);
      return existsSync(path) ? path : null;
    }
    for (const file of entrypointNames) {
      const path = join(this.dir, name, file);
      if (existsSync(path)) return path;
    }
    return null;
  }

  /** Folders with an entrypoint, not starting with `_` (shared code) or `.`, sorted. */
  list(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((entry) => !entry.startsWith('_') && !entry.startsWith('.'))
      .filter((entry) => {
        try {
          return statSync(join(this.dir, entry)).isDirectory() && this.entrypointOf(entry) !== null;
        } catch {
          return false;
        }
      })
      .sort();
  }

  /**
   * Which deno.json / import map applies, in the CLI's order: `import_map` of the function in
   * config.toml, then a deno.json(c) beside the entrypoint, then the legacy shared
   * `supabase/functions/import_map.json`. Deno's own discovery would start from bootstrap.js
   * (the main module), so each is passed explicitly.
   */
  denoConfigArgs(name: string, entrypoint: string): string[] {
    const importMap = this.ctx.config.functions[name]?.importMap;
    if (importMap) return [`--import-map=${this.fromSupabaseDir(importMap)}`];
    for (const file of ['deno.json', 'deno.jsonc']) {
      const path = join(dirname(entrypoint), file);
      if (existsSync(path)) return [`--config=${path}`];
    }
    const shared = join(this.dir, 'import_map.json');
    if (existsSync(shared)) return [`--import-map=${shared}`];
    return [];
  }
}
