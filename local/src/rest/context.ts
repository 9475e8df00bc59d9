import type pg from 'pg';
import type { ProjectConfig } from '../project-config.ts';
import type { LiveSchemaCache } from './schema-cache.ts';

/** What every request handler of the REST service shares while it runs. */
export interface RestContext {
  /** The pool connected as `authenticator`; throws PGRST001 (503) once the service has stopped. */
  db(): pg.Pool;
  /** `[api]` of config.toml: exposed schemas, extra search path, max rows. */
  api: ProjectConfig['api'];
  schemaCache: LiveSchemaCache;
}
