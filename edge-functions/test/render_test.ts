// The render vectors (sql/test/fixtures/render-vectors.json) against the TypeScript render; the same
// table runs against SQL dispatch.render in sql/test/render-vectors.test.ts.
import assert from 'node:assert/strict';
import { MissingVariableError, placeholders, render } from '../src/templates/render.ts';

interface Vector {
  name: string;
  template: string;
  record: unknown;
  expected?: string;
  error?: string;
  maxLength?: number;
  mode?: 'html' | 'text';
  missing?: 'error' | 'empty';
}

// a static JSON import: no read permission needed
import table from '../../sql/test/fixtures/render-vectors.json' with { type: 'json' };

const vectors = table.vectors as Vector[];

for (const v of vectors) {
  Deno.test(`render vector: ${v.name}`, () => {
    const options = { mode: v.mode, missing: v.missing, maxLength: v.maxLength };
    if (v.error !== undefined) {
      assert.throws(
        () => render(v.template, v.record, options),
        (e: unknown) => e instanceof MissingVariableError && e.path === v.error,
      );
      return;
    }
    assert.equal(render(v.template, v.record, options), v.expected);
  });
}

Deno.test('render: a missing variable when sending renders empty and is reported', () => {
  const missing: string[] = [];
  assert.equal(render('a{{x}}b{{y.z}}', { y: 1 }, { onMissing: (p) => missing.push(p) }), 'ab');
  assert.deepEqual(missing, ['x', 'y.z']);
});

Deno.test('render: a huge value never blows up the output', () => {
  const out = render('{{a}}{{a}}{{a}}', { a: 'y'.repeat(60_000) });
  assert.equal(out.length, 100_000);
  assert.ok(out.endsWith(' [truncated]'));
});

Deno.test('render: no code execution, whatever the template holds', () => {
  const vars = { constructor: 'c', a: { toString: 'no' } };
  assert.equal(render('{{constructor.name}}|{{__proto__}}|{{a.toString}}', vars), '||no');
  assert.equal(render('{{ process.exit }}{{ Deno.exit }}', {}), '');
});

Deno.test('placeholders lists the paths in order', () => {
  assert.deepEqual(placeholders('{{a}} {{ b.c }} {{a}} {{no pe}}'), ['a', 'b.c', 'a']);
});
