import type pg from 'pg';
import type { RestContext } from './context.ts';
import { RestError } from './errors.ts';
import { type LevelParams, levelParamsFrom } from './parse/level-params.ts';
import { collectCasts, parseSelect, type SelectItem } from './parse/select.ts';
import { Params, qualified } from './query/fragment.ts';
import { type Level, type Planner, planLevel } from './query/plan.ts';
import { rowsSql } from './query/rows.ts';
import { type ApiRequest, countWanted } from './request.ts';
import { contentRange, csvContentType, type Reply, singularityError } from './response.ts';
import type { Relation, SchemaCache } from './schema-cache.ts';
import { requestTransaction } from './tx.ts';

/**
 * GET and HEAD on a table or view, and the read that shapes every JSON reply (paging from
 * limit/offset, Range and max_rows; `Prefer: count`; singular objects; stripped nulls), which
 * writes with `return=representation` and composite RPC results go through too.
 */

export interface ReadOptions {
  /** A `with …` the read selects from (a write's RETURNING). */
  prefix?: string;
  /** One object rather than an array (RPC returning a single composite). */
  forceObject?: boolean;
  noFilters?: boolean;
  /** Writes are not paged by Range or max_rows. */
  isWrite?: boolean;
  /** Upserts: whether any row was inserted (rather than updated) decides 201 vs 200. */
  insertedSql?: string;
  /**
   * `Accept: text/csv`: the body as PostgREST writes it, in SQL: a header of the row keys, then each
   * row's `row(...)::text` without its parentheses (timestamps, arrays and json in their text form,
   * quoted as composite output quotes them).
   */
  csv?: boolean;
}

export interface ReadResult {
  page: number;
  total: number | null;
  body: string;
  lower: number;
  inserted: boolean;
}

/**
 * A request's read, planned on its transaction's connection: what `readReply` runs (PostgREST's
 * ReadPlanTree, with the request and connection it belongs to). Writes read their rows back
 * through it, over their RETURNING.
 */
export interface PlannedRead {
  rest: RestContext;
  client: pg.PoolClient;
  request: ApiRequest;
  planner: Planner;
  level: Level;
  /** The statement's parameters; an RPC's call arguments are already in them. */
  params: Params;
}

/** What a read selects from: the relation, and the SQL of its source when that is not the relation itself (an RPC's call). */
export interface ReadSource {
  cache: SchemaCache;
  rel: Relation;
  from?: string;
  items: SelectItem[];
  levelParams: Map<string, LevelParams>;
}

/** Plans the request's select, embeds and filters over `source`, with the select's `::type` casts resolved on `client`. */
export async function planRead(
  rest: RestContext,
  client: pg.PoolClient,
  request: ApiRequest,
  source: ReadSource,
  params = new Params(),
): Promise<PlannedRead> {
  const planner: Planner = {
    cache: source.cache,
    casts: await rest.schemaCache.resolveCasts(client, collectCasts(source.items)),
    counter: { n: 0 },
  };
  const from = source.from ?? qualified(source.rel.schema, source.rel.name);
  const level = planLevel(planner, source.rel, from, source.items, source.levelParams);
  return { rest, client, request, planner, level, params };
}

/** Runs a read of `level` and shapes the response (paging, count, singular, csv). */
export async function readReply(read: PlannedRead, options: ReadOptions = {}): Promise<ReadResult> {
  const { rest, client, request, planner, level, params } = read;
  const root = level.params;
  let lower = root.offset ?? 0;
  let upper = root.limit !== undefined ? lower + root.limit - 1 : Number.POSITIVE_INFINITY;
  const range = /^(\d+)-(\d*)$/.exec(String(request.headers.range ?? '').trim());
  if (!options.isWrite && range && ['GET', 'HEAD'].includes(request.method)) {
    const from = Number(range[1]);
    const to = range[2] === '' ? Number.POSITIVE_INFINITY : Number(range[2]);
    if (to < from) {
      throw new RestError(
        416,
        'PGRST103',
        'Requested range not satisfiable',
        'The lower boundary must be lower than or equal to the upper boundary in the Range header.',
      );
    }
    lower = Math.max(lower, from);
    upper = Math.min(upper, to);
  }
  let limit = Number.isFinite(upper) ? Math.max(0, upper - lower + 1) : undefined;
  const maxRows = rest.api.maxRows;
  if (!options.isWrite && maxRows > 0) limit = limit === undefined ? maxRows : Math.min(limit, maxRows);
  const csv = options.csv === true && !request.accept.single && !options.forceObject;
  const rows = rowsSql(level, params, planner, { limit, offset: lower, noFilters: options.noFilters, csv });
  const wantCount = countWanted(request);
  const countSql = wantCount
    ? `(select count(*) from (${rowsSql(level, params, planner, { countOnly: true, noFilters: options.noFilters })}) as "pgrst_c")`
    : 'null';
  let agg = `coalesce(json_agg("pgrst_t"."pgrst_row"), '[]'::json)`;
  if (request.accept.stripNulls) agg = `json_strip_nulls(${agg})`;
  const bodySql = csv
    ? `coalesce((select string_agg("k", ',') from json_object_keys((${agg})->0) as "k"), '') || chr(10) ||
       coalesce(string_agg(substring("pgrst_t"."pgrst_csv", 2, length("pgrst_t"."pgrst_csv") - 2), chr(10)), '')`
    : `${agg}::text`;
  const sql = `${options.prefix ?? ''} select count(*) as "page", ${countSql} as "total", ${bodySql} as "body",
      (${agg}->0)::text as "first", ${options.insertedSql ?? 'true'} as "inserted" from (${rows}) as "pgrst_t"`;
  const result = await client.query(sql, params.values);
  const row = result.rows[0];
  const page = Number(row.page);
  const total = row.total === null ? null : Number(row.total);
  if (request.accept.single || options.forceObject) {
    if (request.accept.single && page !== 1) throw singularityError(page);
    return { page, total, body: row.first ?? 'null', lower, inserted: row.inserted };
  }
  return { page, total, body: row.body, lower, inserted: row.inserted };
}

export async function tableRead(
  rest: RestContext,
  request: ApiRequest,
  rel: Relation,
  cache: SchemaCache,
): Promise<Reply> {
  const items = parseSelect(request.query.get('select') ?? '*');
  const levelParams = levelParamsFrom(request.query, new Set());
  return requestTransaction(rest, request, true, async (client) => {
    const read = await planRead(rest, client, request, { cache, rel, items, levelParams });
    const { page, total, body, lower } = await readReply(read, { csv: request.accept.csv });
    let status = 200;
    if (total !== null) {
      if (lower > total && !(lower === 0 && total === 0)) {
        throw new RestError(
          416,
          'PGRST103',
          'Requested range not satisfiable',
          `An offset of ${lower} was requested, but there are only ${total} rows.`,
        );
      }
      if (page < total && !request.accept.single) status = 206;
    }
    return {
      status,
      body,
      headers: { 'content-range': contentRange(lower, page, total) },
      ...(request.accept.csv && !request.accept.single ? { contentType: csvContentType } : {}),
    };
  });
}
