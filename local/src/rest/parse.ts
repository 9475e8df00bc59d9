import { parseError, RestError } from './errors.ts';

/**
 * The PostgREST URL grammar (ApiRequest/QueryParams.hs), the subset supabase-js produces.
 * Parsing only builds a tree of names and values; nothing here touches SQL.
 */

export interface JsonStep {
  arrow: '->' | '->>';
  key: string;
  /** The key is an integer (array index). */
  index: boolean;
}

export interface Field {
  name: string;
  path: JsonStep[];
}

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

export const filterOps = [
  'eq',
  'neq',
  'gt',
  'gte',
  'lt',
  'lte',
  'like',
  'ilike',
  'match',
  'imatch',
  'is',
  'isdistinct',
  'in',
  'cs',
  'cd',
  'ov',
  'sl',
  'sr',
  'nxl',
  'nxr',
  'adj',
  'fts',
  'plfts',
  'phfts',
  'wfts',
] as const;
export type FilterOp = (typeof filterOps)[number];
const quantifiable = new Set(['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'match', 'imatch']);

export interface FilterCond {
  kind: 'filter';
  field: Field;
  negate: boolean;
  op: FilterOp;
  quantifier?: 'any' | 'all';
  /** fts configuration, e.g. `fts(english)`. */
  config?: string;
  /** Scalar value, or the list for `in` and quantified operators. */
  value: string | string[];
}

export interface LogicCond {
  kind: 'and' | 'or';
  negate: boolean;
  children: Condition[];
}

export type Condition = FilterCond | LogicCond;

export interface OrderTerm {
  field: Field;
  /** `rel(col)` ordering on a to-one embedded resource. */
  relation?: string;
  dir?: 'asc' | 'desc';
  nulls?: 'first' | 'last';
}

class Scanner {
  pos = 0;
  constructor(
    readonly text: string,
    readonly what: string,
  ) {}
  get done(): boolean {
    return this.pos >= this.text.length;
  }
  peek(n = 0): string {
    return this.text[this.pos + n] ?? '';
  }
  startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos);
  }
  eat(s: string): boolean {
    if (this.startsWith(s)) {
      this.pos += s.length;
      return true;
    }
    return false;
  }
  expect(s: string): void {
    if (!this.eat(s)) this.fail(`"${s}"`);
  }
  fail(expected: string): never {
    const at = this.pos;
    throw parseError(
      `"failed to parse ${this.what} (${this.text})" (line 1, column ${at + 1})`,
      `unexpected ${this.done ? 'end of input' : `"${this.peek()}"`} expecting ${expected}`,
    );
  }
}

