import type { PgBinding } from '../hub.ts';
import { type Change, NUMERIC_TYPES, type RawTuple } from './decoding.ts';

/**
 * A subscription's binding and its filter (`col=op.value`), checked against the changed row in
 * Node, as Realtime checks it before RLS.
 */

type Op = 'eq' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte' | 'in' | 'is';

export interface Filter {
  column: string;
  op: Op;
  values: string[];
}

export interface Subscription {
  binding: PgBinding;
  filter: Filter | null;
}

function unquote(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, '$1');
  return v;
}

/** `col=op.value` or `col=in.(a,b,"c,d")` — the operators Supabase documents, plus `is`. */
export function parseFilter(text: string): Filter | null {
  const eq = text.indexOf('=');
  if (eq <= 0) return null;
  const column = text.slice(0, eq).trim();
  const rest = text.slice(eq + 1);
  const dot = rest.indexOf('.');
  if (dot <= 0) return null;
  const op = rest.slice(0, dot) as Op;
  const raw = rest.slice(dot + 1);
  if (!['eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in', 'is'].includes(op)) return null;
  if (op === 'in') {
    if (!raw.startsWith('(') || !raw.endsWith(')')) return null;
    const inner = raw.slice(1, -1);
    const values: string[] = [];
    let current = '';
    let quoted = false;
    for (let i = 0; i < inner.length; i++) {
      const ch = inner[i];
      if (quoted && ch === '\\' && i + 1 < inner.length) {
        current += ch + inner[++i];
      } else if (ch === '"') {
        quoted = !quoted;
        current += ch;
      } else if (ch === ',' && !quoted) {
        values.push(unquote(current));
        current = '';
      } else current += ch;
    }
    values.push(unquote(current));
    return { column, op, values };
  }
  if (op === 'is' && !['null', 'true', 'false'].includes(raw.toLowerCase())) return null;
  return { column, op, values: [unquote(raw)] };
}

function compare(type: string, left: string, right: string): number {
  if (NUMERIC_TYPES.has(type)) return Number(left) - Number(right);
  if (type === 'bool') return Number(toBool(left)) - Number(toBool(right));
  return left < right ? -1 : left > right ? 1 : 0;
}

const toBool = (v: string): boolean => ['t', 'true', '1', 'y', 'yes', 'on'].includes(v.toLowerCase());

function filterHolds(filter: Filter, tuple: RawTuple, types: Map<string, string>): boolean {
  if (!tuple.has(filter.column)) return false;
  const value = tuple.get(filter.column) ?? null;
  if (filter.op === 'is') {
    const want = filter.values[0].toLowerCase();
    if (want === 'null') return value === null;
    return value !== null && toBool(value) === (want === 'true');
  }
  if (value === null) return false;
  const type = types.get(filter.column) ?? 'text';
  const cmp = (v: string) => compare(type, value, v);
  switch (filter.op) {
    case 'eq':
      return cmp(filter.values[0]) === 0;
    case 'neq':
      return cmp(filter.values[0]) !== 0;
    case 'lt':
      return cmp(filter.values[0]) < 0;
    case 'lte':
      return cmp(filter.values[0]) <= 0;
    case 'gt':
      return cmp(filter.values[0]) > 0;
    case 'gte':
      return cmp(filter.values[0]) >= 0;
    case 'in':
      return filter.values.some((v) => cmp(v) === 0);
  }
}

export function matches(sub: Subscription, change: Change, types: Map<string, string>): boolean {
  const b = sub.binding;
  if (b.event !== '*' && b.event !== change.type) return false;
  if (b.schema !== '*' && b.schema !== change.schema) return false;
  if (b.table && b.table !== '*' && b.table !== change.table) return false;
  if (!sub.filter) return true;
  const tuple = change.type === 'DELETE' ? change.oldKey : change.record;
  return tuple ? filterHolds(sub.filter, tuple, types) : false;
}
