import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { StackContext } from '../context.ts';
import type { JwtClaims } from '../jwt.ts';
import { type Channel, type PgBinding, sendFrame } from './hub.ts';

/**
 * Postgres Changes (shared/facts/realtime.md §10).
 *
 * Mechanism: a temporary logical replication slot with the built-in `test_decoding` plugin,
 * polled through `pg_logical_slot_get_changes` on a dedicated superuser connection while anyone
 * subscribes. Decoding gives exactly the committed changes, in commit order, with nothing from
 * rolled-back transactions, for every table, without touching the user's schema: per-table
 * triggers would have done the same with less latency, but they would show up in `supabase db
 * diff` / `db dump` of the user's project. The slot is temporary, so it disappears with the
 * connection and never holds WAL back after the stack stops. Hosted Realtime polls its slot
 * every 100 ms; we poll every 20 ms. Because the local cluster runs with synchronous_commit = off,
 * committed WAL may not be flushed yet (logical decoding only reads flushed WAL); each poll first
 * forces a flush when there is unflushed WAL, by committing a tiny WAL-writing transaction (a
 * transactional logical message, ignored by the parser) with synchronous_commit = on.
 *
 * Per subscriber, as Realtime's `apply_rls` does: only tables in publication `supabase_realtime`;
 * filters checked against the record; INSERT/UPDATE on a table with RLS enabled are sent only if
 * the row is visible when selected as the subscriber's role with its claims (the row's current
 * state, as walrus selects it by primary key — so a row already deleted again by the time of the
 * check is not sent, as on Supabase); columns the role may not SELECT are dropped; DELETE is not
 * RLS-checked and, with RLS on, carries only the primary key.
 */

const POLL_MS = 20;
const IDLE_POLL_MS = 500;
const META_TTL_MS = 1000;

interface Column {
  name: string;
  type: string;
  /** format_type(), for casts */
  sqlType: string;
}

interface TableMeta {
  oid: number;
  schema: string;
  table: string;
  columns: Column[];
  pk: string[];
  rls: boolean;
  loadedAt: number;
}

type Op = 'eq' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte' | 'in' | 'is';

interface Filter {
  column: string;
  op: Op;
  values: string[];
}

interface Subscription {
  binding: PgBinding;
  filter: Filter | null;
}

/** A raw tuple from test_decoding: column → text value (null for SQL NULL). */
type RawTuple = Map<string, string | null>;

interface Change {
  schema: string;
  table: string;
  type: 'INSERT' | 'UPDATE' | 'DELETE';
  record: RawTuple | null;
  oldKey: RawTuple | null;
}

