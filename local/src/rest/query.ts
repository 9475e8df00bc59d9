import { RestError } from './errors.ts';
import type { Condition, EmbedItem, Field, FilterCond, OrderTerm, SelectItem } from './parse.ts';
import {
  qualifiedKey,
  type Relation,
  type Relationship,
  relationshipsOf,
  type SchemaCache,
} from './schema-cache.ts';

/**
 * Turns parsed requests into SQL. Identifiers reach SQL only through `ident()` after being looked
 * up in the schema cache (or are names this module generates, like "t0"); every value supplied by
 * the client — filter values, JSON keys, aliases, bodies, limits — is a bound parameter.
 */

export const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`;
export const qualified = (schema: string, name: string): string => `${ident(schema)}.${ident(name)}`;

export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  text(value: string): string {
    return `${this.add(value)}::text`;
  }
}

/** Marks errors where re-reading the schema cache might help (a migration may have just landed). */
export class CacheMissError extends RestError {}

export function columnNotFound(rel: Relation, name: string): RestError {
  return new CacheMissError(400, '42703', `column ${rel.name}.${name} does not exist`);
}

const isToMany = (rel: Relationship): boolean =>
  rel.cardinality === 'one-to-many' || rel.cardinality === 'many-to-many';

export interface LevelParams {
  conds: Condition[];
  order?: OrderTerm[];
  limit?: number;
  offset?: number;
}

interface Embed {
  item: EmbedItem;
  key: string;
  rel: Relationship;
  level: Level;
  joinAlias: string;
}

export interface Level {
  rel: Relation;
  /** SQL of the source (a qualified table, a CTE name or a parenthesised subquery). */
  from: string;
  alias: string;
  items: SelectItem[];
  params: LevelParams;
  embeds: Embed[];
}

export interface Planner {
  cache: SchemaCache;
  /** Resolved `::type` casts: text as written → SQL type from format_type(). */
  casts: Map<string, string>;
  counter: { n: number };
}

function resolveRelationship(planner: Planner, parent: Relation, item: EmbedItem): Relationship {
  const all = relationshipsOf(planner.cache, parent);
  let candidates = all.filter((r) => r.target.name === item.name);
  if (candidates.length === 0) {
    // Embedding through a FK column or a constraint name (`owner_id(*)`, `todos_owner_fkey(*)`).
    candidates = all.filter(
      (r) =>
        r.name === item.name ||
        (r.cardinality === 'many-to-one' && r.pairs.length === 1 && r.pairs[0][0] === item.name),
    );
  }
  if (item.hint) {
    const hint = item.hint;
    candidates = candidates.filter(
      (r) =>
        r.name === hint ||
        r.pairs.some(([p, t]) => p === hint || t === hint) ||
        (r.cardinality === 'many-to-one' && r.target.name === hint) ||
        (r.junction && (r.fk.name === hint || r.junction.fk2.name === hint)),
    );
  }
  if (candidates.length === 0) {
    throw new CacheMissError(
      400,
      'PGRST200',
      `Could not find a relationship between '${parent.name}' and '${item.name}' in the schema cache`,
      `Searched for a foreign key relationship between '${parent.name}' and '${item.name}'${
        item.hint ? ` using the hint '${item.hint}'` : ''
      } in the schema '${parent.schema}', but no matches were found.`,
    );
  }
  if (candidates.length > 1) {
    const fmt = (cols: string[]) => `(${cols.join(', ')})`;
    throw new RestError(
      300,
      'PGRST201',
      `Could not embed because more than one relationship was found for '${parent.name}' and '${item.name}'`,
      candidates.map((r) => ({
        cardinality: r.cardinality,
        embedding: `${parent.name} with ${r.target.name}`,
        relationship: r.junction
          ? `${r.name} using ${r.fk.name}${fmt(r.junction.source.map((p) => p[0]))} and ${r.junction.fk2.name}${fmt(
              r.junction.target.map((p) => p[0]),
            )}`
          : `${r.name} using ${parent.name}${fmt(r.pairs.map((p) => p[0]))} and ${r.target.name}${fmt(
              r.pairs.map((p) => p[1]),
            )}`,
      })),
      `Try changing '${item.name}' to one of the following: ${candidates
        .map((r) => `'${item.name}!${r.name}'`)
        .join(', ')}. Find the desired relationship in the 'details' key.`,
    );
  }
  return candidates[0];
}

/** Builds the tree of levels (the relation and its embeds) and attaches per-level parameters. */
export function planLevel(
  planner: Planner,
  rel: Relation,
  from: string,
  items: SelectItem[],
  levelParams: Map<string, LevelParams>,
  path: string[] = [],
  used: Set<string> = new Set(),
): Level {
  const pathKey = path.join('\u0000');
  used.add(pathKey);
  const level: Level = {
    rel,
    from,
    alias: `t${planner.counter.n++}`,
    items,
    params: levelParams.get(pathKey) ?? { conds: [] },
    embeds: [],
  };
  for (const item of items) {
    if (item.kind !== 'embed') continue;
    const relationship = resolveRelationship(planner, rel, item);
    const key = item.alias ?? item.name;
    const child = planLevel(
      planner,
      relationship.target,
      qualified(relationship.target.schema, relationship.target.name),
      item.items,
      levelParams,
      [...path, key],
      used,
    );
    if (
      item.spread &&
      (relationship.cardinality === 'one-to-many' || relationship.cardinality === 'many-to-many')
    ) {
      throw new RestError(
        400,
        'PGRST127',
        'Feature not implemented',
        'spreading a to-many embedded resource is not supported by the local stack',
      );
    }
    level.embeds.push({ item, key, rel: relationship, level: child, joinAlias: `j${planner.counter.n++}` });
  }
  if (path.length === 0) {
    for (const key of levelParams.keys()) {
      if (!used.has(key)) {
        const name = key.split('\u0000').pop() ?? key;
        throw new RestError(
          400,
          'PGRST108',
          `'${name}' is not an embedded resource in this request`,
          null,
          `Verify that '${name}' is included in the 'select' query parameter.`,
        );
      }
    }
  }
  return level;
}

function columnExpr(level: Level, field: Field, params: Params, planner?: Planner): string {
  let expr: string;
  if (level.rel.columnMap.has(field.name)) {
    expr = `${ident(level.alias)}.${ident(field.name)}`;
  } else {
    const fn = planner?.cache.computed.get(qualifiedKey(level.rel.schema, level.rel.name))?.get(field.name);
    if (!fn) throw columnNotFound(level.rel, field.name);
    // Computed field: `fn(row)`; the cast lets a CTE/record source pass as the table's row type.
    expr = `${qualified(fn.schema, fn.name)}(${ident(level.alias)}::${qualified(level.rel.schema, level.rel.name)})`;
  }
  for (const step of field.path) {
    expr += `${step.arrow}${step.index ? `${params.add(step.key)}::int` : params.text(step.key)}`;
  }
  return expr;
}

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
  return jsonObject(pairs, params);
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
    : (options.selectList ?? `${rowObject(level, params, planner)} as "pgrst_row"`);
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

/** Top-level filters of a write (no embeds): `where` of UPDATE/DELETE. */
export function whereSql(level: Level, params: Params, planner: Planner): string[] {
  return level.params.conds.map((cond) => conditionSql(level, cond, params, planner));
}

/** Collects the `::type` casts of a select tree so they can be resolved before planning. */
export function collectCasts(items: SelectItem[], out: Set<string> = new Set()): Set<string> {
  for (const item of items) {
    if (item.kind === 'field' && item.cast) out.add(item.cast);
    if (item.kind === 'embed') collectCasts(item.items, out);
  }
  return out;
}
