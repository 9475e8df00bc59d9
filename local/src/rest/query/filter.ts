import { RestError } from '../errors.ts';
import type { Condition, FilterCond } from '../parse/filter.ts';
import { columnExpr } from './column.ts';
import { ident, type Params } from './fragment.ts';
import type { Level, Planner } from './plan.ts';

/** Filters and logic trees of a level as a `where` condition; the values are bound parameters. */

const binaryOps: Record<string, string> = {
  eq: '=',
  neq: '<>',
  gt: '>',
  gte: '>=',
  lt: '<',
  lte: '<=',
  like: 'like',
  ilike: 'ilike',
  match: '~',
  imatch: '~*',
  cs: '@>',
  cd: '<@',
  ov: '&&',
  sl: '<<',
  sr: '>>',
  nxl: '&<',
  nxr: '&>',
  adj: '-|-',
  isdistinct: 'is distinct from',
};

const ftsFunctions: Record<string, string> = {
  fts: 'to_tsquery',
  plfts: 'plainto_tsquery',
  phfts: 'phraseto_tsquery',
  wfts: 'websearch_to_tsquery',
};

function filterSql(level: Level, cond: FilterCond, params: Params, planner: Planner): string {
  // A filter on an embedded resource itself: `rel=is.null` / `rel=not.is.null`.
  const embed =
    cond.field.path.length === 0 ? level.embeds.find((e) => e.key === cond.field.name) : undefined;
  if (embed && !level.rel.columnMap.has(cond.field.name)) {
    if (cond.op !== 'is' || (cond.value !== 'null' && cond.value !== 'NULL')) {
      throw new RestError(
        400,
        'PGRST120',
        `Bad operator on the '${embed.key}' embedded resource`,
        'Only is null or not is null filters are allowed on embedded resources',
      );
    }
    const sql = `${ident(embed.joinAlias)}."body" is null`;
    return cond.negate ? `not (${sql})` : sql;
  }
  const lhs = columnExpr(level, cond.field, params, planner);
  const column = level.rel.columnMap.get(cond.field.name);
  const isLike = cond.op === 'like' || cond.op === 'ilike';
  const likeValue = (v: string) => (isLike ? v.replaceAll('*', '%') : v);
  let sql: string;
  if (cond.op === 'is') {
    const word = String(cond.value).toLowerCase();
    sql = `${lhs} is ${word === 'not_null' ? 'not null' : word}`;
  } else if (cond.op === 'in') {
    sql = `${lhs} = any(${params.add(cond.value)})`;
  } else if (cond.quantifier) {
    const values = (cond.value as string[]).map(likeValue);
    sql = `${lhs} ${binaryOps[cond.op]} ${cond.quantifier}(${params.add(values)})`;
  } else if (cond.op in ftsFunctions) {
    const isVector = cond.field.path.length === 0 && column?.typname === 'tsvector';
    const config = cond.config ? `${params.add(cond.config)}::regconfig, ` : '';
    const doc = isVector ? lhs : `to_tsvector(${config}${lhs})`;
    sql = `${doc} @@ ${ftsFunctions[cond.op]}(${config}${params.add(cond.value)})`;
  } else {
    let value = likeValue(cond.value as string);
    if (cond.op === 'ov' && column?.category === 'A' && value.startsWith('(') && value.endsWith(')')) {
      value = `{${value.slice(1, -1)}}`;
    }
    sql = `${lhs} ${binaryOps[cond.op]} ${params.add(value)}`;
  }
  return cond.negate ? `not (${sql})` : sql;
}

export function conditionSql(level: Level, cond: Condition, params: Params, planner: Planner): string {
  if (cond.kind === 'filter') return filterSql(level, cond, params, planner);
  const parts = cond.children.map((c) => conditionSql(level, c, params, planner));
  const joined = parts.length === 0 ? (cond.kind === 'and' ? 'true' : 'false') : parts.join(` ${cond.kind} `);
  return cond.negate ? `not (${joined})` : `(${joined})`;
}

/** Top-level filters of a write (no embeds): `where` of UPDATE/DELETE. */
export function whereSql(level: Level, params: Params, planner: Planner): string[] {
  return level.params.conds.map((cond) => conditionSql(level, cond, params, planner));
}
