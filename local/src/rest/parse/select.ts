import { RestError } from '../errors.ts';
import { type Field, readJsonPath, readName, Scanner } from './scanner.ts';

/** The `select` parameter (fields, casts, JSON paths, embeds), and the plain column lists `columns=` / `on_conflict=`. */

export interface FieldItem {
  kind: 'field';
  field: Field;
  alias?: string;
  cast?: string;
}

export interface StarItem {
  kind: 'star';
}

export interface EmbedItem {
  kind: 'embed';
  name: string;
  alias?: string;
  hint?: string;
  join?: 'inner' | 'left';
  spread: boolean;
  items: SelectItem[];
}

export type SelectItem = FieldItem | StarItem | EmbedItem;

export function parseSelect(text: string): SelectItem[] {
  if (text === '') return [];
  const s = new Scanner(text, 'select');
  const items = readSelectList(s, false);
  if (!s.done) s.fail('"," or end of input');
  return items;
}

function readSelectList(s: Scanner, nested: boolean): SelectItem[] {
  const items: SelectItem[] = [];
  if (nested && s.peek() === ')') return items;
  for (;;) {
    items.push(readSelectItem(s));
    if (!s.eat(',')) break;
  }
  return items;
}

const aggregateNames = new Set(['count', 'sum', 'avg', 'min', 'max']);

function readSelectItem(s: Scanner): SelectItem {
  if (s.eat('*')) return { kind: 'star' };
  const spread = s.eat('...');
  let alias: string | undefined;
  let name = readName(s);
  if (s.peek() === ':' && s.peek(1) !== ':') {
    s.pos++;
    alias = name;
    name = readName(s);
  }
  if (!spread && s.startsWith('()') && aggregateNames.has(name)) {
    throw new RestError(400, 'PGRST123', 'Use of aggregate functions is not allowed');
  }
  const hints: string[] = [];
  while (s.eat('!')) hints.push(readName(s));
  if (s.peek() === '(' || spread || hints.length > 0) {
    s.expect('(');
    const items = readSelectList(s, true);
    s.expect(')');
    let hint: string | undefined;
    let join: 'inner' | 'left' | undefined;
    for (const h of hints) {
      if (h === 'inner' || h === 'left') join = h;
      else hint = h;
    }
    return { kind: 'embed', name, alias, hint, join, spread, items };
  }
  const path = readJsonPath(s);
  let cast: string | undefined;
  if (s.eat('::')) {
    const start = s.pos;
    while (!s.done && !/[,()]/.test(s.peek())) s.pos++;
    cast = s.text.slice(start, s.pos).trim();
    if (!cast) s.fail('a type name');
  }
  if (s.eat('.')) {
    const fn = readName(s);
    if (aggregateNames.has(fn))
      throw new RestError(400, 'PGRST123', 'Use of aggregate functions is not allowed');
    s.fail('"," or ")"');
  }
  return { kind: 'field', field: { name, path }, alias, cast };
}

/** `columns="a","b"` (supabase-js quotes them) or `columns=a,b`. */
export function parseColumns(text: string): string[] {
  const s = new Scanner(text, 'columns');
  const out: string[] = [];
  for (;;) {
    out.push(readName(s));
    if (!s.eat(',')) break;
  }
  if (!s.done) s.fail('"," or end of input');
  return out;
}

/** Collects the `::type` casts of a select tree so they can be resolved before planning. */
export function collectCasts(items: SelectItem[], out: Set<string> = new Set()): Set<string> {
  for (const item of items) {
    if (item.kind === 'field' && item.cast) out.add(item.cast);
    if (item.kind === 'embed') collectCasts(item.items, out);
  }
  return out;
}
