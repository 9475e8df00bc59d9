/** SQL text helpers: quoting and deterministic formatting. */
import type { TableRef } from '../../config/model.ts';
import type { Scalar } from '../../config/types.ts';

const PLAIN = /^[a-z_][a-z0-9_$]*$/;
const RESERVED = new Set([
  'all',
  'analyse',
  'analyze',
  'and',
  'any',
  'array',
  'as',
  'asc',
  'asymmetric',
  'both',
  'case',
  'cast',
  'check',
  'collate',
  'column',
  'constraint',
  'create',
  'current_catalog',
  'current_date',
  'current_role',
  'current_time',
  'current_timestamp',
  'current_user',
  'default',
  'deferrable',
  'desc',
  'distinct',
  'do',
  'else',
  'end',
  'except',
  'false',
  'fetch',
  'for',
  'foreign',
  'from',
  'grant',
  'group',
  'having',
  'in',
  'initially',
  'intersect',
  'into',
  'lateral',
  'leading',
  'limit',
  'localtime',
  'localtimestamp',
  'not',
  'null',
  'offset',
  'on',
  'only',
  'or',
  'order',
  'placing',
  'primary',
  'references',
  'returning',
  'select',
  'session_user',
  'some',
  'symmetric',
  'table',
  'then',
  'to',
  'trailing',
  'true',
  'union',
  'unique',
  'user',
  'using',
  'variadic',
  'when',
  'where',
  'window',
  'with',
]);

/** Quotes an identifier only when needed (keeps generated SQL readable). */
export function ident(name: string): string {
  if (PLAIN.test(name) && !RESERVED.has(name)) return name;
  return `"${name.replace(/"/g, '""')}"`;
}

export function table(t: TableRef): string {
  return `${ident(t.schema)}.${ident(t.name)}`;
}

/** `schema.table` as text (for registries and messages). */
export function tableText(t: TableRef): string {
  return `${t.schema}.${t.name}`;
}

export function literal(v: string): string {
  return `'${v.replace(/'/g, "''")}'`;
}

export function scalar(v: Scalar): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(v);
  return literal(v);
}

/** Dollar-quoted body that cannot clash with its content. */
export function dollar(body: string, tag = 'fn'): string {
  let t = tag;
  for (let i = 2; body.includes(`$${t}$`); i++) t = `${tag}${i}`;
  return `$${t}$\n${body}\n$${t}$`;
}

export function textArray(values: readonly string[]): string {
  if (values.length === 0) return `'{}'::text[]`;
  return `array[${values.map(literal).join(', ')}]::text[]`;
}

export function jsonb(v: unknown): string {
  return `${literal(stableJson(v))}::jsonb`;
}

/** JSON with sorted object keys (deterministic). */
export function stableJson(v: unknown, indent?: number): string {
  return JSON.stringify(sortDeep(v), null, indent);
}

export function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, sortDeep((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** A valid, deterministic identifier of at most 63 bytes. */
export function shortName(name: string): string {
  if (name.length <= 63) return name;
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `${name.slice(0, 54)}_${h.toString(16).padStart(8, '0')}`;
}

export function indent(text: string, n: number): string {
  const pad = ' '.repeat(n);
  return text
    .split('\n')
    .map((l) => (l === '' ? l : pad + l))
    .join('\n');
}

/**
 * Privileges of a generated function, emitted right after its `create or replace`: PostgreSQL grants
 * EXECUTE to PUBLIC on every new function, and the generated ones come after the core's revoke
 * block, so without this a signed-in user could call a SECURITY DEFINER expander or membership hook
 * directly. The core's SECURITY DEFINER callers (dispatch.fire, emit, replay, drain for the
 * processors, can_read_topic, the RPCs) run as the owner, and triggers do not check EXECUTE, so
 * nobody else needs it.
 * `serviceRole`: grant EXECUTE to service_role (the worker / admin tooling), as the core does.
 */
export function functionPrivileges(signature: string, serviceRole = true): string {
  const lines = [`revoke all on function ${signature} from public, anon, authenticated;`];
  if (serviceRole) lines.push(`grant execute on function ${signature} to service_role;`);
  return lines.join('\n');
}