const NUMERIC_TYPES = new Set(['int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'oid']);
const UNCHANGED_TOAST = Symbol('unchanged-toast');

export class ChangeFeed {
  private readonly subs = new Map<Channel, Subscription[]>();
  private slotClient: pg.Client | null = null;
  private slotName = '';
  private slotReady: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private stopped = false;
  private readonly tables = new Map<string, TableMeta>();
  private readonly visibleColumns = new Map<string, { at: number; names: Set<string> }>();

  constructor(private readonly ctx: StackContext) {}

  // ---- subscriptions ------------------------------------------------------------------------

  async subscribe(channel: Channel): Promise<{ ok: boolean; message: string }> {
    this.subs.delete(channel);
    const compiled: Subscription[] = [];
    try {
      await this.ensureSlot();
      const published = await this.publishedTables();
      if (published === null) {
        return { ok: false, message: 'Unable to subscribe: publication supabase_realtime does not exist' };
      }
      for (const binding of channel.pgBindings) {
        const problem = await this.validate(binding, published);
        if (typeof problem === 'string') return { ok: false, message: problem };
        compiled.push({ binding, filter: problem });
      }
    } catch (error) {
      this.ctx.log('realtime', 'postgres_changes subscription failed', error);
      return { ok: false, message: `Unable to subscribe to changes: ${(error as Error).message}` };
    }
    if (channel.closed) return { ok: false, message: 'channel closed' };
    this.subs.set(channel, compiled);
    this.schedule(0);
    return { ok: true, message: 'Subscribed to PostgreSQL' };
  }

  unsubscribe(channel: Channel): void {
    this.subs.delete(channel);
  }

  private unableMessage(binding: PgBinding): string {
    return (
      'Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given ' +
      `connect parameters: [event: ${binding.event}, schema: ${binding.schema}, table: ${binding.table ?? '*'}, ` +
      `filters: [${binding.filter ?? ''}]]`
    );
  }

  /** Returns the parsed filter, or an error message. */
  private async validate(binding: PgBinding, published: Set<string>): Promise<Filter | null | string> {
    if (!['*', 'INSERT', 'UPDATE', 'DELETE'].includes(binding.event)) return this.unableMessage(binding);
    const table = binding.table ?? '*';
    if (table === '*') {
      if (binding.filter) return this.unableMessage(binding);
      const any = [...published].some(
        (key) => binding.schema === '*' || key.startsWith(`${binding.schema}.`),
      );
      return any ? null : this.unableMessage(binding);
    }
    if (binding.schema === '*' || !published.has(`${binding.schema}.${table}`))
      return this.unableMessage(binding);
    if (!binding.filter) return null;
    const filter = parseFilter(binding.filter);
    if (!filter) return this.unableMessage(binding);
    const meta = await this.tableMeta(binding.schema, table);
    if (!meta?.columns.some((c) => c.name === filter.column)) return this.unableMessage(binding);
    return filter;
  }

  private async publishedTables(): Promise<Set<string> | null> {
    const { rows } = await this.ctx.adminPool.query<{ key: string | null }>(
      `select pt.schemaname || '.' || pt.tablename as key
       from pg_publication p left join pg_publication_tables pt on pt.pubname = p.pubname
       where p.pubname = 'supabase_realtime'`,
    );
    if (rows.length === 0) return null;
    return new Set(rows.map((r) => r.key).filter((k): k is string => k !== null));
  }

  private async tableMeta(schema: string, table: string, fresh = false): Promise<TableMeta | null> {
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

  // ---- the slot -----------------------------------------------------------------------------

  private ensureSlot(): Promise<void> {
    if (!this.slotReady) {
      this.slotReady = this.openSlot().catch((error) => {
        this.slotReady = null;
        throw error;
      });
    }
    return this.slotReady;
  }

  private async openSlot(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.ctx.urls.adminDb,
      application_name: 'realtime-changes',
    });
    client.on('error', (error) => {
      this.ctx.log('realtime', 'postgres_changes slot connection lost', error);
      if (this.slotClient === client) {
        this.slotClient = null;
        this.slotReady = null;
      }
    });
    await client.connect();
    // Our own commits flush WAL synchronously (see forceFlush).
    await client.query('set synchronous_commit = on');
    const name = `supadispatch_realtime_${randomBytes(6).toString('hex')}`;
    await client.query(`select pg_create_logical_replication_slot($1, 'test_decoding', true)`, [name]);
    this.slotClient = client;
    this.slotName = name;
  }

  private schedule(delay: number): void {
    if (this.stopped || this.timer || this.polling) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.poll();
    }, delay);
    this.timer.unref?.();
  }

  private async poll(): Promise<void> {
    const client = this.slotClient;
    if (!client || this.stopped) return;
    this.polling = true;
    try {
      await client.query(
        `do $$ begin
           if pg_current_wal_insert_lsn() > pg_current_wal_flush_lsn() then perform pg_logical_emit_message(true, 'supadispatch_flush', ''); end if;
         end $$`,
      );
      const { rows } = await client.query<{ data: string }>(
        `select data from pg_logical_slot_get_changes($1, null, 5000,
           'include-xids', '0', 'include-timestamp', '1', 'skip-empty-xacts', '1')`,
        [this.slotName],
      );
      if (rows.length > 0 && this.subs.size > 0) await this.process(rows.map((r) => r.data));
    } catch (error) {
      this.ctx.log('realtime', 'postgres_changes poll failed', error);
    } finally {
      this.polling = false;
      this.schedule(this.subs.size > 0 ? POLL_MS : IDLE_POLL_MS);
    }
  }

  private async process(lines: string[]): Promise<void> {
    let pending: Change[] = [];
    let published: Set<string> | null = null;
    for (const line of lines) {
      if (line === 'BEGIN' || line.startsWith('BEGIN ')) {
        pending = [];
        continue;
      }
      if (line.startsWith('COMMIT')) {
        const at = /\(at (.+)\)$/.exec(line)?.[1];
        const commitTimestamp = at ? toIso(at) : new Date().toISOString();
        if (pending.length > 0) {
          published ??= (await this.publishedTables()) ?? new Set();
          for (const change of pending) {
            if (!published.has(`${change.schema}.${change.table}`)) continue;
            try {
              await this.dispatch(change, commitTimestamp);
            } catch (error) {
              this.ctx.log(
                'realtime',
                `postgres_changes delivery failed for ${change.schema}.${change.table}`,
                error,
              );
            }
          }
        }
        pending = [];
        continue;
      }
      const change = parseChangeLine(line);
      if (change) pending.push(change);
    }
  }

  // ---- delivery -----------------------------------------------------------------------------

  private async dispatch(change: Change, commitTimestamp: string): Promise<void> {
    let meta = await this.tableMeta(change.schema, change.table);
    const tuple = change.record ?? change.oldKey;
    if (meta && tuple && [...tuple.keys()].some((name) => !meta?.columns.some((c) => c.name === name))) {
      meta = await this.tableMeta(change.schema, change.table, true);
    }
    if (!meta) return;
    const types = new Map(meta.columns.map((c) => [c.name, c.type]));
    const newRecord = change.record ? toRecord(change.record, types) : null;
    let oldRecord: Record<string, unknown> | null = null;
    if (change.type !== 'INSERT') {
      if (change.oldKey) oldRecord = toRecord(change.oldKey, types);
      else if (newRecord) oldRecord = Object.fromEntries(meta.pk.map((k) => [k, newRecord[k]]));
      else oldRecord = {};
    }

    for (const [channel, subs] of [...this.subs]) {
      if (channel.closed) continue;
      const ids = subs
        .filter((s) => matches(s, change, types))
        .map((s) => s.binding.id)
        .filter((id, i, all) => all.indexOf(id) === i);
      if (ids.length === 0) continue;
      const payload = await this.payloadFor(
        channel.claims,
        meta,
        change,
        newRecord,
        oldRecord,
        commitTimestamp,
      );
      if (!payload || channel.closed) continue;
      sendFrame(channel.conn, {
        joinRef: null,
        ref: null,
        topic: channel.topic,
        event: 'postgres_changes',
        payload: { ids, data: payload },
      });
    }
  }

  private async payloadFor(
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

  /** Selects the row by primary key as the subscriber (role + claims), like walrus does. */
  private async rowVisible(
    claims: JwtClaims,
    role: string,
    meta: TableMeta,
    record: Record<string, unknown>,
  ): Promise<boolean> {
    const lit = (v: unknown) => pg.escapeLiteral(v === null || v === undefined ? '' : String(v));
    const sqlTypes = new Map(meta.columns.map((c) => [c.name, c.sqlType]));
    const where = meta.pk
      .map((k) => {
        const value = record[k];
        if (value === null || value === undefined) return `${pg.escapeIdentifier(k)} is null`;
        const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
        return `${pg.escapeIdentifier(k)} = ${lit(text)}::${sqlTypes.get(k) ?? 'text'}`;
      })
      .join(' and ');
    const sub = typeof claims.sub === 'string' ? claims.sub : '';
    const sql = [
      'begin',
      `set local role ${pg.escapeIdentifier(role)}`,
      `select set_config('request.jwt.claims', ${lit(JSON.stringify(claims))}, true),
              set_config('request.jwt.claim.sub', ${lit(sub)}, true),
              set_config('request.jwt.claim.role', ${lit(role)}, true)`,
      `select 1 as visible from ${pg.escapeIdentifier(meta.schema)}.${pg.escapeIdentifier(meta.table)} where ${where}`,
      'rollback',
    ].join(';\n');
    const client = await this.ctx.adminPool.connect();
    try {
      const results = (await client.query(sql)) as unknown as pg.QueryResult[];
      return (results[3]?.rowCount ?? 0) > 0;
    } catch (error) {
      await client.query('rollback').catch(() => {});
      this.ctx.log('realtime', `RLS check on ${meta.schema}.${meta.table} failed`, error);
      return false;
    } finally {
      client.release();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (let i = 0; i < 100 && this.polling; i++) await new Promise((r) => setTimeout(r, 10));
    const client = this.slotClient;
    this.slotClient = null;
    if (client) await client.end().catch(() => {});
  }
}

// ---- filters ----------------------------------------------------------------------------------

function unquote(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, '$1');
  return v;
}

