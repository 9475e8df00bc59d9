import type { IncomingMessage, ServerResponse } from 'node:http';
import pg from 'pg';
import type { LocalService, StackContext } from '../context.ts';
import { HttpError, readBody } from '../http.ts';
import { type JwtClaims, verifyJwt } from '../jwt.ts';
import { fromPgError, invalidBody, RestError } from './errors.ts';
import {
  type Condition,
  parseColumns,
  parseFilterExpr,
  parseFilterKey,
  parseLogic,
  parseNonNegativeInt,
  parseOrder,
  parsePrefer,
  parseSelect,
  type SelectItem,
} from './parse.ts';
import {
  CacheMissError,
  collectCasts,
  ident,
  type Level,
  type LevelParams,
  Params,
  type Planner,
  planLevel,
  qualified,
  rowsSql,
  whereSql,
} from './query.ts';
import { type Fn, loadSchemaCache, qualifiedKey, type Relation, type SchemaCache } from './schema-cache.ts';

/**
 * /rest/v1: the PostgREST subset supabase-js uses. Like PostgREST, the service connects as the
 * non-superuser `authenticator` (NOINHERIT, member of anon/authenticated/service_role only), for
 * requests, schema-cache introspection and `LISTEN pgrst` alike, so a JWT whose role authenticator
 * may not become (e.g. `postgres`) fails with 42501 "permission denied to set role" (403, as the
 * token carries a role claim). Each request is one transaction with `role`, `request.jwt.claims` (and the legacy `request.jwt.claim.*`), `request.method`,
 * `request.path`, `request.headers` and `search_path` set transaction-locally, so RLS is Postgres's.
 */

interface Auth {
  role: string;
  claims: JwtClaims;
  /** PostgREST maps 42501 to 401 for the anonymous role and 403 otherwise. */
  authed: boolean;
}

interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  prefer: Map<string, string>;
  schema: string;
  auth: Auth;
  accept: { single: boolean; stripNulls: boolean; csv: boolean };
  started: number;
}

interface Reply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  contentType?: string;
}

const reservedParams = new Set(['select', 'columns', 'on_conflict', 'order', 'limit', 'offset', 'or', 'and']);
const jsonType = 'application/json; charset=utf-8';

function authenticate(req: IncomingMessage, secret: string): Auth {
  const header = req.headers.authorization;
  if (header === undefined) return { role: 'anon', claims: { role: 'anon' }, authed: false };
  const match = /^bearer\s*(.*)$/i.exec(header.trim());
  const token = match ? match[1].trim() : '';
  const decodeError = (message: string) =>
    new RestError(401, 'PGRST301', message, null, null, {
      'www-authenticate': `Bearer error="invalid_token", error_description=${JSON.stringify(message)}`,
    });
  if (!match) return { role: 'anon', claims: { role: 'anon' }, authed: false };
  if (token === '') throw decodeError('Empty JWT is sent in Authorization header');
  const parts = token.split('.').length;
  if (parts !== 3) throw decodeError(`Expected 3 parts in JWT; got ${parts}`);
  const result = verifyJwt(token, secret, { skewSeconds: 30 });
  if (!result.ok) {
    if (result.reason === 'expired') {
      throw new RestError(401, 'PGRST303', 'JWT expired', null, null, {
        'www-authenticate': 'Bearer error="invalid_token", error_description="JWT expired"',
      });
    }
    if (result.reason === 'unsupported_alg') throw decodeError('Wrong or unsupported encoding algorithm');
    if (result.reason === 'malformed') throw decodeError("JWT couldn't be decoded");
    throw decodeError('JWT cryptographic operation failed');
  }
  const claims = result.claims;
  if (claims.exp !== undefined && typeof claims.exp !== 'number') {
    throw new RestError(401, 'PGRST303', "The JWT 'exp' claim must be a number");
  }
  const role = typeof claims.role === 'string' && claims.role !== '' ? claims.role : 'anon';
  return { role, claims, authed: role !== 'anon' };
}

function parseAccept(header: string | undefined): Request['accept'] {
  const accept = { single: false, stripNulls: false, csv: false };
  if (!header) return accept;
  const types = header.split(',').map((t) => t.trim().toLowerCase());
  for (const type of types) {
    const [base, ...params] = type.split(';').map((p) => p.trim());
    const stripped = params.includes('nulls=stripped');
    if (base === 'application/vnd.pgrst.object+json' || base === 'application/vnd.pgrst.object') {
      return { single: true, stripNulls: stripped, csv: false };
    }
    if (base === 'text/csv') return { single: false, stripNulls: false, csv: true };
    if (
      [
        'application/json',
        'application/vnd.pgrst.array+json',
        'application/vnd.pgrst.array',
        '*/*',
        'application/*',
      ].includes(base)
    ) {
      return { single: false, stripNulls: stripped, csv: false };
    }
  }
  throw new RestError(406, 'PGRST107', `None of these media types are available: ${types.join(', ')}`);
}

