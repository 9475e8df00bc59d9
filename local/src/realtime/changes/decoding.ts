/**
 * Reading `test_decoding` output: `table public.t: INSERT: id[integer]:1 name[text]:'x'` lines into
 * changes, and their text values into JSON values as Realtime sends them.
 */

/** A raw tuple from test_decoding: column → text value (null for SQL NULL). */
export type RawTuple = Map<string, string | null>;

export interface Change {
  schema: string;
  table: string;
  type: 'INSERT' | 'UPDATE' | 'DELETE';
  record: RawTuple | null;
  oldKey: RawTuple | null;
}

export const NUMERIC_TYPES = new Set(['int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'oid']);
const UNCHANGED_TOAST = Symbol('unchanged-toast');

/** `2026-01-01 10:00:00.123456+00` → ISO 8601. */
export function toIso(pgTimestamp: string): string {
  const iso = pgTimestamp.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00');
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? pgTimestamp : date.toISOString();
}

export function toRecord(tuple: RawTuple, types: Map<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of tuple) {
    if ((raw as unknown) === UNCHANGED_TOAST) continue;
    out[name] = convertValue(types.get(name) ?? 'text', raw);
  }
  return out;
}

/**
 * A timestamp's text output (`2026-12-02 05:45:31.19+00`, DateStyle ISO) as `to_jsonb` writes it,
 * which hosted Realtime sends and PostgREST returns: `2026-12-02T05:45:31.19+00:00` (timestamptz,
 * offset as ±hh:mm[:ss]) or `2026-12-02T05:45:31.19` (timestamp). `infinity` and BC dates are left
 * as they are, as to_jsonb leaves them.
 */
export function timestampToJson(type: 'timestamp' | 'timestamptz', raw: string): string {
  const m = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d(?::\d\d){0,2})?$/.exec(raw);
  if (!m) return raw;
  const [, date, time, offset] = m;
  if (type === 'timestamp' || !offset) return `${date}T${time}${offset ?? ''}`;
  return `${date}T${time}${offset.length === 3 ? `${offset}:00` : offset}`;
}

function convertValue(type: string, raw: string | null): unknown {
  if (raw === null) return null;
  if (type === 'timestamptz' || type === 'timestamp') return timestampToJson(type, raw);
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
