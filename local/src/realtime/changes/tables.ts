import type { StackContext } from '../../context.ts';

/**
 * What the feed knows about tables: which are in publication `supabase_realtime`, and each table's
 * columns, primary key and whether RLS is on (cached for a second; re-read when a change carries a
 * column the cache does not know).
 */

const META_TTL_MS = 1000;

export interface Column {
  name: string;
  type: string;
  /** format_type(), for casts */
  sqlType: string;
}

export interface TableMeta {
  oid: number;
  schema: string;
  table: string;
  columns: Column[];
  pk: string[];
  rls: boolean;
  loadedAt: number;
}

export class TableCatalog {
  private readonly tables = new Map<string, TableMeta>();

  constructor(private readonly ctx: StackContext) {}

  /** `schema.table` of every published table; null when the publication does not exist. */
  async published(): Promise<Set<string> | null> {
    const { rows } = await this.ctx.adminPool.query<{ key: string | null }>(
      `select pt.schemaname || '.' || pt.tablename as key
       from pg_publication p left join pg_publication_tables pt on pt.pubname = p.pubname
       where p.pubname = 'supabase_realtime'`,
    );
    if (rows.length === 0) return null;
    return new Set(rows.map((r) => r.key).filter((k): k is string => k !== null));
  }

  async meta(schema: string, table: string, fresh = false): Promise<TableMeta | null> {
    const key = `${schema}.${table}`;
    const cached = this.tables.get(key);
    if (cached && !fresh && Date.now() - cached.loadedAt < META_TTL_MS) return cached;
    const { rows } = await this.ctx.adminPool.query<{
      oid: number;
      rls: boolean;
      columns: { name: string; type: string; sqlType: string }[];
      pk: string[] | null;
    }>(
      `select c.oid::int as oid, c.relrowsecurity as rls,
         (select json_agg(json_build_object('name', a.attname, 'type', t.typname,
                  'sqlType', format_type(a.atttypid, a.atttypmod)) order by a.attnum)
            from pg_attribute a join pg_type t on t.oid = a.atttypid
           where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns,
         (select array_agg(a.attname::text order by array_position(i.indkey::int2[], a.attnum))
            from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
           where i.indrelid = c.oid and i.indisprimary) as pk
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = $1 and c.relname = $2`,
      [schema, table],
    );
    const row = rows[0];
    if (!row) return null;
    const meta: TableMeta = {
      oid: row.oid,
      schema,
      table,
      columns: row.columns ?? [],
      pk: row.pk ?? [],
      rls: row.rls,
      loadedAt: Date.now(),
    };
    this.tables.set(key, meta);
    return meta;
  }
}
