/** Golden files: compare, or rewrite with UPDATE_GOLDEN=1. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { testDir } from './project.ts';

export function golden(name: string, actual: string): void {
  const file = path.join(testDir, 'golden', name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    if (!existsSync(file) && process.env.UPDATE_GOLDEN !== '1' && process.env.CI) {
      assert.fail(`golden file ${name} missing (run with UPDATE_GOLDEN=1)`);
    }
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.equal(actual, readFileSync(file, 'utf8'), `golden ${name} differs (UPDATE_GOLDEN=1 to accept)`);
}
