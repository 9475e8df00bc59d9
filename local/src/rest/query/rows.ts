import { RestError } from '../errors.ts';
import type { OrderTerm } from '../parse/order.ts';
import type { Field } from '../parse/scanner.ts';
import { isToMany } from '../relationships.ts';
import { columnExpr, columnNotFound } from './column.ts';
import { conditionSql } from './filter.ts';
import { ident, type Params, qualified } from './fragment.ts';
import type { Embed, Level, Planner } from './plan.ts';

/**
 * The SELECT of a planned level (PostgREST's Query/QueryBuilder.hs): each row as a JSON object with
 * its embeds joined laterally, then the level's filters, order and paging.
 */

function outputKey(item: { field: Field; alias?: string }): string {
  if (item.alias) return item.alias;
  const last = item.field.path.at(-1);
  return last ? last.key : item.field.name;
}

/** `json_build_object` with bound keys; split into ≤50-pair chunks joined textually (100-argument limit). */
function jsonObject(pairs: [string, string][], params: Params): string {
  if (pairs.length === 0) return `'{}'::json`;
  const chunks: string[] = [];
  for (let i = 0; i < pairs.length; i += 50) {
    const args = pairs.slice(i, i + 50).flatMap(([k, v]) => [params.text(k), v]);
    chunks.push(`json_build_object(${args.join(', ')})`);
  }
  if (chunks.length === 1) return chunks[0];
  return `('{' || concat_ws(', ', ${chunks.map((c) => `left(right((${c})::text, -1), -1)`).join(', ')}) || '}')::json`;
}

function rowObject(level: Level, params: Params, planner: Planner): string {
  return jsonObject(rowPairs(level, params, planner), params);
}

/** The row's values as a composite's text, `(1,"a b",{1,2})`: what PostgREST's CSV is made of. */
function rowText(level: Level, params: Params, planner: Planner): string {
  return `row(${rowPairs(level, params, planner)
    .map(([, v]) => v)
    .join(', ')})::text`;
}

function rowPairs(level: Level, params: Params, planner: Planner): [string, string][] {
  const pairs: [string, string][] = [];
  for (const item of level.items) {
    if (item.kind === 'star') {
      for (const col of level.rel.columns) pairs.push([col.name, `${ident(level.alias)}.${ident(col.name)}`]);
    } else if (item.kind === 'field') {
      let expr = columnExpr(level, item.field, params, planner);
      if (item.cast) expr = `(${expr})::${planner.casts.get(item.cast)}`;
      pairs.push([outputKey(item), expr]);
    } else {
      const embed = level.embeds.find((e) => e.item === item) as Embed;
      const body = `${ident(embed.joinAlias)}."body"`;
      if (item.spread) {
        for (const key of outputKeys(embed.level)) pairs.push([key, `${body}->${params.text(key)}`]);
      } else if (isToMany(embed.rel)) {
        pairs.push([embed.key, `coalesce(${body}, '[]'::json)`]);
      } else {
        pairs.push([embed.key, body]);
      }
    }
  }
  return pairs;
}

function outputKeys(level: Level): string[] {
  const keys: string[] = [];
  for (const item of level.items) {
    if (item.kind === 'star') keys.push(...level.rel.columns.map((c) => c.name));
    else if (item.kind === 'field') keys.push(outputKey(item));
    else if (item.spread) {
      const embed = level.embeds.find((e) => e.item === item) as Embed;
      keys.push(...outputKeys(embed.level));
    } else keys.push(item.alias ?? item.name);
  }
  return keys;
}

