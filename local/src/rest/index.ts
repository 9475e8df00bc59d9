import type { IncomingMessage, ServerResponse } from 'node:http';
import pg from 'pg';
import type { LocalService, StackContext } from '../context.ts';
import type { RestContext } from './context.ts';
import { CacheMissError, RestError } from './errors.ts';
import { loadSchemaCache } from './introspection.ts';
import { openApi } from './openapi.ts';
import { tableRead } from './read.ts';
import { type ApiRequest, readRequest } from './request.ts';
import { errorReply, finishReply, type Reply, sendReply } from './response.ts';
import { rpc } from './rpc.ts';
import { LiveSchemaCache, qualifiedKey, type SchemaCache } from './schema-cache.ts';
import { requestTransaction } from './tx.ts';
import { tableWrite } from './write.ts';

/**
 * /rest/v1: the PostgREST subset supabase-js uses. Like PostgREST, the service connects as the
 * non-superuser `authenticator` (NOINHERIT, member of anon/authenticated/service_role only), for
 * requests, schema-cache introspection and `LISTEN pgrst` alike, so a JWT whose role authenticator
 * may not become (e.g. `postgres`) fails with 42501 "permission denied to set role" (403, as the
 * token carries a role claim).
 *
 * This module keeps the service's lifecycle and the routing; one module per concern beside it, as
 * PostgREST splits them: request.ts and auth.ts read the request, tx.ts is the role/claims
 * transaction every handler runs in, read.ts / write.ts / rpc.ts / openapi.ts answer, response.ts
 * writes the reply, schema-cache.ts keeps the cache live, parse/ is the URL grammar and query/ the SQL.
 */

function relationNotFound(schema: string, name: string): RestError {
  return new CacheMissError(
    404,
    'PGRST205',
    `Could not find the table '${schema}.${name}' in the schema cache`,
  );
}

/** One request against one version of the schema cache. */
async function answer(rest: RestContext, request: ApiRequest, cache: SchemaCache): Promise<Reply> {
  const method = request.method;
  const segments = request.path.split('/').filter(Boolean).map(decodeURIComponent);
  if (segments.length === 0) {
    if (method !== 'GET' && method !== 'HEAD') {
      throw new RestError(405, 'PGRST117', `Unsupported HTTP method: ${method}`);
    }
    // PostgREST builds the OpenAPI document in a transaction as the request's role.
    return requestTransaction(rest, request, true, async () => openApi(cache, request.schema));
  }
  if (segments[0] === 'rpc' && segments.length === 2) {
    if (!['GET', 'HEAD', 'POST'].includes(method)) {
      throw new RestError(405, 'PGRST101', `Cannot use the ${method} method on RPC`);
    }
    return rpc(rest, request, segments[1], cache);
  }
  if (segments.length !== 1) throw new RestError(404, 'PGRST125', 'Invalid path specified in request URL');
  const rel = cache.relations.get(qualifiedKey(request.schema, segments[0]));
  if (!rel) throw relationNotFound(request.schema, segments[0]);
  if (method === 'GET' || method === 'HEAD') return tableRead(rest, request, rel, cache);
  if (method === 'POST' || method === 'PATCH' || method === 'DELETE') {
    return tableWrite(rest, request, rel, cache);
  }
  throw new RestError(405, 'PGRST117', `Unsupported HTTP method: ${method}`);
}

/** Answers with the current cache; a miss is answered once more with a cache loaded since the request came. */
async function route(rest: RestContext, request: ApiRequest): Promise<Reply> {
  const first = await rest.schemaCache.forRequest();
  try {
    return await answer(rest, request, first);
  } catch (error) {
    if (!(error instanceof CacheMissError)) throw error;
    const fresh = await rest.schemaCache.fresh(request.started);
    if (fresh === first) throw error;
    return answer(rest, request, fresh);
  }
}

export function createRestService(): LocalService {
  let ctx: StackContext;
  /** Connected as `authenticator`; created in start(), ended in stop(). */
  let pool: pg.Pool | null = null;
  let rest: RestContext | null = null;
  const notRunning = () => new RestError(503, 'PGRST001', 'Database client error. Retrying the connection.');
  const db = (): pg.Pool => {
    if (!pool) throw notRunning();
    return pool;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const started = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    if (method === 'OPTIONS') {
      res.writeHead(200, { 'content-length': '0', allow: 'OPTIONS,GET,HEAD,POST,PATCH,DELETE' });
      res.end();
      return;
    }
    let authed = false;
    let reply: Reply;
    try {
      if (!rest) throw notRunning();
      const request = await readRequest(req, path, {
        method,
        started,
        schemas: rest.api.schemas,
        jwtSecret: ctx.keys.jwtSecret,
      });
      authed = request.auth.authed;
      reply = finishReply(request, await route(rest, request));
    } catch (error) {
      reply = errorReply(error, authed, (unexpected) =>
        ctx.log('rest', `unexpected error on ${method} ${path}`, unexpected),
      );
    }
    sendReply(res, method, reply);
  };

  return {
    name: 'rest',
    async start(context) {
      ctx = context;
      const created = new pg.Pool({ connectionString: context.urls.authenticatorDb, max: 10 });
      created.on('error', (error) => context.log('rest', 'idle authenticator connection error', error));
      pool = created;
      const schemas = context.config.api.schemas;
      const schemaCache = new LiveSchemaCache(db, (p) => loadSchemaCache(p, schemas), context.log);
      try {
        await schemaCache.reload();
        await schemaCache.listen();
      } catch (error) {
        pool = null;
        await created.end().catch(() => {});
        throw error;
      }
      rest = { db, api: context.config.api, schemaCache };
    },
    async stop() {
      // `rest` stays: a request still arriving gets PGRST001 (503) from db(), as before start.
      await rest?.schemaCache.stop();
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
