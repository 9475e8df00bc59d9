/**
 * The render vectors (fixtures/render-vectors.json) against SQL `dispatch.render`; the same table runs
 * against the TypeScript twin in edge-functions/test/render_test.ts. TypeScript-only vectors (html
 * mode, missing-as-error) are skipped here. Needs SUPABASE_DB_URL with the core installed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { sqlVectors } from './fixtures/render-vectors.ts';

const shared = sqlVectors;

test('render vectors: SQL dispatch.render', async (t) => {
  const dbUrl = process.env.SUPABASE_DB_URL;
  if (!dbUrl) return t.skip('needs SUPABASE_DB_URL (the postgres role) with the core migration applied');
  assert.ok(shared.length >= 30, 'the table has its shared vectors');
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    await client.query('begin');
    for (const v of shared) {
      // render_max_length is read from dispatch.settings; the transaction rolls the change back
      await client.query(`select dispatch.set_setting('render_max_length', $1::jsonb)`, [
        JSON.stringify(v.maxLength ?? 100000),
      ]);
      const { rows } = await client.query<{ out: string }>('select dispatch.render($1, $2::jsonb) as out', [
        v.template,
        JSON.stringify(v.record),
      ]);
      assert.equal(rows[0].out, v.expected, v.name);
    }
  } finally {
    await client.query('rollback').catch(() => {});
    await client.end();
  }
});
