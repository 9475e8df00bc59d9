/**
 * Templates compiled by the generator (sdk/src/generator/sql/template.ts) against the render vectors
 * (fixtures/render-vectors.json): the compiled SQL expression gives what dispatch.render gives, vector
 * for vector, caps included. Generated expanders render their in-app texts this way. Needs
 * SUPABASE_DB_URL with the core installed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { compiledTemplate } from '../../sdk/src/generator/sql/template.ts';
import { sqlVectors } from './fixtures/render-vectors.ts';

const shared = sqlVectors;

test('compiled templates: the render vectors give what dispatch.render gives', async (t) => {
  const dbUrl = process.env.SUPABASE_DB_URL;
  if (!dbUrl) return t.skip('needs SUPABASE_DB_URL (the postgres role) with the core migration applied');
  assert.ok(shared.length >= 30, 'the table has its shared vectors');
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    await client.query('begin');
    let compiled = 0;
    for (const v of shared) {
      await client.query(`select dispatch.set_setting('render_max_length', $1::jsonb)`, [
        JSON.stringify(v.maxLength ?? 100000),
      ]);
      const expr = compiledTemplate(v.template, 'x.data', 'x.cap');
      if (!expr.startsWith('dispatch.render(')) compiled++;
      const { rows } = await client.query<{ out: string; rendered: string }>(
        `select ${expr} as out, dispatch.render($1, x.data) as rendered
         from (select $2::jsonb as data, dispatch.render_cap() as cap) x`,
        [v.template, JSON.stringify(v.record)],
      );
      assert.equal(rows[0].out, v.expected, `${v.name}: compiled`);
      assert.equal(rows[0].out, rows[0].rendered, `${v.name}: compiled = dispatch.render`);
    }
    // all but the templates with a non-ASCII character inside {{ }} (left to dispatch.render)
    assert.ok(compiled >= shared.length - 3, `${compiled} of ${shared.length} vectors compiled`);
  } finally {
    await client.query('rollback').catch(() => {});
    await client.end();
  }
});

test('compiled templates: SQL text', () => {
  assert.equal(compiledTemplate('Hi', 's.data', 'v_cap'), "dispatch.render_fit('Hi', v_cap)");
  assert.equal(
    compiledTemplate("It's #{{ a.b }}!", 's.data', 'v_cap'),
    "dispatch.render_fit(concat('It''s #', s.data #>> array['a', 'b']::text[], '!'), v_cap)",
  );
  assert.equal(compiledTemplate('{{\u2003a}}', 's.data', 'v_cap'), "dispatch.render('{{\u2003a}}', s.data)");
});
