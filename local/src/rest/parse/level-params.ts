import { parseError } from '../errors.ts';
import { type Condition, parseFilterExpr, parseFilterKey, parseLogic } from './filter.ts';
import { type OrderTerm, parseOrder } from './order.ts';

/**
 * Every query parameter that is not `select`/`columns`/`on_conflict` shapes one level of the
 * response: the root (`id=eq.1`, `order=…`, `limit=…`) or an embedded resource by its path
 * (`rel.col=…`, `rel.order=…`, `rel.or=(…)`).
 */

export interface LevelParams {
  conds: Condition[];
  order?: OrderTerm[];
  limit?: number;
  offset?: number;
}

/** Levels keyed by their embed path joined with NUL; the root is `''` and always present. */
export function levelParamsFrom(query: URLSearchParams, skip: Set<string>): Map<string, LevelParams> {
  const levels = new Map<string, LevelParams>();
  const at = (path: string[]): LevelParams => {
    const key = path.join('\u0000');
    let level = levels.get(key);
    if (!level) {
      level = { conds: [] };
      levels.set(key, level);
    }
    return level;
  };
  for (const [key, value] of query) {
    if (key === 'select' || key === 'columns' || key === 'on_conflict' || skip.has(key)) continue;
    const parts = key.split('.');
    const last = parts.at(-1) as string;
    if (last === 'or' || last === 'and') {
      const negate = parts.at(-2) === 'not';
      const path = parts.slice(0, negate ? -2 : -1);
      at(path).conds.push(parseLogic(last, negate, value));
    } else if (last === 'order') {
      at(parts.slice(0, -1)).order = parseOrder(value);
    } else if (last === 'limit') {
      at(parts.slice(0, -1)).limit = parseNonNegativeInt(value, 'limit');
    } else if (last === 'offset') {
      at(parts.slice(0, -1)).offset = parseNonNegativeInt(value, 'offset');
    } else {
      const { path, field } = parseFilterKey(key);
      at(path).conds.push(parseFilterExpr(field, value, false) as Condition);
    }
  }
  if (!levels.has('')) levels.set('', { conds: [] });
  return levels;
}

function parseNonNegativeInt(value: string, what: string): number {
  if (!/^\d+$/.test(value)) {
    throw parseError(
      `"failed to parse ${what} parameter (${value})" (line 1, column 1)`,
      'expecting a digit',
    );
  }
  return Number(value);
}