/** `col=op.value` or `col=in.(a,b,"c,d")` — the operators Supabase documents, plus `is`. */
export function parseFilter(text: string): Filter | null {
  const eq = text.indexOf('=');
  if (eq <= 0) return null;
  const column = text.slice(0, eq).trim();
  const rest = text.slice(eq + 1);
  const dot = rest.indexOf('.');
  if (dot <= 0) return null;
  const op = rest.slice(0, dot) as Op;
  const raw = rest.slice(dot + 1);
  if (!['eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in', 'is'].includes(op)) return null;
  if (op === 'in') {
    if (!raw.startsWith('(') || !raw.endsWith(')')) return null;
    const inner = raw.slice(1, -1);
    const values: string[] = [];
    let current = '';
    let quoted = false;
    for (let i = 0; i < inner.length; i++) {
      const ch = inner[i];
      if (quoted && ch === '\\' && i + 1 < inner.length) {
        current += ch + inner[++i];
      } else if (ch === '"') {
        quoted = !quoted;
        current += ch;
      } else if (ch === ',' && !quoted) {
        values.push(unquote(current));
        current = '';
      } else current += ch;
    }
    values.push(unquote(current));
    return { column, op, values };
  }
  if (op === 'is' && !['null', 'true', 'false'].includes(raw.toLowerCase())) return null;
  return { column, op, values: [unquote(raw)] };
}

