import type { Reply } from './response.ts';
import type { SchemaCache } from './schema-cache.ts';

/** `GET /`: a Swagger 2.0 outline of the exposed schema's tables, views and functions (PostgREST's Response/OpenAPI.hs, much reduced). */
export function openApi(cache: SchemaCache, schema: string): Reply {
  const paths: Record<string, unknown> = { '/': {} };
  const definitions: Record<string, unknown> = {};
  for (const rel of cache.relations.values()) {
    if (rel.schema !== schema) continue;
    paths[`/${rel.name}`] = {};
    definitions[rel.name] = {
      type: 'object',
      required: rel.columns.filter((c) => c.notNull && !c.hasDefault).map((c) => c.name),
      properties: Object.fromEntries(rel.columns.map((c) => [c.name, { format: c.type, type: 'string' }])),
    };
  }
  for (const fns of cache.functions.values()) {
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
}
