import { parseError } from '../errors.ts';
import {
  type Field,
  readField,
  readJsonPath,
  readName,
  Scanner,
  splitTopLevel,
  unquoteValue,
} from './scanner.ts';

/** Filters (`col=op.value`), their keys (`rel.col->a`) and logic trees (`or=(…)`, `and=(…)`). */

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

/** Items of `in.(a,"b,c")`: double-quoted items may contain reserved characters. */
export function parseList(text: string, what: string): string[] {
  if (!text.startsWith('(') || !text.endsWith(')')) {
    throw parseError(`"failed to parse filter (${what})"`, 'expecting "(" and ")" around the list');
  }
  const inner = text.slice(1, -1);
  if (inner === '') return [];
  return splitTopLevel(inner).map((item) => unquoteValue(item));
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
