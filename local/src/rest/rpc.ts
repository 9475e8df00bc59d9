import type { RestContext } from './context.ts';
import { CacheMissError, RestError } from './errors.ts';
import { type LevelParams, levelParamsFrom } from './parse/level-params.ts';
import { parseSelect } from './parse/select.ts';
import { ident, Params, qualified } from './query/fragment.ts';
import { planRead, readReply } from './read.ts';
import { type ApiRequest, countWanted } from './request.ts';
import { contentRange, type Reply, singularityError } from './response.ts';
import { type Fn, qualifiedKey, type Relation, type SchemaCache } from './schema-cache.ts';
import { requestTransaction } from './tx.ts';

/**
 * `/rpc/<fn>` (PostgREST's Plan/CallPlan.hs): the overload chosen by argument names (the body's
 * keys for POST, query parameters for GET), called with named arguments; the result shaped by
 * what the function returns: void (204), a scalar or a set of scalars, or rows that read like a
 * relation (select, filters, order, paging, embeds for table row types). Only a POST of a
 * volatile function runs in a read-write transaction.
 */

const reservedParams = new Set(['select', 'columns', 'on_conflict', 'order', 'limit', 'offset', 'or', 'and']);

export async function rpc(
  rest: RestContext,
  request: ApiRequest,
  name: string,
  cache: SchemaCache,
): Promise<Reply> {
  const body = request.body;
  const candidates = cache.functions.get(qualifiedKey(request.schema, name));
  const isPost = request.method === 'POST';
  if (!candidates) {
    const keys = isPost
      ? body && typeof body === 'object' && !Array.isArray(body)
        ? Object.keys(body)
        : []
      : [...request.query.keys()].filter((k) => !reservedParams.has(k));
    throw functionNotFound(request.schema, name, keys, isPost);
  }
  const { fn, args, whole } = chooseFunction(request, name, candidates, body);
  const params = new Params();
  const target = qualified(fn.schema, fn.name);
  let call: string;
  let source = '';
  if (whole) {
    call = `${target}(${params.add(JSON.stringify(body ?? null))}::${fn.params[0].type})`;
  } else {
    const present = fn.params.filter((p) => args && p.name in args);
    if (present.length === 0) {
      call = `${target}()`;
    } else {
      const argValues: Record<string, unknown> = {};
      for (const p of present) argValues[p.name] = (args as Record<string, unknown>)[p.name];
      source = `json_to_record(${params.add(JSON.stringify(argValues))}::json) as "pgrst_args"(${present
        .map((p) => `${ident(p.name)} ${p.type}`)
        .join(', ')})`;
      call = `${target}(${present.map((p) => `${ident(p.name)} := "pgrst_args".${ident(p.name)}`).join(', ')})`;
    }
  }
  const argNames = new Set(fn.params.map((p) => p.name));
  const readOnly = !isPost || fn.volatility !== 'v';
  const from = source ? ` from ${source}` : '';
  if (fn.returnKind === 'void') {
    return requestTransaction(rest, request, readOnly, async (client) => {
      await client.query(`select ${call}${from}`, params.values);
      return { status: 204 };
    });
  }
  if (fn.returnKind === 'scalar') {
    return requestTransaction(rest, request, readOnly, async (client) => {
      if (!fn.returnsSet) {
        const result = await client.query(`select to_json(${call})::text as "body"${from}`, params.values);
        return { status: 200, body: result.rows[0]?.body ?? 'null' };
      }
      const levelParams = levelParamsFrom(request.query, isPost ? new Set() : argNames);
      const root = levelParams.get('') as LevelParams;
      let paging = '';
      if (root.limit !== undefined) paging += ` limit ${params.add(root.limit)}`;
      if (root.offset !== undefined) paging += ` offset ${params.add(root.offset)}`;
      const total = countWanted(request)
        ? `(select count(*) from (select ${call} as "pgrst_v"${from}) as "pgrst_c")`
        : 'null';
      const result = await client.query(
        `select count(*) as "page", ${total} as "total", coalesce(json_agg("pgrst_v"), '[]'::json)::text as "body",
             (json_agg("pgrst_v")->0)::text as "first"
           from (select ${call} as "pgrst_v"${from}${paging}) as "pgrst_s"`,
        params.values,
      );
      const row = result.rows[0];
      const page = Number(row.page);
      if (request.accept.single) {
        if (page !== 1) throw singularityError(page);
        return { status: 200, body: row.first };
      }
      const lower = root.offset ?? 0;
      const totalCount = row.total === null ? null : Number(row.total);
      return {
        status: totalCount !== null && page < totalCount ? 206 : 200,
        body: row.body,
        headers: { 'content-range': contentRange(lower, page, totalCount) },
      };
    });
  }
  // Composite results behave like a relation: select, filters, order, paging, embeds (for table row types).
  const rel: Relation = (fn.returnRelation &&
    cache.relations.get(qualifiedKey(fn.returnRelation.schema, fn.returnRelation.name))) || {
    schema: fn.schema,
    name: fn.name,
    kind: 'f',
    columns: fn.returnColumns,
    columnMap: new Map(fn.returnColumns.map((c) => [c.name, c])),
    pk: [],
    uniques: [],
  };
  const fromSql = `(select "pgrst_f".* from ${source ? `${source}, ` : ''}${call} as "pgrst_f")`;
  const items = parseSelect(request.query.get('select') ?? '*');
  const levelParams = levelParamsFrom(request.query, isPost ? new Set() : argNames);
  return requestTransaction(rest, request, readOnly, async (client) => {
    const read = await planRead(
      rest,
      client,
      request,
      { cache, rel, from: fromSql, items, levelParams },
      params,
    );
    const out = await readReply(read, {
      forceObject: !fn.returnsSet,
    });
    let status = 200;
    if (out.total !== null && out.page < out.total && !request.accept.single) status = 206;
    return {
      status,
      body: out.body,
      headers: { 'content-range': contentRange(out.lower, out.page, out.total) },
    };
  });
}

