/**
 * `supadispatch gen`: config → (a) typed client SDK, (b) Edge Functions registry, (c) a migration
 * when the SQL differs from what earlier migrations installed (tracked by the lock file). The SQL is
 * a set of objects with a key each (`audiences`, `event:<id>`, `counter:<name>`, `source:<table>`:
 * the capture triggers and after-commit processor of a table, regenerated with its events/counters).
 * (d) the Edge Functions library, copied into `supabase/functions/_shared/supadispatch/` beside the
 * registry's folder (docs/decisions.md: why a copy and not an `npm:` import).
 * Pure planning (`plan`) is separate from writing (`writePlan`), so `--check` shares the code.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readFunctionsLibrary } from '../assets.ts';
import type { NormalizedConfig } from '../config/model.ts';
import { generateClient } from './client.ts';
import { LIBRARY_HEADER, SQL_HEADER } from './header.ts';
import { generateRegistry } from './registry.ts';
import { type CoreSql, loadCore, sha256 } from './sql/core.ts';
import { counterObject } from './sql/counter.ts';
import { eventObject, type SqlObject } from './sql/event.ts';
import { membershipObject } from './sql/membership.ts';
import { sourceObjects } from './sql/source.ts';
import { stableJson } from './sql/util.ts';

export const LOCK_VERSION = 1;

export interface LockEntry {
  hash: string;
  migration: string;
  drop: string;
}

export interface LockFile {
  lockVersion: number;
  core: { version: string; hash: string; migration: string } | null;
  objects: Record<string, LockEntry>;
}

export interface GenOptions {
  /** Project root (where supabase/ lives); paths in the config's output are relative to it. */
  root: string;
  /** Directory of dispatch.config.ts (event modules are relative to it). */
  configDir: string;
  /** Clock for new migration names (tests inject one). */
  now?: () => Date;
  /** Core SQL (default: built from sql/). */
  core?: CoreSql;
}

export interface PlannedFile {
  /** Path relative to the root, forward slashes. */
  path: string;
  content: string;
}

export interface Plan {
  files: PlannedFile[];
  /** Why a new migration is written (empty when none). */
  changes: string[];
  migration: PlannedFile | null;
  lock: LockFile;
  /** Files in the library folder that this version no longer has: `gen` deletes them, `check` names them. */
  obsolete: string[];
}

/** All SQL objects of a config, sorted by key. */
export function sqlObjects(config: NormalizedConfig): SqlObject[] {
  return [
    membershipObject(config),
    ...config.events.map((e) => eventObject(e, config)),
    ...config.counters.map((k) => counterObject(k)),
    ...sourceObjects(config),
  ].sort((a, b) => a.key.localeCompare(b.key));
}

export function readLock(file: string): LockFile | null {
  if (!existsSync(file)) return null;
  const lock = JSON.parse(readFileSync(file, 'utf8')) as LockFile;
  if (lock.lockVersion !== LOCK_VERSION)
    throw new Error(`${file}: unsupported lock version ${lock.lockVersion}`);
  return lock;
}

function timestamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** A migration version later than every existing one (Supabase applies them in order). */
function nextVersion(existing: string[], now: Date): string {
  let ts = timestamp(now);
  const latest = existing
    .map((f) => /^(\d+)_/.exec(f)?.[1])
    .filter((v): v is string => !!v)
    .sort((a, b) => (a.length === b.length ? a.localeCompare(b) : a.length - b.length))
    .pop();
  if (latest && BigInt(latest) >= BigInt(ts)) ts = String(BigInt(latest) + 1n);
  return ts;
}