/** `"quoted"` (backslash escapes) or a bare identifier (letters, digits, `_`, `$`, space, `-` not before `>`). */
function readName(s: Scanner): string {
  if (s.peek() === '"') return readQuoted(s);
  const start = s.pos;
  while (!s.done) {
    const c = s.peek();
    if (c === '-' && s.peek(1) === '>') break;
    if (/[,.:()!"]/.test(c)) break;
    s.pos++;
  }
  if (s.pos === start) s.fail('a name');
  return s.text.slice(start, s.pos).trim();
}

function readQuoted(s: Scanner): string {
  s.expect('"');
  let out = '';
  while (!s.done && s.peek() !== '"') {
    if (s.peek() === '\\' && s.pos + 1 < s.text.length) s.pos++;
    out += s.peek();
    s.pos++;
  }
  s.expect('"');
  return out;
}

function readJsonPath(s: Scanner): JsonStep[] {
  const path: JsonStep[] = [];
  while (s.startsWith('->')) {
    let arrow: JsonStep['arrow'] = '->>';
    if (!s.eat('->>')) {
      s.eat('->');
      arrow = '->';
    }
    if (s.peek() === '"') {
      path.push({ arrow, key: readQuoted(s), index: false });
      continue;
    }
    const start = s.pos;
    if (s.peek() === '-') s.pos++;
    while (!s.done && !/[,.:()!"]/.test(s.peek()) && !s.startsWith('->')) s.pos++;
    const key = s.text.slice(start, s.pos);
    if (!key) s.fail('a json key');
    path.push({ arrow, key, index: /^-?\d+$/.test(key) });
  }
  return path;
}

function readField(s: Scanner): Field {
  return { name: readName(s), path: readJsonPath(s) };
}

/** The `select` parameter. */
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

/** Splits `a,b,(c,d),"e,f"` on top-level commas, honouring quotes, parentheses and braces. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') {
      depth--;
      if (depth < 0) throw parseError(`"failed to parse logic tree (${text})"`, `unexpected "${c}"`);
    } else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** Items of `in.(a,"b,c")`: double-quoted items may contain reserved characters. */
export function parseList(text: string, what: string): string[] {
  if (!text.startsWith('(') || !text.endsWith(')')) {
    throw parseError(`"failed to parse filter (${what})"`, 'expecting "(" and ")" around the list');
  }
  const inner = text.slice(1, -1);
  if (inner === '') return [];
  return splitTopLevel(inner).map((item) => unquoteValue(item));
}

function unquoteValue(item: string): string {
  if (item.length >= 2 && item.startsWith('"') && item.endsWith('"')) {
    return item.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return item;
}

/** `{a,b}` for quantified operators. */
function parseBraceList(text: string, what: string): string[] {
  if (!text.startsWith('{') || !text.endsWith('}')) {
    throw parseError(`"failed to parse filter (${what})"`, 'expecting "{" and "}" around the list');
  }
  const inner = text.slice(1, -1);
  return inner === '' ? [] : splitTopLevel(inner).map((item) => unquoteValue(item));
}

/** `[not.]op[(any|all)|(config)].value` — the right-hand side of a filter. */
export function parseFilterExpr(field: Field, expr: string, inLogic: boolean): FilterCond {
  let rest = expr;
  let negate = false;
  if (rest.startsWith('not.')) {
    negate = true;
    rest = rest.slice(4);
  }
  const m = /^([a-z]+)(?:\(([^)]*)\))?\.([\s\S]*)$/.exec(rest);
  if (!m || !(filterOps as readonly string[]).includes(m[1])) {
    throw parseError(`"failed to parse filter (${expr})" (line 1, column 1)`, 'unexpected operator');
  }
  const op = m[1] as FilterOp;
  const modifier = m[2];
  let raw = m[3];
  if (inLogic) raw = unquoteValue(raw);
  const cond: FilterCond = { kind: 'filter', field, negate, op, value: raw };
  if (modifier !== undefined) {
    if ((modifier === 'any' || modifier === 'all') && quantifiable.has(op)) {
      cond.quantifier = modifier;
      cond.value = parseBraceList(raw, expr);
    } else if (op.endsWith('fts') && /^[A-Za-z_][A-Za-z0-9_]*$/.test(modifier)) {
      cond.config = modifier;
    } else {
      throw parseError(`"failed to parse filter (${expr})" (line 1, column 1)`, 'unexpected modifier');
    }
  }
  if (op === 'in') cond.value = parseList(raw, expr);
  if (op === 'is' && !['null', 'not_null', 'true', 'false', 'unknown'].includes(raw.toLowerCase())) {
    throw parseError(
      `"failed to parse filter (${expr})" (line 1, column ${expr.length - raw.length + 1})`,
      'unexpected value, expecting null, not_null, true, false or unknown',
    );
  }
  return cond;
}

/** `(a.eq.1,or(b.gt.2,c.not.is.null))` — the value of `or=`/`and=`. */
export function parseLogic(kind: 'and' | 'or', negate: boolean, text: string): LogicCond {
  if (!text.startsWith('(') || !text.endsWith(')')) {
    throw parseError(`"failed to parse logic tree (${text})" (line 1, column 1)`, 'expecting "("');
  }
  const children = splitTopLevel(text.slice(1, -1)).map((part) => parseLogicItem(part, text));
  return { kind, negate, children };
}

function parseLogicItem(part: string, whole: string): Condition {
  const m = /^(not\.)?(and|or)(\([\s\S]*\))$/.exec(part);
  if (m) return parseLogic(m[2] as 'and' | 'or', Boolean(m[1]), m[3]);
  const s = new Scanner(part, `logic tree (${whole})`);
  const field = readField(s);
  s.expect('.');
  return parseFilterExpr(field, part.slice(s.pos), true);
}

/** A filter key: a column (with json path) possibly on an embedded resource: `rel.sub.col->a`. */
export function parseFilterKey(key: string): { path: string[]; field: Field } {
  const s = new Scanner(key, 'filter key');
  const names: string[] = [readName(s)];
  while (s.eat('.')) names.push(readName(s));
  const jsonPath = readJsonPath(s);
  if (!s.done) s.fail('end of key');
  const name = names.pop() as string;
  return { path: names, field: { name, path: jsonPath } };
}

/** `order=a.desc.nullslast,b,rel(c).asc` */
export function parseOrder(text: string): OrderTerm[] {
  return splitTopLevel(text).map((part) => {
    const s = new Scanner(part, `order (${text})`);
    let field = readField(s);
    let relation: string | undefined;
    if (s.eat('(')) {
      relation = field.name;
      field = readField(s);
      s.expect(')');
    }
    const term: OrderTerm = { field, relation };
    while (s.eat('.')) {
      const word = readName(s);
      if (word === 'asc' || word === 'desc') term.dir = word;
      else if (word === 'nullsfirst') term.nulls = 'first';
      else if (word === 'nullslast') term.nulls = 'last';
      else s.fail('asc, desc, nullsfirst or nullslast');
    }
    if (!s.done) s.fail('"." or ","');
    return term;
  });
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

export function parseNonNegativeInt(value: string, what: string): number {
  if (!/^\d+$/.test(value)) {
    throw parseError(
      `"failed to parse ${what} parameter (${value})" (line 1, column 1)`,
      'expecting a digit',
    );
  }
  return Number(value);
}

/** The `Prefer` header(s): `return=…, count=exact` → map. */
export function parsePrefer(headers: string | string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  const list = Array.isArray(headers) ? headers : headers ? [headers] : [];
  for (const header of list) {
    for (const part of header.split(',')) {
      const [k, ...v] = part.trim().split('=');
      if (k) out.set(k.trim().toLowerCase(), v.join('=').trim());
    }
  }
  return out;
}
