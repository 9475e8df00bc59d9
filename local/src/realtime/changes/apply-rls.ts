import pg from 'pg';
import type { StackContext } from '../../context.ts';
import { actAs } from '../../db/act-as.ts';
import type { JwtClaims } from '../../jwt.ts';
import type { Change } from './decoding.ts';
import type { TableMeta } from './tables.ts';

/**
 * What one subscriber receives of a change, as Realtime's `apply_rls` decides it: columns the
 * role may not SELECT are dropped; INSERT/UPDATE on a table with RLS enabled are sent only if the
 * row is visible when selected as the subscriber's role with its claims (the row's current state,
 * as walrus selects it by primary key, so a row already deleted again by the time of the check is
 * not sent, as on Supabase); DELETE is not RLS-checked and, with RLS on, carries only the primary key.
 */

const META_TTL_MS = 1000;

export class ApplyRls {
  private readonly visibleColumns = new Map<string, { at: number; names: Set<string> }>();

  constructor(private readonly ctx: StackContext) {}

  /** The `data` of the postgres_changes message for this subscriber, or null when it gets none. */
  async payloadFor(
    claims: JwtClaims,
    meta: TableMeta,
    change: Change,
    newRecord: Record<string, unknown> | null,
    oldRecord: Record<string, unknown> | null,
    commitTimestamp: string,
  ): Promise<Record<string, unknown> | null> {
    const role = typeof claims.role === 'string' ? claims.role : 'anon';
    const base = {
      schema: meta.schema,
      table: meta.table,
      commit_timestamp: commitTimestamp,
      type: change.type,
    };
    const visible = await this.columnsVisibleTo(role, meta).catch(() => null);
    if (!visible || visible.size === 0) {
      return { ...base, columns: [], record: {}, old_record: {}, errors: ['Error 401: Unauthorized'] };
    }
    const columns = meta.columns
      .filter((c) => visible.has(c.name))
      .map((c) => ({ name: c.name, type: c.type }));
    const pick = (record: Record<string, unknown> | null) =>
      record ? Object.fromEntries(Object.entries(record).filter(([k]) => visible.has(k))) : null;
    if (change.type === 'DELETE') {
      const old =
        meta.rls && oldRecord ? Object.fromEntries(meta.pk.map((k) => [k, oldRecord[k]])) : pick(oldRecord);
      return { ...base, columns, old_record: old ?? {}, errors: null };
    }
    if (meta.rls) {
      if (meta.pk.length === 0) {
        return { ...base, columns, record: {}, errors: ['Error 400: Bad Request, no primary key'] };
      }
      if (!newRecord || !(await this.rowVisible(claims, role, meta, newRecord))) return null;
    }
    const out: Record<string, unknown> = { ...base, columns, record: pick(newRecord) ?? {}, errors: null };
    if (change.type === 'UPDATE') out.old_record = pick(oldRecord) ?? {};
    return out;
  }

  private async columnsVisibleTo(role: string, meta: TableMeta): Promise<Set<string>> {
    const key = `${role}:${meta.oid}`;
    const cached = this.visibleColumns.get(key);
    if (cached && Date.now() - cached.at < META_TTL_MS) return cached.names;
    const { rows } = await this.ctx.adminPool.query<{ attname: string }>(
      `select a.attname from pg_attribute a
       where a.attrelid = $2 and a.attnum > 0 and not a.attisdropped
         and has_column_privilege($1, a.attrelid, a.attnum, 'SELECT')
         -- only roles the API may act as (see auth.ts roleUsable): a token naming postgres or
         -- supabase_admin sees no column, so its changes arrive as 'Error 401: Unauthorized'
         and pg_has_role('authenticator', $1::name, 'member')`,
      [role, meta.oid],
    );
    const names = new Set(rows.map((r) => r.attname));
    this.visibleColumns.set(key, { at: Date.now(), names });
    return names;
  }

  /** Selects the row by primary key as the subscriber (role + claims), like walrus does; always rolled back. */
  private async rowVisible(
    claims: JwtClaims,
    role: string,
    meta: TableMeta,
    record: Record<string, unknown>,
  ): Promise<boolean> {
    const sqlTypes = new Map(meta.columns.map((c) => [c.name, c.sqlType]));
    const values: string[] = [];
    const where = meta.pk
      .map((k) => {
        const value = record[k];
        if (value === null || value === undefined) return `${pg.escapeIdentifier(k)} is null`;
        values.push(typeof value === 'object' ? JSON.stringify(value) : String(value));
        return `${pg.escapeIdentifier(k)} = $${values.length}::${sqlTypes.get(k) ?? 'text'}`;
      })
      .join(' and ');
    const session = {
      role,
      claims,
      claim: { sub: typeof claims.sub === 'string' ? claims.sub : '', role },
    };
    try {
      return await actAs(
        this.ctx.adminPool,
        session,
        async (client) => {
          const result = await client.query(
            `select 1 as visible from ${pg.escapeIdentifier(meta.schema)}.${pg.escapeIdentifier(meta.table)} where ${where}`,
            values,
          );
          return (result.rowCount ?? 0) > 0;
        },
        { end: 'rollback' },
      );
    } catch (error) {
      this.ctx.log('realtime', `RLS check on ${meta.schema}.${meta.table} failed`, error);
      return false;
    }
  }
}