/** The overload whose parameter names the arguments match (PGRST203 when several do, PGRST202 when none). */
function chooseFunction(
  request: ApiRequest,
  name: string,
  candidates: Fn[],
  body: unknown,
): { fn: Fn; args: Record<string, unknown> | null; whole: boolean } {
  const isPost = request.method === 'POST';
  const bodyObject =
    isPost && body !== undefined && body !== null && typeof body === 'object' && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : isPost && body === undefined
        ? {}
        : null;
  const queryKeys = [...new Set([...request.query.keys()])].filter((k) => !reservedParams.has(k));
  const matches: { fn: Fn; args: Record<string, unknown> }[] = [];
  for (const fn of candidates) {
    if (fn.params.some((p) => p.name === '')) continue;
    const names = new Set(fn.params.map((p) => p.name));
    let args: Record<string, unknown>;
    if (isPost) {
      if (!bodyObject) continue;
      if (!Object.keys(bodyObject).every((k) => names.has(k))) continue;
      args = bodyObject;
    } else {
      args = {};
      for (const k of queryKeys) {
        if (!names.has(k)) continue;
        const all = request.query.getAll(k);
        args[k] = all.length > 1 ? `{${all.join(',')}}` : all[0];
      }
    }
    if (fn.params.every((p) => p.hasDefault || p.name in args)) matches.push({ fn, args });
  }
  if (matches.length > 1 && !isPost) {
    const best = Math.max(...matches.map((m) => Object.keys(m.args).length));
    const top = matches.filter((m) => Object.keys(m.args).length === best);
    matches.splice(0, matches.length, ...top);
  }
  if (matches.length === 1) return { ...matches[0], whole: false };
  if (matches.length > 1) {
    throw new RestError(
      300,
      'PGRST203',
      `Could not choose the best candidate function between: ${matches
        .map(
          (m) =>
            `${m.fn.schema}.${m.fn.name}(${m.fn.params.map((p) => `${p.name} => ${p.type}`).join(', ')})`,
        )
        .join(', ')}`,
      null,
      'Try renaming the parameters or the function itself in the database so function overloading can be resolved',
    );
  }
  if (isPost) {
    const single = candidates.find(
      (fn) =>
        fn.params.length === 1 &&
        fn.params[0].name === '' &&
        ['json', 'jsonb'].includes(fn.params[0].typname),
    );
    if (single) return { fn: single, args: null, whole: true };
  }
  const keys = isPost ? (bodyObject ? Object.keys(bodyObject) : []) : queryKeys;
  throw functionNotFound(request.schema, name, keys, isPost);
}

function functionNotFound(schema: string, name: string, keys: string[], isPost: boolean): RestError {
  const sorted = [...keys].sort();
  const prms = sorted.length === 0 ? ' without parameters' : `(${sorted.join(', ')})`;
  const det =
    sorted.length === 0
      ? ' without parameters'
      : ` with parameter${sorted.length > 1 ? 's' : ''} ${sorted.join(', ')}`;
  return new CacheMissError(
    404,
    'PGRST202',
    `Could not find the function ${schema}.${name}${prms} in the schema cache`,
    `Searched for the function ${schema}.${name}${det}${isPost ? ' or with a single unnamed json/jsonb parameter' : ''}, but no matches were found in the schema cache.`,
  );
}
