/**
 * Conditions: an event's `when`, a counter's `where`, and the column tests both are made of (also
 * used by audience filters, where a test may compare with the event's row through `fromRow`).
 */
import type { Checker, Path } from './checker.ts';
import { didYouMean } from './errors.ts';
import type { Cond, TableRef, Test } from './model.ts';
import { changeValuesShape, fromRowShape, scalar, scalars } from './shapes.ts';
import type { Operation, Scalar } from './types.ts';
import { describe, isRaw, toArray } from './values.ts';

const TEST_KEYS = ['eq', 'neq', 'in', 'notIn', 'gt', 'gte', 'lt', 'lte', 'isNull'];

export function columnTest(c: Checker, v: unknown, path: Path, allowFromRow = false): Test | undefined {
  if (v === null) return { op: 'isNull' };
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return { op: 'eq', value: v };
  if (Array.isArray(v)) {
    const ok = c.parse(scalars, v, path);
    return ok ? { op: 'in', values: ok } : undefined;
  }
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('fromRow' in o) {
      if (!allowFromRow) {
        c.add(path, 'fromRow is only allowed in audience filters');
        return undefined;
      }
      c.parse(fromRowShape, o, path);
      const col = c.column(o.fromRow, [...path, 'fromRow']);
      return col ? { op: 'eqRow', column: col } : undefined;
    }
    const keys = Object.keys(o);
    if (keys.length !== 1) {
      c.add(path, `must have exactly one of ${TEST_KEYS.join(', ')}${allowFromRow ? ', fromRow' : ''}`);
      return undefined;
    }
    const op = keys[0];
    const val = o[op];
    const p = [...path, op];
    if (!TEST_KEYS.includes(op)) {
      const guess = didYouMean(op, allowFromRow ? [...TEST_KEYS, 'fromRow'] : TEST_KEYS);
      c.add(
        path,
        `unknown test "${op}"${guess ? ` — did you mean "${guess}"?` : ` (use one of ${TEST_KEYS.join(', ')})`}`,
      );
      return undefined;
    }
    if (op === 'isNull') {
      if (typeof val !== 'boolean') c.add(p, 'expected boolean');
      return { op: val === false ? 'notNull' : 'isNull' };
    }
    if (op === 'in' || op === 'notIn') {
      const ok = c.parse(scalars, val, p);
      return ok ? { op, values: ok } : undefined;
    }
    const ok = c.parse(scalar, val, p);
    if (ok === undefined) return undefined;
    if (ok === null && op !== 'eq' && op !== 'neq') {
      c.add(p, 'null cannot be compared; use isNull');
      return undefined;
    }
    if (ok === null) return { op: op === 'eq' ? 'isNull' : 'notNull' };
    return { op: op as 'eq', value: ok };
  }
  c.add(path, `is not a valid test (got ${describe(v)})`);
  return undefined;
}

function rawSql(c: Checker, v: { sql: string }, path: Path): Cond | undefined {
  const s = v.sql.trim();
  if (s === '') {
    c.add([...path, 'sql'], 'must not be empty');
    return undefined;
  }
  if (/;/.test(s.replace(/'(?:[^']|'')*'/g, ''))) {
    c.add([...path, 'sql'], 'must be a single boolean expression (no ";")');
    return undefined;
  }
  return { kind: 'sql', sql: s };
}

const COND_KEYS = ['where', 'changed', 'from', 'to', 'all', 'any', 'not'];

