/**
 * The database as the Edge Functions use it: Postgres directly (`SUPABASE_DB_URL`, the `postgres`
 * role), not PostgREST, so the worker's claim → record round trips stay one query each.
 *
 * The driver is `npm:pg` (the supadispatch package depends on it, so the local stack resolves it from
 * the project's node_modules). It works through Supabase's transaction pooler (Supavisor, port 6543):
 * a query with parameters uses the extended protocol with the *unnamed* statement, never a named
 * prepared statement, and nothing here relies on session state (every call is its own transaction).
 */
import pg from 'npm:pg@8';
import type { OccurrenceRecord } from './types.ts';

/** What the worker, the templates and the event modules need of the database. */
export interface WorkerDb {
  /** Rows of one statement, run in its own transaction. `$1`, `$2`... are `params`. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

/** A dispatch.occurrences row as the driver returns it. */
export interface OccurrenceRow {
  id: string;
  event_id: string;
  operation: string;
  new_record: Record<string, unknown> | null;
  old_record: Record<string, unknown> | null;
  actor: string | null;
  created_at: string | Date;
}

/** The occurrence as the library reads it (camelCase, ISO 8601 time). */
export function occurrenceRecord(row: OccurrenceRow): OccurrenceRecord {
  return {
    id: row.id,
    eventId: row.event_id,
    operation: row.operation,
    newRecord: row.new_record,
    oldRecord: row.old_record,
    actor: row.actor,
    createdAt: row.created_at instanceof Date ? row.created_at.toISOString() : String(row.created_at),
  };
}

/** A WorkerDb with connections to close. */
export interface WorkerDbPool extends WorkerDb {
  end(): Promise<void>;
}

export interface WorkerDbOptions {
  /** Connections at most (default 4: a worker records outcomes concurrently, the pooler multiplexes). */
  max?: number;
  /** Close connections idle this long (default 10 s, so an idle isolate holds none for long). */
  idleTimeoutMs?: number;
  /** application_name, visible in pg_stat_activity (default `supadispatch-worker`). */
  applicationName?: string;
}

export function connectWorkerDb(connectionString: string, options: WorkerDbOptions = {}): WorkerDbPool {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 4,
    idleTimeoutMillis: options.idleTimeoutMs ?? 10_000,
    connectionTimeoutMillis: 10_000,
    application_name: options.applicationName ?? 'supadispatch-worker',
  });
  // An idle connection the server closed must not crash the isolate; the next query reconnects.
  pool.on('error', (error: Error) =>
    console.error(`supadispatch: idle database connection: ${error.message}`),
  );
  return {
    async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
      const result = await pool.query(sql, params);
      return result.rows as T[];
    },
    end: () => pool.end(),
  };
}

/** The Postgres error code of a driver error (e.g. `40001` for a stale lease token), or null. */
export function sqlState(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
}
