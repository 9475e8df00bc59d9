import type pg from 'pg';
import type { Logger } from '../logger.ts';
import { RestError } from './errors.ts';

/**
 * PostgREST's schema cache: what it knows about the exposed schemas (relations, keys, functions,
 * per-role settings) and the live copy requests use. The catalog queries that fill it are in
 * introspection.ts; relationships for embedding are inferred from it in relationships.ts.
 */

export interface Column {
  name: string;
  /** format_type() of the column, e.g. `text`, `integer[]`, `"my schema".mood`. */
  type: string;
  typname: string;
  /** pg_type.typcategory: A array, S string, N numeric, U user (json/jsonb/tsvector…). */
  category: string;
  notNull: boolean;
  hasDefault: boolean;
}

export interface Relation {
  schema: string;
  name: string;
  kind: string;
  columns: Column[];
  columnMap: Map<string, Column>;
  pk: string[];
  /** Primary key and unique constraints, each a column list. */
  uniques: string[][];
}

export interface ForeignKey {
  name: string;
  schema: string;
  table: string;
  columns: string[];
  refSchema: string;
  refTable: string;
  refColumns: string[];
}

export interface FnParam {
  name: string;
  type: string;
  typname: string;
  hasDefault: boolean;
}

export interface Fn {
  schema: string;
  name: string;
  params: FnParam[];
  volatility: 'i' | 's' | 'v';
  returnsSet: boolean;
  /** scalar: bare value; composite: rows with `returnColumns`; void: 204. */
  returnKind: 'scalar' | 'composite' | 'void';
  returnColumns: Column[];
  /** When the function returns a table's row type, relationships of that table apply. */
  returnRelation?: { schema: string; name: string };
}

export interface SchemaCache {
  relations: Map<string, Relation>;
  /** `alter role … set …` settings (e.g. statement_timeout), applied per request as PostgREST ≥ 12 does. */
  roleSettings: Map<string, [string, string][]>;
  /** Computed fields: functions `fn(tbl) returns scalar`, by relation key then function name. */
  computed: Map<string, Map<string, Fn>>;
  foreignKeys: ForeignKey[];
  functions: Map<string, Fn[]>;
}

export const qualifiedKey = (schema: string, name: string): string => `${schema}\u0000${name}`;

/**
 * The cache requests use, kept as PostgREST keeps it: loaded at start, reloaded on `NOTIFY pgrst`
 * (empty payload or 'reload schema'), and re-read once when a request names something it does not
 * know, since a migration may have landed before its notification. `::type` casts resolved for
 * requests live as long as the cache they were resolved against.
 */
export class LiveSchemaCache {
  private cache: SchemaCache | null = null;
  private loadedAt = 0;
  private loading: Promise<SchemaCache> | null = null;
  private loadingStartedAt = 0;
  private listener: pg.PoolClient | null = null;
  private stopped = false;
  private readonly types = new Map<string, string>();

  constructor(
    /** The authenticator pool (throws once the service has stopped). */
    private readonly db: () => pg.Pool,
    /** Reads the catalog (introspection.ts). */
    private readonly load: (pool: pg.Pool) => Promise<SchemaCache>,
    private readonly log: Logger,
  ) {}

  /** The last loaded cache, if any. */
  get current(): SchemaCache | null {
    return this.cache;
  }

  reload(): Promise<SchemaCache> {
    if (this.loading) return this.loading;
    this.loadingStartedAt = Date.now();
    const started = this.loadingStartedAt;
    this.loading = this.load(this.db())
      .then((loaded) => {
        this.cache = loaded;
        this.loadedAt = started;
        this.types.clear();
        return loaded;
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  /** The cache a request starts with: the loaded one, or a first load. */
  async forRequest(): Promise<SchemaCache> {
    return this.cache && this.loadedAt > 0 ? this.cache : await this.reload();
  }

  /** A cache at least as new as the request (re-reading it once when something was not found). */
  async fresh(since: number): Promise<SchemaCache> {
    if (this.loading && this.loadingStartedAt >= since) return this.loading;
    if (this.loadedAt >= since && this.cache) return this.cache;
    if (this.loading) await this.loading.catch(() => {});
    return this.loadedAt >= since && this.cache ? this.cache : this.reload();
  }

  /** `LISTEN pgrst` on a connection of its own, reconnecting after a second when it is lost. */
  async listen(): Promise<void> {
    if (this.stopped) return;
    try {
      const client = await this.db().connect();
      this.listener = client;
      client.on('notification', (msg) => {
        if (msg.channel === 'pgrst' && (!msg.payload || msg.payload === 'reload schema')) {
          this.reload().catch((error) => this.log('rest', 'schema cache reload failed', error));
        }
      });
      client.on('error', (error) => {
        this.log('rest', 'LISTEN pgrst connection lost; reconnecting', error);
        client.release(error);
        if (this.listener === client) this.listener = null;
        setTimeout(() => void this.listen(), 1000).unref();
      });
      await client.query('listen pgrst');
    } catch (error) {
      this.log('rest', 'could not LISTEN pgrst', error);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.listener) {
      const client = this.listener;
      this.listener = null;
      await client.query('unlisten pgrst').catch(() => {});
      client.release();
    }
  }

  /** `::type` casts as written → the type's SQL name (format_type), or 42704 when there is none. */
  async resolveCasts(client: pg.PoolClient, casts: Iterable<string>): Promise<Map<string, string>> {
    const resolvedCasts = new Map<string, string>();
    for (const cast of casts) {
      let resolved = this.types.get(cast);
      if (!resolved) {
        if (!/^[A-Za-z_][A-Za-z0-9_ ]*(\[\])?$/.test(cast)) {
          throw new RestError(400, '42704', `type "${cast}" does not exist`);
        }
        const result = await client.query('select format_type(to_regtype($1), null) as t', [cast]);
        resolved = result.rows[0]?.t as string | undefined;
        if (!resolved) throw new RestError(400, '42704', `type "${cast}" does not exist`);
        this.types.set(cast, resolved);
      }
      resolvedCasts.set(cast, resolved);
    }
    return resolvedCasts;
  }
}
