/**
 * The core migration the demo project carries is exactly what `sql/build.ts` generates from
 * sql/core/*.sql (deterministic), and the version file matches dispatch.version().
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildCore, coreDir, coreVersion, migrationPath } from '../build.ts';

test('supabase/migrations core file is up to date with sql/core (run npx tsx sql/build.ts)', () => {
  assert.equal(readFileSync(migrationPath, 'utf8'), buildCore());
});

test('the build is deterministic and carries the do-not-edit header', () => {
  const a = buildCore();
  assert.equal(a, buildCore());
  assert.match(a.split('\n')[0], /generated from sql\/core — do not edit/);
});

test('sql/VERSION matches dispatch.version()', () => {
  const schema = readFileSync(join(coreDir, '000_schema.sql'), 'utf8');
  assert.ok(schema.includes(`select '${coreVersion()}'::text`), 'dispatch.version() returns sql/VERSION');
});

test('the core has no statements hosted Supabase refuses in a migration', () => {
  const sql = buildCore()
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('--'))
    .join('\n')
    .toLowerCase();
  assert.doesNotMatch(sql, /alter\s+database/, 'ALTER DATABASE');
  assert.doesNotMatch(sql, /\bconcurrently\b/, 'CONCURRENTLY');
  assert.doesNotMatch(sql, /^\s*(begin|commit|rollback|start transaction)\s*;/m, 'transaction control');
  assert.doesNotMatch(sql, /alter\s+system/, 'ALTER SYSTEM');
});