export async function plan(config: NormalizedConfig, opts: GenOptions): Promise<Plan> {
  const core = opts.core ?? (await loadCore());
  const out = config.output;
  const abs = (p: string) => path.resolve(opts.root, p);
  const rel = (p: string) => path.relative(opts.root, abs(p)).split(path.sep).join('/');
  const files: PlannedFile[] = [
    { path: rel(out.sdk), content: generateClient(config) },
    { path: rel(out.registry), content: generateRegistry(config, opts.configDir, abs(out.registry)) },
  ];

  const migrationsDir = abs(out.migrations);
  const existing = existsSync(migrationsDir)
    ? readdirSync(migrationsDir)
        .filter((f) => f.endsWith('.sql'))
        .sort()
    : [];
  const prev = readLock(abs(out.lock)) ?? { lockVersion: LOCK_VERSION, core: null, objects: {} };
  const changes: string[] = [];

  // Core: installed by an earlier migration of ours, or present verbatim (e.g. the demo's core migration).
  let core_ = prev.core;
  let includeCore = false;
  if (core_ && !existing.includes(core_.migration)) core_ = null; // its migration was deleted
  if (!core_ || core_.hash !== core.hash) {
    const verbatim = existing.find(
      (f) => sha256(readFileSync(path.join(migrationsDir, f), 'utf8')) === core.hash,
    );
    if (verbatim) core_ = { version: core.version, hash: core.hash, migration: verbatim };
    else {
      includeCore = true;
      changes.push(
        prev.core ? `core ${prev.core.version} → ${core.version}` : `core ${core.version} not installed`,
      );
    }
  }

  const objects = sqlObjects(config);
  const desired = new Map(objects.map((o) => [o.key, o]));
  const changed: SqlObject[] = [];
  for (const o of objects) {
    const entry = prev.objects[o.key];
    const h = sha256(o.install);
    if (!entry || !existing.includes(entry.migration)) {
      changed.push(o);
      changes.push(entry ? `${o.key} (its migration ${entry.migration} is missing)` : `${o.key} added`);
    } else if (entry.hash !== h) {
      changed.push(o);
      changes.push(`${o.key} changed`);
    } else if (includeCore && o.key === 'audiences') changed.push(o); // the core resets the audience hooks
  }
  const removed = Object.keys(prev.objects)
    .filter((k) => !desired.has(k))
    .sort();
  for (const k of removed) changes.push(`${k} removed`);

  const lock: LockFile = { lockVersion: LOCK_VERSION, core: core_, objects: {} };
  let migration: PlannedFile | null = null;
  if (changes.length > 0) {
    const name = `${nextVersion(existing, (opts.now ?? (() => new Date()))())}_supadispatch.sql`;
    const parts = [SQL_HEADER, `-- Changes: ${changes.join('; ')}.`, ''];
    if (includeCore) parts.push(`-- ==== supadispatch core ${core.version} ====`, core.sql.trimEnd(), '');
    if (removed.length) {
      parts.push('-- ==== removed ====');
      for (const k of removed) if (prev.objects[k].drop) parts.push(prev.objects[k].drop, '');
    }
    for (const o of changed) parts.push(`-- ==== ${o.key} ====`, o.install, '');
    migration = { path: `${rel(out.migrations)}/${name}`, content: `${parts.join('\n').trimEnd()}\n` };
    if (includeCore) lock.core = { version: core.version, hash: core.hash, migration: name };
    for (const o of objects) {
      const isNew = changed.includes(o) || !prev.objects[o.key];
      lock.objects[o.key] = {
        hash: sha256(o.install),
        migration: isNew ? name : prev.objects[o.key].migration,
        drop: o.drop,
      };
    }
  } else {
    for (const o of objects) lock.objects[o.key] = prev.objects[o.key];
  }
  files.push({ path: rel(out.lock), content: `${stableJson(lock, 2)}\n` });
  const libraryDir = `${rel(path.join(path.dirname(path.dirname(abs(out.registry))), '_shared'))}/${LIBRARY_DIR}`;
  const library = functionsLibrary(libraryDir);
  files.push(...library);
  const obsolete = filesUnder(abs(libraryDir))
    .map((f) => `${libraryDir}/${f}`)
    .filter((f) => !library.some((l) => l.path === f));
  return { files, changes, migration, lock, obsolete };
}

/** Folder of the Edge Functions library inside the functions' `_shared` folder. */
export const LIBRARY_DIR = 'supadispatch';

/** The library's files under `libraryDir`, each with the generated-file header. */
export function functionsLibrary(libraryDir: string): PlannedFile[] {
  return readFunctionsLibrary().map((f) => ({
    path: `${libraryDir}/${f.name}`,
    content: `${LIBRARY_HEADER}\n${f.content}`,
  }));
}

/** Files below `dir` (relative, forward slashes); none when it does not exist. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** Writes the plan; returns the paths written (files whose content changed, plus the migration). */
export function writePlan(p: Plan, root: string): string[] {
  const written: string[] = [];
  for (const f of [...p.files, ...(p.migration ? [p.migration] : [])]) {
    const file = path.resolve(root, f.path);
    if (existsSync(file) && readFileSync(file, 'utf8') === f.content) continue;
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, f.content);
    written.push(f.path);
  }
  for (const f of p.obsolete) {
    rmSync(path.resolve(root, f));
    written.push(`${f} (deleted: no longer part of the library)`);
  }
  return written;
}

/** Stale outputs: files whose content differs, and a migration that would be written. */
export function staleFiles(p: Plan, root: string): string[] {
  const stale: string[] = [];
  for (const f of p.files) {
    const file = path.resolve(root, f.path);
    if (!existsSync(file) || readFileSync(file, 'utf8') !== f.content) stale.push(f.path);
  }
  for (const f of p.obsolete) stale.push(`${f} (no longer part of the library: gen deletes it)`);
  if (p.migration) stale.push(`${p.migration.path} (new migration needed: ${p.changes.join('; ')})`);
  return stale;
}
