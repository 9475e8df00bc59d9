import type { RestContext } from './context.ts';
import { CacheMissError, invalidBody, RestError } from './errors.ts';
import { levelParamsFrom } from './parse/level-params.ts';
import { parseColumns, parseSelect } from './parse/select.ts';
import { whereSql } from './query/filter.ts';
import { ident, qualified } from './query/fragment.ts';
import type { Level } from './query/plan.ts';
import { rowsSql } from './query/rows.ts';
import { type PlannedRead, planRead, readReply } from './read.ts';
import { type ApiRequest, countWanted } from './request.ts';
import { contentRange, type Reply, singularityError } from './response.ts';
import type { Relation, SchemaCache } from './schema-cache.ts';
import { requestTransaction } from './tx.ts';

/**
 * POST (insert and upsert), PATCH and DELETE on a table or view: the statement, then the reply
 * PostgREST gives for `Prefer: return=minimal|headers-only|representation`, `count`,
 * `max-affected` and a singular Accept.
 */

export async function tableWrite(
  rest: RestContext,
  request: ApiRequest,
  rel: Relation,
  cache: SchemaCache,
): Promise<Reply> {
  const body = request.body;
  const items = parseSelect(request.query.get('select') ?? '*');
  const levelParams = levelParamsFrom(request.query, new Set());
  return requestTransaction(rest, request, false, async (client) => {
    const read = await planRead(rest, client, request, { cache, rel, items, levelParams });
    let sql: string;
    let upsertMerge = false;
    if (request.method === 'POST') {
      ({ sql, upsertMerge } = insertSql(read, body));
    } else {
      const filtered = filteredWriteSql(read, body);
      if (filtered === null) {
        // PATCH without columns: nothing to update.
        return request.prefer.get('return') === 'representation'
          ? { status: 200, body: request.accept.single ? 'null' : '[]' }
          : { status: 204 };
      }
      sql = filtered;
    }
    const out = await writeReply(read, sql, upsertMerge);
    if (request.accept.single && out.count !== 1) throw singularityError(out.count);
    const maxAffected = request.prefer.get('max-affected');
    if (
      request.prefer.get('handling') === 'strict' &&
      maxAffected !== undefined &&
      request.method !== 'POST' &&
      out.count > Number(maxAffected)
    ) {
      throw new RestError(
        400,
        'PGRST124',
        'Query result exceeds max-affected preference constraint',
        `The query affects ${out.count} rows`,
      );
    }
    const total = countWanted(request) ? out.count : null;
    const headers: Record<string, string> = {};
    if (request.method === 'POST') {
      headers['content-range'] = `*/${total ?? '*'}`;
      if (request.prefer.get('return') === 'headers-only' && out.returned.length > 0) {
        const first = out.returned[0];
        const q = rel.pk.map((c) => `${encodeURIComponent(c)}=eq.${encodeURIComponent(String(first[c]))}`);
        headers.location = `/${encodeURIComponent(rel.name)}?${q.join('&')}`;
      }
      // PostgREST: 200 when a merge upsert only updated existing rows (known when rows are returned).
      const status = upsertMerge && !out.inserted ? 200 : 201;
      return out.body !== undefined ? { status, body: out.body, headers } : { status, headers };
    }
    headers['content-range'] = contentRange(0, out.count, total);
    return out.body !== undefined ? { status: 200, body: out.body, headers } : { status: 204, headers };
  });
}

/** The INSERT of a POST body (one object or an array), with `on conflict` for `Prefer: resolution`. */
function insertSql(
  { request, level, params }: PlannedRead,
  body: unknown,
): { sql: string; upsertMerge: boolean } {
  const rel = level.rel;
  const target = qualified(rel.schema, rel.name);
  const t0 = ident(level.alias);
  let sql: string;
  let upsertMerge = false;
  if (body === undefined || body === null || typeof body !== 'object')
    throw invalidBody('Empty or invalid json');
  const rows = (Array.isArray(body) ? body : [body]) as unknown[];
  if (rows.some((r) => r === null || typeof r !== 'object' || Array.isArray(r))) {
    throw invalidBody('All object keys must match');
  }
  const objects = rows as Record<string, unknown>[];
  const columns = payloadColumns(request, rel, objects);
  const missingDefault = request.prefer.get('missing') === 'default';
  const cols = columns.map(ident).join(', ');
  if (objects.length === 0) {
    sql = `insert into ${target} as ${t0} select * from ${target} where false`;
  } else if (columns.length === 0) {
    sql =
      objects.length === 1
        ? `insert into ${target} as ${t0} default values`
        : `insert into ${target} as ${t0} select from json_array_elements(${params.add(JSON.stringify(objects))}::json)`;
  } else if (!missingDefault || objects.every((r) => columns.every((c) => c in r))) {
    sql = `insert into ${target} as ${t0} (${cols}) select ${cols} from json_populate_recordset(null::${target}, ${params.add(
      JSON.stringify(objects),
    )}::json) as "pgrst_body"`;
  } else {
    const values = objects.map((row) => {
      const p = params.add(JSON.stringify(row));
      return `(${columns
        .map((c) =>
          c in row ? `(json_populate_record(null::${target}, ${p}::json)).${ident(c)}` : 'default',
        )
        .join(', ')})`;
    });
    sql = `insert into ${target} as ${t0} (${cols}) values ${values.join(', ')}`;
  }
  const resolution = request.prefer.get('resolution');
  if (resolution === 'merge-duplicates' || resolution === 'ignore-duplicates') {
    const onConflict = request.query.get('on_conflict');
    const conflictCols = onConflict !== null ? parseColumns(onConflict) : rel.pk;
    requireColumns(rel, conflictCols);
    const conflictTarget = conflictCols.length > 0 ? ` (${conflictCols.map(ident).join(', ')})` : '';
    if (resolution === 'merge-duplicates' && columns.length > 0 && conflictCols.length > 0) {
      upsertMerge = true;
      sql += ` on conflict${conflictTarget} do update set ${columns
        .map((c) => `${ident(c)} = excluded.${ident(c)}`)
        .join(', ')}`;
    } else {
      sql += ` on conflict${conflictTarget} do nothing`;
    }
  }
  return { sql, upsertMerge };
}