function orderSql(level: Level, terms: OrderTerm[], params: Params, planner: Planner): string {
  return terms
    .map((term) => {
      let expr: string;
      if (term.relation) {
        const embed = level.embeds.find((e) => e.key === term.relation);
        if (!embed || isToMany(embed.rel)) {
          throw new RestError(
            400,
            'PGRST118',
            `A related order on '${term.relation}' is not possible`,
            `'${level.rel.name}' and '${term.relation}' do not form a many-to-one or one-to-one relationship`,
          );
        }
        if (!embed.level.rel.columnMap.has(term.field.name))
          throw columnNotFound(embed.level.rel, term.field.name);
        expr = `(${ident(embed.joinAlias)}."body"::jsonb)->${params.text(term.field.name)}`;
      } else {
        expr = columnExpr(level, term.field, params, planner);
      }
      const dir = term.dir === 'desc' ? ' desc' : term.dir === 'asc' ? ' asc' : '';
      const nulls = term.nulls ? ` nulls ${term.nulls}` : '';
      return `${expr}${dir}${nulls}`;
    })
    .join(', ');
}

export interface RowsSqlOptions {
  /** Correlation with the parent level, e.g. `"t1"."owner_id" = "t0"."id"`. */
  correlation?: string[];
  /** Omit the select list, order and paging: for counting. */
  countOnly?: boolean;
  /** Overrides the level's own limit (root: max_rows and Range). */
  limit?: number;
  offset?: number;
  /** The level's own filters were already applied (the source is a write's RETURNING). */
  noFilters?: boolean;
  /** Replaces the row object in the select list (e.g. `ctid` for limited PATCH/DELETE). */
  selectList?: string;
  /** Also select the row's values as `row(...)::text` ("pgrst_csv"), for `Accept: text/csv`. */
  csv?: boolean;
}

/** `select <row json> as "pgrst_row" from <source> as t0 <lateral embeds> where … order by … limit … offset …` */
export function rowsSql(
  level: Level,
  params: Params,
  planner: Planner,
  options: RowsSqlOptions = {},
): string {
  const joins: string[] = [];
  const where: string[] = [...(options.correlation ?? [])];
  for (const embed of level.embeds) {
    const child = embed.level;
    const correlation = embed.rel.pairs.map(
      ([parentCol, childCol]) =>
        `${ident(child.alias)}.${ident(childCol)} = ${ident(level.alias)}.${ident(parentCol)}`,
    );
    const junction = embed.rel.junction;
    if (junction) {
      const jt = ident(`${embed.joinAlias}_j`);
      const conds = [
        ...junction.source.map(([jc, pc]) => `${jt}.${ident(jc)} = ${ident(level.alias)}.${ident(pc)}`),
        ...junction.target.map(([jc, tc]) => `${jt}.${ident(jc)} = ${ident(child.alias)}.${ident(tc)}`),
      ];
      correlation.push(
        `exists (select 1 from ${qualified(junction.rel.schema, junction.rel.name)} as ${jt} where ${conds.join(' and ')})`,
      );
    }
    const inner = rowsSql(child, params, planner, { correlation });
    const sub = isToMany(embed.rel)
      ? `select json_agg("pgrst_e"."pgrst_row") as "body" from (${inner}) as "pgrst_e"`
      : `select "pgrst_e"."pgrst_row" as "body" from (${inner}) as "pgrst_e"`;
    joins.push(`left join lateral (${sub}) as ${ident(embed.joinAlias)} on true`);
    if (embed.item.join === 'inner') where.push(`${ident(embed.joinAlias)}."body" is not null`);
  }
  if (!options.noFilters)
    for (const cond of level.params.conds) where.push(conditionSql(level, cond, params, planner));
  const select = options.countOnly
    ? '1'
    : (options.selectList ??
      `${rowObject(level, params, planner)} as "pgrst_row"${options.csv ? `, ${rowText(level, params, planner)} as "pgrst_csv"` : ''}`);
  let sql = `select ${select} from ${level.from} as ${ident(level.alias)}`;
  if (joins.length > 0) sql += ` ${joins.join(' ')}`;
  if (where.length > 0) sql += ` where ${where.join(' and ')}`;
  if (options.countOnly) return sql;
  if (level.params.order?.length) sql += ` order by ${orderSql(level, level.params.order, params, planner)}`;
  const limit = options.limit ?? level.params.limit;
  const offset = options.offset ?? level.params.offset;
  if (limit !== undefined) sql += ` limit ${params.add(limit)}`;
  if (offset !== undefined && offset > 0) sql += ` offset ${params.add(offset)}`;
  return sql;
}
