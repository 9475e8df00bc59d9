/**
 * `[api] auto_expose_new_tables` as `supabase start` honours it (issue 22, item 13): unset or false,
 * a table postgres creates in `public` has no privilege for the Data API roles (hosted since
 * 2026-10-30); true, it gets them by default. Each case runs in a transaction that is rolled back.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { applyApiPrivileges } from '../../src/db/api-privileges.ts';
import { loadProjectConfig } from '../../src/project-config.ts';
import { adminDbUrlOrNull, missingAdminDbMessage } from '../support/test-stack.ts';

test('config.toml: auto_expose_new_tables is read as true, false or unset', () => {
  for (const [toml, expected] of [
    ['[api]\nauto_expose_new_tables = true\n', true],
    ['[api]\nauto_expose_new_tables = false\n', false],
    ['[api]\nmax_rows = 10\n', null],
  ] as const) {
    const root = mkdtempSync(join(tmpdir(), 'supadispatch-autoexpose-'));
    mkdirSync(join(root, 'supabase'));
    writeFileSync(join(root, 'supabase', 'config.toml'), toml);
    assert.equal(loadProjectConfig(root).api.autoExposeNewTables, expected, toml);
  }
});

test('new public tables are exposed to the Data API roles only with auto_expose_new_tables = true', async (t) => {
  const url = adminDbUrlOrNull();
  if (!url) return t.skip(missingAdminDbMessage);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const lines: string[] = [];
  try {
    for (const setting of [true, false, null] as const) {
      await db.query('begin');
      try {
        await applyApiPrivileges(db, setting, (_scope, message) => lines.push(String(message)));
        await db.query('set local role postgres');
        await db.query('create table public.autoexpose_probe (id int)');
        const { rows } = await db.query<{ anon: boolean; service: boolean }>(
          `select has_table_privilege('anon', 'public.autoexpose_probe', 'select') as anon,
                  has_table_privilege('service_role', 'public.autoexpose_probe', 'select') as service`,
        );
        assert.deepEqual(
          rows[0],
          { anon: setting === true, service: setting === true },
          `setting ${setting}`,
        );
      } finally {
        await db.query('rollback');
      }
    }
    assert.equal(lines.filter((l) => /deprecated/.test(l)).length, 1, 'one deprecation warning, for true');
  } finally {
    await db.end();
  }
});