function compare(type: string, left: string, right: string): number {
  if (NUMERIC_TYPES.has(type)) return Number(left) - Number(right);
  if (type === 'bool') return Number(toBool(left)) - Number(toBool(right));
  return left < right ? -1 : left > right ? 1 : 0;
}

const toBool = (v: string): boolean => ['t', 'true', '1', 'y', 'yes', 'on'].includes(v.toLowerCase());

function filterHolds(filter: Filter, tuple: RawTuple, types: Map<string, string>): boolean {
  if (!tuple.has(filter.column)) return false;
  const value = tuple.get(filter.column) ?? null;
  if (filter.op === 'is') {
    const want = filter.values[0].toLowerCase();
    if (want === 'null') return value === null;
    return value !== null && toBool(value) === (want === 'true');
  }
  if (value === null) return false;
  const type = types.get(filter.column) ?? 'text';
  const cmp = (v: string) => compare(type, value, v);
  switch (filter.op) {
    case 'eq':
      return cmp(filter.values[0]) === 0;
    case 'neq':
      return cmp(filter.values[0]) !== 0;
    case 'lt':
      return cmp(filter.values[0]) < 0;
    case 'lte':
      return cmp(filter.values[0]) <= 0;
    case 'gt':
      return cmp(filter.values[0]) > 0;
    case 'gte':
      return cmp(filter.values[0]) >= 0;
    case 'in':
      return filter.values.some((v) => cmp(v) === 0);
  }
}

function matches(sub: Subscription, change: Change, types: Map<string, string>): boolean {
  const b = sub.binding;
  if (b.event !== '*' && b.event !== change.type) return false;
  if (b.schema !== '*' && b.schema !== change.schema) return false;
  if (b.table && b.table !== '*' && b.table !== change.table) return false;
  if (!sub.filter) return true;
  const tuple = change.type === 'DELETE' ? change.oldKey : change.record;
  return tuple ? filterHolds(sub.filter, tuple, types) : false;
}