/** An event's `when`: { where }, { changed, from?, to? }, { all }, { any }, { not } (combined with and), or sql``. */
export function condition(
  c: Checker,
  v: unknown,
  path: Path,
  table: TableRef | undefined,
  ops: Operation[],
): Cond | undefined {
  if (isRaw(v)) return rawSql(c, v, path);
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    c.add(
      path,
      `must be a condition object ({ where }, { changed, to }, { all }, { any }, { not }) or sql\`...\` (got ${describe(v)})`,
    );
    return undefined;
  }
  const o = v as Record<string, unknown>;
  const parts: Cond[] = [];
  for (const key of Object.keys(o)) {
    if (!COND_KEYS.includes(key)) {
      const guess = didYouMean(key, COND_KEYS);
      c.add([...path, key], `unknown condition key "${key}"${guess ? ` — did you mean "${guess}"?` : ''}`);
    }
  }
  if (o.where !== undefined) {
    const w = o.where;
    if (!w || typeof w !== 'object' || Array.isArray(w))
      c.add([...path, 'where'], 'must be an object of column tests');
    else
      for (const col of Object.keys(w).sort()) {
        const p = [...path, 'where', col];
        c.column(col, p, table);
        const t = columnTest(c, (w as Record<string, unknown>)[col], p);
        if (t) parts.push({ kind: 'test', column: col, test: t });
      }
  }
  if (o.changed !== undefined) {
    if (!ops.includes('update'))
      c.add([...path, 'changed'], 'only applies to update events (add "update" to `on`)');
    const cols = toArray(o.changed as string | string[]);
    if (cols.length === 0) c.add([...path, 'changed'], 'must name at least one column');
    const ok = cols.map((col, i) =>
      c.column(col, Array.isArray(o.changed) ? [...path, 'changed', i] : [...path, 'changed'], table),
    );
    const vals = (k: 'from' | 'to') => {
      if (o[k] === undefined) return undefined;
      return c.parse(changeValuesShape, o[k], [...path, k]) === undefined
        ? undefined
        : toArray(o[k] as Scalar | Scalar[]);
    };
    const from = vals('from');
    const to = vals('to');
    if ((from || to) && cols.length !== 1)
      c.add([...path, 'changed'], 'from / to need exactly one changed column');
    if (ok.every(Boolean))
      parts.push({ kind: 'changed', columns: cols, ...(from ? { from } : {}), ...(to ? { to } : {}) });
  } else {
    for (const k of ['from', 'to'] as const)
      if (o[k] !== undefined) c.add([...path, k], `${k} needs changed: '<column>'`);
  }
  for (const k of ['all', 'any'] as const) {
    if (o[k] === undefined) continue;
    if (!Array.isArray(o[k]) || (o[k] as unknown[]).length === 0) {
      c.add([...path, k], 'must be a non-empty array of conditions');
      continue;
    }
    const items = (o[k] as unknown[]).map((x, i) => condition(c, x, [...path, k, i], table, ops));
    if (items.every(Boolean)) parts.push({ kind: k === 'all' ? 'and' : 'or', items: items as Cond[] });
  }
  if (o.not !== undefined) {
    const item = condition(c, o.not, [...path, 'not'], table, ops);
    if (item) parts.push({ kind: 'not', item });
  }
  if (parts.length === 0) {
    if (Object.keys(o).length === 0)
      c.add(path, 'is empty; remove it or add where / changed / all / any / not');
    return undefined;
  }
  return parts.length === 1 ? parts[0] : { kind: 'and', items: parts };
}

/** Counter condition: a where-object directly, or { all } / { any } / sql``. */
export function counterCondition(
  c: Checker,
  v: unknown,
  path: Path,
  table: TableRef | undefined,
): Cond | undefined {
  if (isRaw(v)) return rawSql(c, v, path);
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    c.add(path, `must be an object of column tests, { all }, { any } or sql\`...\` (got ${describe(v)})`);
    return undefined;
  }
  const o = v as Record<string, unknown>;
  if ('all' in o || 'any' in o) {
    const k = 'all' in o ? 'all' : 'any';
    if (!Array.isArray(o[k]) || (o[k] as unknown[]).length === 0) {
      c.add([...path, k], 'must be a non-empty array of conditions');
      return undefined;
    }
    const items = (o[k] as unknown[]).map((x, i) => counterCondition(c, x, [...path, k, i], table));
    return items.every(Boolean) ? { kind: k === 'all' ? 'and' : 'or', items: items as Cond[] } : undefined;
  }
  const parts: Cond[] = [];
  for (const col of Object.keys(o).sort()) {
    const p = [...path, col];
    c.column(col, p, table);
    const t = columnTest(c, o[col], p);
    if (t) parts.push({ kind: 'test', column: col, test: t });
  }
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0] : { kind: 'and', items: parts };
}
