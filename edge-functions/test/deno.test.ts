/**
 * The Edge Functions library under real Deno: `deno check` of every module (as `supabase functions
 * deploy` type-checks them) and the library's Deno tests (`*_test.ts` here), with the Deno binary
 * the local stack uses.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { resolveDenoBinary } from '../../local/src/functions/deno-binary.ts';

const here = dirname(fileURLToPath(import.meta.url));
const sources = join(here, '..', 'src');

function deno(args: string[]): void {
  const result = spawnSync(resolveDenoBinary(), args, {
    cwd: join(here, '..'),
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
  });
  assert.equal(result.status, 0, `deno ${args.join(' ')}:\n${result.stdout}${result.stderr}`);
}

test('deno check: every module of the library type-checks', () => {
  const files = readdirSync(sources, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join('src', f));
  assert.ok(files.length > 0);
  deno(['check', '--quiet', ...files]);
});

test('deno test: the library behaves (worker authentication, probe, errors)', () => {
  // Named one by one: `deno test test/` would also pick up this Node file (`*.test.ts`).
  const tests = readdirSync(here)
    .filter((f) => f.endsWith('_test.ts'))
    .map((f) => join('test', f));
  assert.ok(tests.length > 0);
  deno(['test', '--quiet', '--allow-env', ...tests]);
});