// ---- test_decoding output ---------------------------------------------------------------------

/** `2026-01-01 10:00:00.123456+00` → ISO 8601. */
function toIso(pgTimestamp: string): string {
  const iso = pgTimestamp.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00');
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? pgTimestamp : date.toISOString();
}

function toRecord(tuple: RawTuple, types: Map<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of tuple) {
    if ((raw as unknown) === UNCHANGED_TOAST) continue;
    out[name] = convertValue(types.get(name) ?? 'text', raw);
  }
  return out;
}

function convertValue(type: string, raw: string | null): unknown {
  if (raw === null) return null;
  if (NUMERIC_TYPES.has(type)) {
    const n = Number(raw);
    return Number.isFinite(n) ? n : raw;
  }
  if (type === 'bool') return raw === 'true' || raw === 't';
  if (type === 'json' || type === 'jsonb') {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

/** Reads a possibly double-quoted identifier at `pos`; returns [name, nextPos]. */
function readIdent(s: string, pos: number, stop: string): [string, number] {
  if (s[pos] === '"') {
    let out = '';
    let i = pos + 1;
    while (i < s.length) {
      if (s[i] === '"') {
        if (s[i + 1] === '"') {
          out += '"';
          i += 2;
          continue;
        }
        return [out, i + 1];
      }
      out += s[i++];
    }
    return [out, i];
  }
  let i = pos;
  while (i < s.length && !stop.includes(s[i])) i++;
  return [s.slice(pos, i), i];
}

function parseTuple(s: string, pos: number, into: RawTuple): number {
  let i = pos;
  while (i < s.length) {
    while (s[i] === ' ') i++;
    if (i >= s.length || s.startsWith('new-tuple:', i)) return i;
    const [name, afterName] = readIdent(s, i, '[');
    if (s[afterName] !== '[') return s.length;
    const typeEnd = s.indexOf(']:', afterName + 1);
    if (typeEnd < 0) return s.length;
    i = typeEnd + 2;
    if (s[i] === "'") {
      let value = '';
      i++;
      while (i < s.length) {
        if (s[i] === "'") {
          if (s[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += s[i++];
      }
      into.set(name, value);
    } else {
      const end = s.indexOf(' ', i);
      const token = s.slice(i, end < 0 ? s.length : end);
      i = end < 0 ? s.length : end;
      if (token === 'null') into.set(name, null);
      else if (token === 'unchanged-toast-datum') into.set(name, UNCHANGED_TOAST as unknown as string);
      else into.set(name, token.replace(/^B'(.*)'$/, '$1'));
    }
  }
  return i;
}

/** `table public.t: INSERT: id[integer]:1 name[text]:'x'` (and UPDATE with old-key:/new-tuple:). */
export function parseChangeLine(line: string): Change | null {
  if (!line.startsWith('table ')) return null;
  const [schema, afterSchema] = readIdent(line, 6, '.');
  if (line[afterSchema] !== '.') return null;
  const [table, afterTable] = readIdent(line, afterSchema + 1, ':');
  let i = afterTable;
  if (!line.startsWith(': ', i)) return null;
  i += 2;
  const actionEnd = line.indexOf(':', i);
  const action = line.slice(i, actionEnd);
  if (action !== 'INSERT' && action !== 'UPDATE' && action !== 'DELETE') return null;
  i = actionEnd + 1;
  while (line[i] === ' ') i++;
  const change: Change = { schema, table, type: action, record: null, oldKey: null };
  if (line.startsWith('(no-tuple-data)', i)) return change;
  if (action === 'DELETE') {
    change.oldKey = new Map();
    parseTuple(line, i, change.oldKey);
    return change;
  }
  if (line.startsWith('old-key:', i)) {
    change.oldKey = new Map();
    i = parseTuple(line, i + 'old-key:'.length, change.oldKey);
    if (line.startsWith('new-tuple:', i)) i += 'new-tuple:'.length;
  }
  change.record = new Map();
  parseTuple(line, i, change.record);
  return change;
}
