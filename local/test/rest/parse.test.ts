import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type RestError, statusForSqlState } from '../../src/rest/errors.ts';
import { parseFilterExpr, parseFilterKey, parseLogic } from '../../src/rest/parse/filter.ts';
import { parseOrder } from '../../src/rest/parse/order.ts';
import { parseColumns, parseSelect } from '../../src/rest/parse/select.ts';
import { ident, Params } from '../../src/rest/query/fragment.ts';
import { parsePrefer } from '../../src/rest/request.ts';

/** The PostgREST URL grammar and the SQLSTATE mapping, without a database. */

describe('select grammar', () => {
  test('fields, aliases, casts, json paths, embeds with hints and spreads', () => {
    assert.deepEqual(parseSelect('id,t:title,n::text,lang:meta->>lang,meta->a->0'), [
      { kind: 'field', field: { name: 'id', path: [] }, alias: undefined, cast: undefined },
      { kind: 'field', field: { name: 'title', path: [] }, alias: 't', cast: undefined },
      { kind: 'field', field: { name: 'n', path: [] }, alias: undefined, cast: 'text' },
      {
        kind: 'field',
        field: { name: 'meta', path: [{ arrow: '->>', key: 'lang', index: false }] },
        alias: 'lang',
        cast: undefined,
      },
      {
        kind: 'field',
        field: {
          name: 'meta',
          path: [
            { arrow: '->', key: 'a', index: false },
            { arrow: '->', key: '0', index: true },
          ],
        },
        alias: undefined,
        cast: undefined,
      },
    ]);
    const [embed] = parseSelect('a:users!owner_id!inner(id,...org(name))');
    assert.equal(embed.kind, 'embed');
    if (embed.kind !== 'embed') return;
    assert.equal(embed.alias, 'a');
    assert.equal(embed.name, 'users');
    assert.equal(embed.hint, 'owner_id');
    assert.equal(embed.join, 'inner');
    assert.equal(embed.items[1].kind === 'embed' && embed.items[1].spread, true);
  });
  test('an empty select selects no columns (rows become {})', () => {
    assert.deepEqual(parseSelect(''), []);
  });
  test('quoted names keep any character', () => {
    const [item] = parseSelect('"\\"; drop table x; --"');
    assert.deepEqual(item, {
      kind: 'field',
      field: { name: '"; drop table x; --', path: [] },
      alias: undefined,
      cast: undefined,
    });
  });
  test('errors are PGRST100 (or PGRST123 for aggregates)', () => {
    assert.throws(
      () => parseSelect('id,('),
      (e: RestError) => e.code === 'PGRST100' && e.status === 400,
    );
    assert.throws(
      () => parseSelect('count()'),
      (e: RestError) => e.code === 'PGRST123',
    );
  });
});

describe('filters and logic trees', () => {
  const f = { name: 'c', path: [] };
  test('operators, negation, lists with quoted items, quantifiers, fts config', () => {
    assert.deepEqual(parseFilterExpr(f, 'not.in.(1,"a,b",c)', false).value, ['1', 'a,b', 'c']);
    assert.equal(parseFilterExpr(f, 'not.in.(1)', false).negate, true);
    assert.deepEqual(parseFilterExpr(f, 'like(any).{a*,b*}', false).value, ['a*', 'b*']);
    assert.equal(parseFilterExpr(f, 'fts(english).cat', false).config, 'english');
    assert.equal(parseFilterExpr(f, 'eq.a.b.c', false).value, 'a.b.c');
    assert.throws(
      () => parseFilterExpr(f, 'zz.1', false),
      (e: RestError) => e.code === 'PGRST100',
    );
    assert.throws(
      () => parseFilterExpr(f, 'is.maybe', false),
      (e: RestError) => e.code === 'PGRST100',
    );
  });
  test('nested and/or with quoted values', () => {
    const tree = parseLogic('or', false, '(a.eq.1,and(b.gt.2,c.not.is.null),d.eq."x,y)",e.in.(1,2))');
    assert.equal(tree.children.length, 4);
    assert.equal(tree.children[1].kind, 'and');
    const d = tree.children[2];
    assert.equal(d.kind === 'filter' && d.value, 'x,y)');
    assert.throws(
      () => parseLogic('or', false, "(a.eq.'),b.eq.1)"),
      (e: RestError) => e.code === 'PGRST100',
    );
  });
  test('filter keys on embedded resources and json paths', () => {
    assert.deepEqual(parseFilterKey('rel.sub.col->>x'), {
      path: ['rel', 'sub'],
      field: { name: 'col', path: [{ arrow: '->>', key: 'x', index: false }] },
    });
  });
  test('order, columns, Prefer', () => {
    assert.deepEqual(parseOrder('a.desc.nullslast,b,rel(c).asc'), [
      { field: { name: 'a', path: [] }, relation: undefined, dir: 'desc', nulls: 'last' },
      { field: { name: 'b', path: [] }, relation: undefined },
      { field: { name: 'c', path: [] }, relation: 'rel', dir: 'asc' },
    ]);
    assert.deepEqual(parseColumns('"a","b c",d'), ['a', 'b c', 'd']);
    assert.deepEqual(
      [...parsePrefer('return=representation, count=exact,missing=default')],
      [
        ['return', 'representation'],
        ['count', 'exact'],
        ['missing', 'default'],
      ],
    );
  });
});

describe('SQL building blocks', () => {
  test('identifiers are quoted with doubled quotes; values are parameters', () => {
    assert.equal(ident('a"b'), '"a""b"');
    const params = new Params();
    assert.equal(params.text("'; drop"), '$1::text');
    assert.deepEqual(params.values, ["'; drop"]);
  });
  test('SQLSTATE → HTTP status as PostgREST maps it', () => {
    const cases: [string, string, boolean, number][] = [
      ['42501', 'permission denied', false, 401],
      ['42501', 'permission denied', true, 403],
      ['23505', '', true, 409],
      ['23503', '', true, 409],
      ['P0001', '', true, 400],
      ['PT418', '', true, 418],
      ['42P01', '', true, 404],
      ['42883', '', true, 404],
      ['25006', '', true, 405],
      ['21000', 'DELETE requires a WHERE clause', true, 400],
      ['22023', 'role "x" does not exist', true, 401],
      ['42703', '', true, 400],
      ['08006', '', true, 503],
      ['XX000', '', true, 500],
      ['40001', '', true, 500],
      ['28000', '', true, 403],
    ];
    for (const [code, message, authed, status] of cases) {
      assert.equal(statusForSqlState(code, message, authed), status, `${code} ${message}`);
    }
  });
});