function toCsv(jsonText: string): string {
  const rows = JSON.parse(jsonText) as Record<string, unknown>[];
  if (rows.length === 0) return '';
  const keys = Object.keys(rows[0]);
  const cell = (v: unknown): string => {
    if (v === null || v === undefined) return '';
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [keys.map(cell).join(','), ...rows.map((r) => keys.map((k) => cell(r[k])).join(','))].join('\n');
}

/** Per-level filters, order and paging from the query string (`rel.col=…`, `rel.order=…`, `or=…`). */
function levelParamsFrom(query: URLSearchParams, skip: Set<string>): Map<string, LevelParams> {
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

function contentRange(lower: number, count: number, total: number | null): string {
  const totalText = total === null ? '*' : String(total);
  if (count <= 0) return `*/${totalText}`;
  return `${lower}-${lower + count - 1}/${totalText}`;
}

function singularityError(n: number): RestError {
  return new RestError(
    406,
    'PGRST116',
    'Cannot coerce the result to a single JSON object',
    `The result contains ${n} rows`,
  );
}

function relationNotFound(schema: string, name: string): RestError {
  return new CacheMissError(
    404,
    'PGRST205',
    `Could not find the table '${schema}.${name}' in the schema cache`,
  );
}

export function createRestService(): LocalService {
  let ctx: StackContext;
  let cache: SchemaCache | null = null;
  let cacheLoadedAt = 0;
  let loading: Promise<SchemaCache> | null = null;
  let loadingStartedAt = 0;
  let listener: pg.PoolClient | null = null;
  /** Connected as `authenticator`; created in start(), ended in stop(). */
  let pool: pg.Pool | null = null;
  let stopped = false;
  const db = (): pg.Pool => {
    if (!pool) throw new RestError(503, 'PGRST001', 'Database client error. Retrying the connection.');
    return pool;
  };
  const typeCache = new Map<string, string>();

  const reload = (): Promise<SchemaCache> => {
    if (loading) return loading;
    loadingStartedAt = Date.now();
    const started = loadingStartedAt;
    loading = loadSchemaCache(db(), ctx.config.api.schemas)
      .then((loaded) => {
        cache = loaded;
        cacheLoadedAt = started;
        typeCache.clear();
        return loaded;
      })
      .finally(() => {
        loading = null;
      });
    return loading;
  };

  /** A cache at least as new as the request (re-reading it once when something was not found). */
  const freshCache = async (since: number): Promise<SchemaCache> => {
    if (loading && loadingStartedAt >= since) return loading;
    if (cacheLoadedAt >= since && cache) return cache;
    if (loading) await loading.catch(() => {});
    return cacheLoadedAt >= since && cache ? cache : reload();
  };

  const listen = async (): Promise<void> => {
    if (stopped) return;
    try {
      const client = await db().connect();
      listener = client;
      client.on('notification', (msg) => {
        if (msg.channel === 'pgrst' && (!msg.payload || msg.payload === 'reload schema')) {
          reload().catch((error) => ctx.log('rest', 'schema cache reload failed', error));
        }
      });
      client.on('error', (error) => {
        ctx.log('rest', 'LISTEN pgrst connection lost; reconnecting', error);
        client.release(error);
        if (listener === client) listener = null;
        setTimeout(() => void listen(), 1000).unref();
      });
      await client.query('listen pgrst');
    } catch (error) {
      ctx.log('rest', 'could not LISTEN pgrst', error);
    }
  };

  const resolveCasts = async (client: pg.PoolClient, items: SelectItem[]): Promise<Map<string, string>> => {
    const casts = new Map<string, string>();
    for (const cast of collectCasts(items)) {
      let resolved = typeCache.get(cast);
      if (!resolved) {
        if (!/^[A-Za-z_][A-Za-z0-9_ ]*(\[\])?$/.test(cast)) {
          throw new RestError(400, '42704', `type "${cast}" does not exist`);
        }
        const result = await client.query('select format_type(to_regtype($1), null) as t', [cast]);
        resolved = result.rows[0]?.t as string | undefined;
        if (!resolved) throw new RestError(400, '42704', `type "${cast}" does not exist`);
        typeCache.set(cast, resolved);
      }
      casts.set(cast, resolved);
    }
    return casts;
  };

  /** Runs `fn` in one transaction with PostgREST's role and request settings. */
  const transaction = async <T>(
    request: Request,
    readOnly: boolean,
    fn: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T> => {
    const client = await db().connect();
    let broken: Error | undefined;
    try {
      await client.query(readOnly ? 'begin read only' : 'begin');
      const searchPath = [
        request.schema,
        ...ctx.config.api.extraSearchPath.filter((s) => s !== request.schema),
      ]
        .map(ident)
        .join(', ');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(request.headers)) {
        if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      }
      const cookies: Record<string, string> = {};
      for (const part of (request.headers.cookie ?? '').split(';')) {
        const i = part.indexOf('=');
        if (i > 0) cookies[part.slice(0, i).trim()] = part.slice(i + 1).trim();
      }
      const claims = request.auth.claims;
      const claimText = (v: unknown) =>
        v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
      await client.query(
        `select set_config('search_path', $1, true), set_config('role', $2, true),
           set_config('request.jwt.claims', $3, true), set_config('request.jwt.claim.sub', $4, true),
           set_config('request.jwt.claim.role', $5, true), set_config('request.jwt.claim.email', $6, true),
           set_config('request.jwt.claim.aud', $7, true),
           set_config('request.method', $8, true), set_config('request.path', $9, true),
           set_config('request.headers', $10, true), set_config('request.cookies', $11, true)`,
        [
          searchPath,
          request.auth.role,
          JSON.stringify({ ...claims, role: request.auth.role }),
          claimText(claims.sub),
          request.auth.role,
          claimText(claims.email),
          claimText(claims.aud),
          request.method,
          request.path,
          JSON.stringify(headers),
          JSON.stringify(cookies),
        ],
      );
      const roleSettings = cache?.roleSettings.get(request.auth.role);
      if (roleSettings && roleSettings.length > 0) {
        await client.query('select set_config(k, v, true) from unnest($1::text[], $2::text[]) as x(k, v)', [
          roleSettings.map((r) => r[0]),
          roleSettings.map((r) => r[1]),
        ]);
      }
      const result = await fn(client);
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch((e: Error) => {
        broken = e;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  };

  const countWanted = (request: Request): boolean => {
    const count = request.prefer.get('count');
    return count === 'exact' || count === 'planned' || count === 'estimated';
  };

  /** Runs a read of `level` and shapes the response (paging, count, singular, csv). */
  const readReply = async (
    client: pg.PoolClient,
    request: Request,
    planner: Planner,
    level: Level,
    params: Params,
    options: {
      prefix?: string;
      forceObject?: boolean;
      noFilters?: boolean;
      isWrite?: boolean;
      /** Upserts: whether any row was inserted (rather than updated) decides 201 vs 200. */
      insertedSql?: string;
    } = {},
  ): Promise<{ page: number; total: number | null; body: string; lower: number; inserted: boolean }> => {
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
    const maxRows = ctx.config.api.maxRows;
    if (!options.isWrite && maxRows > 0) limit = limit === undefined ? maxRows : Math.min(limit, maxRows);
    const rows = rowsSql(level, params, planner, { limit, offset: lower, noFilters: options.noFilters });
    const wantCount = countWanted(request);
    const countSql = wantCount
      ? `(select count(*) from (${rowsSql(level, params, planner, { countOnly: true, noFilters: options.noFilters })}) as "pgrst_c")`
      : 'null';
    let agg = `coalesce(json_agg("pgrst_t"."pgrst_row"), '[]'::json)`;
    if (request.accept.stripNulls) agg = `json_strip_nulls(${agg})`;
    const sql = `${options.prefix ?? ''} select count(*) as "page", ${countSql} as "total", ${agg}::text as "body",
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
  };

  const tableRead = async (request: Request, rel: Relation, currentCache: SchemaCache): Promise<Reply> => {
    const items = parseSelect(request.query.get('select') ?? '*');
    const levelParams = levelParamsFrom(request.query, new Set());
    return transaction(request, true, async (client) => {
      const planner: Planner = {
        cache: currentCache,
        casts: await resolveCasts(client, items),
        counter: { n: 0 },
      };
      const level = planLevel(planner, rel, qualified(rel.schema, rel.name), items, levelParams);
      const params = new Params();
      const { page, total, body, lower } = await readReply(client, request, planner, level, params);
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
      };
    });
  };

  const readBodyJson = async (req: IncomingMessage): Promise<unknown> => {
    const raw = await readBody(req).catch((error: unknown) => {
      if (error instanceof HttpError) throw new RestError(error.status, 'PGRST102', error.message);
      throw error;
    });
    const text = raw.toString('utf8');
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw invalidBody('Empty or invalid json');
    }
  };

  /** Columns a write touches: `columns=` if given, else the payload's keys (all objects must agree). */
  const payloadColumns = (request: Request, rel: Relation, rows: Record<string, unknown>[]): string[] => {
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
    for (const column of columns) {
      if (!rel.columnMap.has(column)) {
        throw new CacheMissError(
          400,
          'PGRST204',
          `Could not find the '${column}' column of '${rel.name}' in the schema cache`,
        );
      }
    }
    return columns;
  };

  const writeReply = async (
    client: pg.PoolClient,
    request: Request,
    planner: Planner,
    level: Level,
    params: Params,
    writeSql: string,
    upsert: boolean,
  ): Promise<{
    count: number;
    body?: string;
    total: number | null;
    returned: Record<string, unknown>[];
    inserted: boolean;
  }> => {
    const ret = request.prefer.get('return');
    // xmax = 0 marks a freshly inserted row (an upsert that updated leaves xmax set).
    const insertedFlag = upsert ? `, (${ident(level.alias)}.xmax = 0) as "pgrst_inserted"` : '';
    if (ret === 'representation') {
      const prefix = `with "pgrst_source" as (${writeSql} returning ${ident(level.alias)}.*${insertedFlag})`;
      const sourceLevel: Level = { ...level, from: '"pgrst_source"' };
      const out = await readReply(client, request, planner, sourceLevel, params, {
        prefix,
        noFilters: true,
        isWrite: true,
        insertedSql: upsert
          ? `(select coalesce(bool_or("pgrst_inserted"), true) from "pgrst_source")`
          : undefined,
      });
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
  };

  const tableWrite = async (
    request: Request,
    rel: Relation,
    currentCache: SchemaCache,
    body: unknown,
  ): Promise<Reply> => {
    const items = parseSelect(request.query.get('select') ?? '*');
    const levelParams = levelParamsFrom(request.query, new Set());
    const target = qualified(rel.schema, rel.name);
    return transaction(request, false, async (client) => {
      const planner: Planner = {
        cache: currentCache,
        casts: await resolveCasts(client, items),
        counter: { n: 0 },
      };
      const level = planLevel(planner, rel, target, items, levelParams);
      const params = new Params();
      const t0 = ident(level.alias);
      let sql: string;
      let upsertMerge = false;
      if (request.method === 'POST') {
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
          for (const c of conflictCols) {
            if (!rel.columnMap.has(c)) {
              throw new CacheMissError(
                400,
                'PGRST204',
                `Could not find the '${c}' column of '${rel.name}' in the schema cache`,
              );
            }
          }
          const target2 = conflictCols.length > 0 ? ` (${conflictCols.map(ident).join(', ')})` : '';
          if (resolution === 'merge-duplicates' && columns.length > 0 && conflictCols.length > 0) {
            upsertMerge = true;
            sql += ` on conflict${target2} do update set ${columns
              .map((c) => `${ident(c)} = excluded.${ident(c)}`)
              .join(', ')}`;
          } else {
            sql += ` on conflict${target2} do nothing`;
          }
        }
      } else {
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
        if (request.method === 'PATCH') {
          if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
            throw invalidBody('Empty or invalid json');
          }
          const columns = payloadColumns(request, rel, [body as Record<string, unknown>]);
          if (columns.length === 0) {
            return request.prefer.get('return') === 'representation'
              ? { status: 200, body: request.accept.single ? 'null' : '[]' }
              : { status: 204 };
          }
          sql = `update ${target} as ${t0} set ${columns
            .map((c) => `${ident(c)} = "pgrst_body".${ident(c)}`)
            .join(
              ', ',
            )} from json_populate_record(null::${target}, ${params.add(JSON.stringify(body))}::json) as "pgrst_body" where ${whereText}`;
        } else {
          sql = `delete from ${target} as ${t0} where ${whereText}`;
        }
      }
      const out = await writeReply(client, request, planner, level, params, sql, upsertMerge);
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
  };

  const chooseFunction = (
    request: Request,
    name: string,
    candidates: Fn[],
    body: unknown,
  ): { fn: Fn; args: Record<string, unknown> | null; whole: boolean } => {
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
  };

  const functionNotFound = (schema: string, name: string, keys: string[], isPost: boolean): RestError => {
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
  };

  const rpc = async (
    request: Request,
    name: string,
    currentCache: SchemaCache,
    body: unknown,
  ): Promise<Reply> => {
    const candidates = currentCache.functions.get(qualifiedKey(request.schema, name));
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
      return transaction(request, readOnly, async (client) => {
        await client.query(`select ${call}${from}`, params.values);
        return { status: 204 };
      });
    }
    if (fn.returnKind === 'scalar') {
      return transaction(request, readOnly, async (client) => {
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
      currentCache.relations.get(qualifiedKey(fn.returnRelation.schema, fn.returnRelation.name))) || {
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
    return transaction(request, readOnly, async (client) => {
      const planner: Planner = {
        cache: currentCache,
        casts: await resolveCasts(client, items),
        counter: { n: 0 },
      };
      const level = planLevel(planner, rel, fromSql, items, levelParams);
      const out = await readReply(client, request, planner, level, params, {
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
  };

  const openApi = (currentCache: SchemaCache, schema: string): Reply => {
    const paths: Record<string, unknown> = { '/': {} };
    const definitions: Record<string, unknown> = {};
    for (const rel of currentCache.relations.values()) {
      if (rel.schema !== schema) continue;
      paths[`/${rel.name}`] = {};
      definitions[rel.name] = {
        type: 'object',
        required: rel.columns.filter((c) => c.notNull && !c.hasDefault).map((c) => c.name),
        properties: Object.fromEntries(rel.columns.map((c) => [c.name, { format: c.type, type: 'string' }])),
      };
    }
    for (const fns of currentCache.functions.values()) {
      if (fns[0].schema === schema) paths[`/rpc/${fns[0].name}`] = {};
    }
    return {
      status: 200,
      contentType: 'application/openapi+json; charset=utf-8',
      body: JSON.stringify({
        swagger: '2.0',
        info: { title: 'supadispatch local REST', version: '12.2.0-local' },
        basePath: '/',
        schemes: ['http'],
        consumes: ['application/json'],
        produces: ['application/json'],
        paths,
        definitions,
      }),
    };
  };

  const route = async (req: IncomingMessage, request: Request): Promise<Reply> => {
    const method = request.method;
    const segments = request.path.split('/').filter(Boolean).map(decodeURIComponent);
    const needsBody = method === 'POST' || method === 'PATCH' || method === 'PUT';
    const body = needsBody ? await readBodyJson(req) : undefined;
    const attempt = async (currentCache: SchemaCache): Promise<Reply> => {
      if (segments.length === 0) {
        if (method !== 'GET' && method !== 'HEAD') {
          throw new RestError(405, 'PGRST117', `Unsupported HTTP method: ${method}`);
        }
        // PostgREST builds the OpenAPI document in a transaction as the request's role.
        return transaction(request, true, async () => openApi(currentCache, request.schema));
      }
      if (segments[0] === 'rpc' && segments.length === 2) {
        if (!['GET', 'HEAD', 'POST'].includes(method)) {
          throw new RestError(405, 'PGRST101', `Cannot use the ${method} method on RPC`);
        }
        return rpc(request, segments[1], currentCache, body);
      }
      if (segments.length !== 1)
        throw new RestError(404, 'PGRST125', 'Invalid path specified in request URL');
      const rel = currentCache.relations.get(qualifiedKey(request.schema, segments[0]));
      if (!rel) throw relationNotFound(request.schema, segments[0]);
      if (method === 'GET' || method === 'HEAD') return tableRead(request, rel, currentCache);
      if (method === 'POST' || method === 'PATCH' || method === 'DELETE') {
        return tableWrite(request, rel, currentCache, body);
      }
      throw new RestError(405, 'PGRST117', `Unsupported HTTP method: ${method}`);
    };
    const first = cache && cacheLoadedAt > 0 ? cache : await reload();
    try {
      return await attempt(first);
    } catch (error) {
      if (!(error instanceof CacheMissError)) throw error;
      const fresh = await freshCache(request.started);
      if (fresh === first) throw error;
      return attempt(fresh);
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const started = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    let authed = false;
    let reply: Reply;
    try {
      if (method === 'OPTIONS') {
        res.writeHead(200, { 'content-length': '0', allow: 'OPTIONS,GET,HEAD,POST,PATCH,DELETE' });
        res.end();
        return;
      }
      const url = new URL(req.url ?? '/', 'http://rest');
      const auth = authenticate(req, ctx.keys.jwtSecret);
      authed = auth.authed;
      const schemas = ctx.config.api.schemas;
      const profileHeader = (
        method === 'GET' || method === 'HEAD' ? req.headers['accept-profile'] : req.headers['content-profile']
      ) as string | undefined;
      const schema = profileHeader ?? schemas[0] ?? 'public';
      if (!schemas.includes(schema)) {
        throw new RestError(
          406,
          'PGRST106',
          `Invalid schema: ${schema}`,
          null,
          `Only the following schemas are exposed: ${schemas.join(', ')}`,
        );
      }
      const prefer = parsePrefer(req.headers.prefer);
      if (prefer.get('handling') === 'strict') {
        const valid: Record<string, (v: string) => boolean> = {
          return: (v) => ['minimal', 'representation', 'headers-only'].includes(v),
          count: (v) => ['exact', 'planned', 'estimated'].includes(v),
          resolution: (v) => ['merge-duplicates', 'ignore-duplicates'].includes(v),
          missing: (v) => ['default', 'null'].includes(v),
          handling: (v) => ['strict', 'lenient'].includes(v),
          tx: (v) => ['commit', 'rollback'].includes(v),
          'max-affected': (v) => /^\d+$/.test(v),
          timezone: () => true,
        };
        const invalid = [...prefer].filter(([k, v]) => !valid[k]?.(v)).map(([k, v]) => (v ? `${k}=${v}` : k));
        if (invalid.length > 0) {
          throw new RestError(
            400,
            'PGRST122',
            'Invalid preferences given with handling=strict',
            `Invalid preferences: ${invalid.join(', ')}`,
          );
        }
      }
      const request: Request = {
        method,
        path: path || '/',
        query: url.searchParams,
        headers: req.headers,
        prefer,
        schema,
        auth,
        accept: parseAccept(req.headers.accept),
        started,
      };
      reply = await route(req, request);
      if (reply.body !== undefined && request.accept.csv && reply.body.startsWith('[')) {
        reply = { ...reply, body: toCsv(reply.body), contentType: 'text/csv; charset=utf-8' };
      }
      const applied = ['return', 'count', 'resolution', 'missing']
        .filter((k) => request.prefer.has(k))
        .map((k) => `${k}=${request.prefer.get(k)}`);
      if (applied.length > 0) reply.headers = { ...reply.headers, 'preference-applied': applied.join(', ') };
    } catch (error) {
      let restError: RestError;
      if (error instanceof RestError) restError = error;
      else if (error && typeof error === 'object' && 'code' in error && 'severity' in error) {
        restError = fromPgError(error as unknown as { code: string; message: string }, authed);
      } else {
        ctx.log('rest', `unexpected error on ${method} ${path}`, error);
        restError = new RestError(500, 'PGRSTX00', (error as Error)?.message ?? 'internal error');
      }
      reply = {
        status: restError.status,
        body: JSON.stringify(restError.body()),
        headers: { ...restError.headers, 'proxy-status': `PostgREST; error=${restError.code}` },
      };
    }
    const headers: Record<string, string> = { ...reply.headers };
    if (reply.body !== undefined) headers['content-type'] = reply.contentType ?? jsonType;
    const payload = reply.body ?? '';
    headers['content-length'] = String(Buffer.byteLength(payload));
    res.writeHead(reply.status, headers);
    res.end(method === 'HEAD' ? undefined : payload);
  };

  return {
    name: 'rest',
    async start(context) {
      ctx = context;
      stopped = false;
      const created = new pg.Pool({ connectionString: context.urls.authenticatorDb, max: 10 });
      created.on('error', (error) => context.log('rest', 'idle authenticator connection error', error));
      pool = created;
      try {
        await reload();
        await listen();
      } catch (error) {
        pool = null;
        await created.end().catch(() => {});
        throw error;
      }
    },
    async stop() {
      stopped = true;
      if (listener) {
        const client = listener;
        listener = null;
        await client.query('unlisten pgrst').catch(() => {});
        client.release();
      }
      const ended = pool;
      pool = null;
      await ended
        ?.end()
        .catch((error: Error) => ctx.log('rest', 'closing the authenticator pool failed', error));
    },
    http: {
      prefix: '/rest/v1',
      handle: (req, res, path) => handle(req, res, path),
    },
  };
}
