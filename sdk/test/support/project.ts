/** Temp Supabase project dirs for generator tests. */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandIo } from '../../src/cli/gen.ts';

export const testDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const sdkSrc = path.resolve(testDir, '../src');

/** A project with supabase/config.toml and the given config text (imports rewritten to the sdk source). */
export function makeProject(configText?: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sd-gen-test-'));
  mkdirSync(path.join(dir, 'supabase', 'migrations'), { recursive: true });
  writeFileSync(path.join(dir, 'supabase', 'config.toml'), 'project_id = "test"\n');
  const text = configText ?? readFileSync(path.join(testDir, 'fixtures', 'shop.config.ts'), 'utf8');
  writeFileSync(
    path.join(dir, 'dispatch.config.ts'),
    text.replace(
      /from '(?:\.\.\/\.\.\/src\/index\.ts|supadispatch)'/g,
      `from '${path.join(sdkSrc, 'index.ts')}'`,
    ),
  );
  mkdirSync(path.join(dir, 'events'), { recursive: true });
  cpSync(path.join(testDir, 'fixtures', 'welcome.ts'), path.join(dir, 'events', 'welcome.ts'));
  return dir;
}

export function captureIo(
  cwd: string,
  now = '2026-11-25T12:00:00Z',
): CommandIo & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    cwd,
    now: () => new Date(now),
    out: (s: string) => {
      io.stdout += s;
    },
    err: (s: string) => {
      io.stderr += s;
    },
  };
  return io;
}