/** The UPDATE of a PATCH or the DELETE, on the filtered rows; null for a PATCH with no columns. */
function filteredWriteSql({ request, level, params, planner }: PlannedRead, body: unknown): string | null {
  const rel = level.rel;
  const target = qualified(rel.schema, rel.name);
  const t0 = ident(level.alias);
  if (level.params.conds.length === 0) {
    const verb = request.method === 'PATCH' ? 'UPDATE' : 'DELETE';
    throw new RestError(400, '21000', `${verb} requires a WHERE clause`);
  }
  let whereText: string;
  if (level.params.limit === undefined && level.params.offset === undefined) {
    whereText = whereSql(level, params, planner).join(' and ');
  } else {
    // PATCH/DELETE with limit (PostgREST ≥ 11): only the first rows in the given order.
    const subLevel: Level = { ...level, alias: `${level.alias}_l`, embeds: [], items: [] };
    const sub = rowsSql(subLevel, params, planner, { selectList: `${ident(subLevel.alias)}.ctid` });
    whereText = `${t0}.ctid = any(array(${sub}))`;
  }
  if (request.method !== 'PATCH') return `delete from ${target} as ${t0} where ${whereText}`;
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidBody('Empty or invalid json');
  }
  const columns = payloadColumns(request, rel, [body as Record<string, unknown>]);
  if (columns.length === 0) return null;
  return `update ${target} as ${t0} set ${columns
    .map((c) => `${ident(c)} = "pgrst_body".${ident(c)}`)
    .join(
      ', ',
    )} from json_populate_record(null::${target}, ${params.add(JSON.stringify(body))}::json) as "pgrst_body" where ${whereText}`;
}

/** Columns a write touches: `columns=` if given, else the payload's keys (all objects must agree). */
function payloadColumns(request: ApiRequest, rel: Relation, rows: Record<string, unknown>[]): string[] {
  const columnsParam = request.query.get('columns');
  let columns: string[];
  if (columnsParam !== null) {
    columns = [...new Set(parseColumns(columnsParam))];
  } else {
    columns = Object.keys(rows[0] ?? {});
    const missingDefault = request.prefer.get('missing') === 'default';
    if (!missingDefault) {
      const sig = [...columns].sort().join('\u0000');
      if (rows.some((r) => Object.keys(r).sort().join('\u0000') !== sig)) {
        throw invalidBody('All object keys must match');
      }
    } else {
      columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    }
  }
  requireColumns(rel, columns);
  return columns;
}

/** PGRST204 for the first of `columns` the relation does not have (a migration may add it: a cache miss). */
function requireColumns(rel: Relation, columns: readonly string[]): void {
  for (const column of columns) {
    if (!rel.columnMap.has(column)) {
      throw new CacheMissError(
        400,
        'PGRST204',
        `Could not find the '${column}' column of '${rel.name}' in the schema cache`,
      );
    }
  }
}

/** Runs the write and returns what the reply needs, reading the rows back only for `return=representation`. */
async function writeReply(
  read: PlannedRead,
  writeSql: string,
  upsert: boolean,
): Promise<{
  count: number;
  body?: string;
  total: number | null;
  returned: Record<string, unknown>[];
  inserted: boolean;
}> {
  const { client, request, level, params } = read;
  const ret = request.prefer.get('return');
  // xmax = 0 marks a freshly inserted row (an upsert that updated leaves xmax set).
  const insertedFlag = upsert ? `, (${ident(level.alias)}.xmax = 0) as "pgrst_inserted"` : '';
  if (ret === 'representation') {
    const prefix = `with "pgrst_source" as (${writeSql} returning ${ident(level.alias)}.*${insertedFlag})`;
    const sourceLevel: Level = { ...level, from: '"pgrst_source"' };
    const out = await readReply(
      { ...read, level: sourceLevel },
      {
        prefix,
        noFilters: true,
        isWrite: true,
        insertedSql: upsert
          ? `(select coalesce(bool_or("pgrst_inserted"), true) from "pgrst_source")`
          : undefined,
      },
    );
    return { count: out.page, body: out.body, total: out.total, returned: [], inserted: out.inserted };
  }
  if (ret === 'headers-only' && request.method === 'POST' && level.rel.pk.length > 0) {
    const pk = level.rel.pk.map((c) => `${ident(level.alias)}.${ident(c)}`).join(', ');
    const result = await client.query(`${writeSql} returning ${pk}${insertedFlag}`, params.values);
    const inserted = !upsert || result.rows.length === 0 || result.rows.some((r) => r.pgrst_inserted);
    return { count: result.rowCount ?? 0, total: null, returned: result.rows, inserted };
  }
  // No RETURNING here: it would make the SELECT policies apply to an insert-only role.
  const result = await client.query(writeSql, params.values);
  return { count: result.rowCount ?? 0, total: null, returned: [], inserted: true };
}
