import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { genCommand } from '../src/cli/gen.ts';
import { captureIo, makeProject, testDir } from './support/project.ts';

const repo = path.resolve(testDir, '../..');
const tsc = path.join(repo, 'node_modules', '.bin', 'tsc');

function typecheck(dir: string, files: string[]): string {
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: path.join(repo, 'tsconfig.base.json'),
      compilerOptions: {
        typeRoots: [path.join(repo, 'node_modules', '@types')],
        baseUrl: dir,
        // the generated module imports the client core as an app would, from the installed package
        paths: { 'supadispatch/client': [path.join(repo, 'sdk', 'src', 'client', 'index.ts')] },
      },
      files,
    }),
  );
  try {
    execFileSync(tsc, ['-p', path.join(dir, 'tsconfig.json')], { encoding: 'utf8', timeout: 120_000 });
    return '';
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err);
  }
}

describe('types', () => {
  it('the generated client module type-checks against an app, rejecting misspelt names', async () => {
    const root = makeProject();
    assert.equal(await genCommand([], captureIo(root)), 0);
    const src = path.join(root, 'src');
    copyFileSync(path.join(testDir, 'fixtures', 'app.ts.txt'), path.join(src, 'app.ts'));
    const out = typecheck(src, [path.join(src, 'app.ts')]);
    assert.equal(out, '', out);
  });

  it('a misspelt counter without @ts-expect-error is a compile error', async () => {
    const root = makeProject();
    assert.equal(await genCommand([], captureIo(root)), 0);
    const src = path.join(root, 'src');
    writeFileSync(
      path.join(src, 'bad.ts'),
      "import type { CounterName } from './dispatch.generated.ts';\nexport const n: CounterName = 'pending_ordrs';\n",
    );
    const out = typecheck(src, [path.join(src, 'bad.ts')]);
    assert.match(out, /bad\.ts\(2,\d+\): error TS\d+: Type '"pending_ordrs"' is not assignable to type/);
  });

  it('defineDispatch checks audience, transport, admin, table and column names at compile time', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sd-types-'));
    const out = typecheck(dir, [path.join(testDir, 'fixtures', 'typed-config.ts')]);
    assert.equal(out, '', out);
  });
});
