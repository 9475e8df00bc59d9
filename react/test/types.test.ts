/**
 * Type tests, run by tsc: the hooks typed to an app's generated schema (the generator's golden
 * output, sdk/test/golden/shop.client.ts.txt) accept the config's counter names and reject others
 * (`@ts-expect-error`, which is itself an error when nothing is wrong). Once with the schema named on
 * each hook, once registered for every hook (`interface Register`), each its own tsc program since a
 * registration is global.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const testDir = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(testDir, '../..');
const tsc = path.join(repo, 'node_modules', '.bin', 'tsc');
const dirs: string[] = [];

/** An app folder: the golden generated module, and `fixture` (or `source`) as app.ts. */
function app(fixture: string | { source: string }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sd-react-types-'));
  dirs.push(dir);
  copyFileSync(
    path.join(repo, 'sdk', 'test', 'golden', 'shop.client.ts.txt'),
    path.join(dir, 'dispatch.generated.ts'),
  );
  if (typeof fixture === 'string')
    copyFileSync(path.join(testDir, 'fixtures', fixture), path.join(dir, 'app.ts'));
  else writeFileSync(path.join(dir, 'app.ts'), fixture.source);
  return dir;
}

/** tsc's errors over the app folder ('' when it type-checks). */
function typecheck(dir: string): string {
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: path.join(repo, 'tsconfig.base.json'),
      compilerOptions: {
        jsx: 'react-jsx',
        typeRoots: [path.join(repo, 'node_modules', '@types')],
        baseUrl: dir,
        // the app imports the packages by name, as installed
        paths: {
          'supadispatch/client': [path.join(repo, 'sdk', 'src', 'client', 'index.ts')],
          '@supadispatch/react': [path.join(repo, 'react', 'src', 'index.ts')],
        },
      },
      files: [path.join(dir, 'app.ts')],
    }),
  );
  try {
    execFileSync(tsc, ['-p', path.join(dir, 'tsconfig.json')], { encoding: 'utf8', timeout: 120_000 });
    return '';
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err);
  }
}

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('types of @supadispatch/react against a generated schema', () => {
  it('hooks named with AppDispatchSchema take only its counter names', () => {
    const out = typecheck(app('explicit-schema.ts.txt'));
    assert.equal(out, '', out);
  });

  it('with the schema registered, every hook takes only its names', () => {
    const out = typecheck(app('registered-schema.ts.txt'));
    assert.equal(out, '', out);
  });

  it('a misspelt counter without @ts-expect-error is a compile error naming the right ones', () => {
    const out = typecheck(
      app({
        source: `import { useCounter } from '@supadispatch/react';
import type { AppDispatchSchema } from './dispatch.generated.ts';
export const useWrong = () => useCounter<AppDispatchSchema>('pending_ordrs');
`,
      }),
    );
    assert.match(out, /app\.ts\(3,\d+\): error TS2345: Argument of type '"pending_ordrs"' is not assignable/);
    assert.match(out, /"pending_orders"/);
  });
});
