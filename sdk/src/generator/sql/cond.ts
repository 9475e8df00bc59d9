/** Compiles conditions (the config's small DSL or raw SQL) to SQL boolean expressions. */
import type { Cond, Test } from '../../config/model.ts';
import type { Operation } from '../../config/types.ts';
import { ident, scalar } from './util.ts';

export function testSql(lhs: string, t: Test, rowAlias?: string): string {
  switch (t.op) {
    case 'eq':
      return `${lhs} = ${scalar(t.value)}`;
    case 'neq':
      return `${lhs} is distinct from ${scalar(t.value)}`;
    case 'gt':
      return `${lhs} > ${scalar(t.value)}`;
    case 'gte':
      return `${lhs} >= ${scalar(t.value)}`;
    case 'lt':
      return `${lhs} < ${scalar(t.value)}`;
    case 'lte':
      return `${lhs} <= ${scalar(t.value)}`;
    case 'isNull':
      return `${lhs} is null`;
    case 'notNull':
      return `${lhs} is not null`;
    case 'in':
      return inList(lhs, t.values, false);
    case 'notIn':
      return inList(lhs, t.values, true);
    case 'eqRow':
      if (!rowAlias) throw new Error('eqRow needs a row');
      return `${lhs} = ${rowAlias}.${ident(t.column)}`;
  }
}

function inList(lhs: string, values: readonly (string | number | boolean | null)[], negate: boolean): string {
  const nonNull = values.filter((v) => v !== null);
  const hasNull = nonNull.length !== values.length;
  const parts: string[] = [];
  if (nonNull.length === 1) parts.push(`${lhs} ${negate ? '<>' : '='} ${scalar(nonNull[0])}`);
  else if (nonNull.length > 1)
    parts.push(`${lhs} ${negate ? 'not in' : 'in'} (${nonNull.map(scalar).join(', ')})`);
  if (negate) {
    // NOT IN: also true for NULL unless null is listed.
    const base = parts[0];
    if (hasNull) return base ? `(${base} and ${lhs} is not null)` : `${lhs} is not null`;
    return base ? `(${base} or ${lhs} is null)` : 'true';
  }
  if (hasNull) parts.push(`${lhs} is null`);
  return parts.length === 1 ? parts[0] : `(${parts.join(' or ')})`;
}

/**
 * SQL for an event condition in a trigger over transition tables aliased `new` and `old`.
 * `op` decides which side plain column tests read (NEW for insert/update, OLD for delete) and what
 * `changed` means outside an UPDATE (insert: the new value is `to`; delete: the old value was `from`).
 */
export function eventCondSql(c: Cond, op: Operation): string {
  const side = op === 'delete' ? 'old' : 'new';
  switch (c.kind) {
    case 'sql':
      return `(${c.sql})`;
    case 'and':
    case 'or':
      return `(${c.items.map((i) => eventCondSql(i, op)).join(` ${c.kind} `)})`;
    case 'not':
      return `not ${eventCondSql(c.item, op)}`;
    case 'test':
      return testSql(`${side}.${ident(c.column)}`, c.test);
    case 'changed': {
      const parts: string[] = [];
      if (op === 'update') {
        const changed = c.columns.map((col) => `new.${ident(col)} is distinct from old.${ident(col)}`);
        parts.push(changed.length === 1 ? changed[0] : `(${changed.join(' or ')})`);
        if (c.from) parts.push(testSql(`old.${ident(c.columns[0])}`, { op: 'in', values: c.from }));
        if (c.to) parts.push(testSql(`new.${ident(c.columns[0])}`, { op: 'in', values: c.to }));
      } else if (op === 'insert') {
        if (c.to) parts.push(testSql(`new.${ident(c.columns[0])}`, { op: 'in', values: c.to }));
      } else if (c.from) parts.push(testSql(`old.${ident(c.columns[0])}`, { op: 'in', values: c.from }));
      if (parts.length === 0) return 'true';
      return parts.length === 1 ? parts[0] : `(${parts.join(' and ')})`;
    }
  }
}

/** SQL for a counter condition over one row whose columns are reachable as `<alias>.<col>`. */
export function rowCondSql(c: Cond, alias: string): string {
  switch (c.kind) {
    case 'sql':
      return `(${c.sql})`;
    case 'and':
    case 'or':
      return `(${c.items.map((i) => rowCondSql(i, alias)).join(` ${c.kind} `)})`;
    case 'not':
      return `not ${rowCondSql(c.item, alias)}`;
    case 'test':
      return testSql(`${alias}.${ident(c.column)}`, c.test);
    case 'changed':
      throw new Error('changed is not a row condition');
  }
}

/** Whether raw SQL is involved (raw counter conditions reference columns unqualified). */
export function hasRaw(c: Cond | undefined): boolean {
  if (!c) return false;
  if (c.kind === 'sql') return true;
  if (c.kind === 'and' || c.kind === 'or') return c.items.some(hasRaw);
  if (c.kind === 'not') return hasRaw(c.item);
  return false;
}
