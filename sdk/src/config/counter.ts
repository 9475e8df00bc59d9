/**
 * Counters: the rows of a table that meet a condition, counted per user (the user found through a
 * column or a chain of the row) or per audience topic, with the query keys a change invalidates.
 */
import { chain, type DeclaredAudiences } from './audience.ts';
import type { Checker, Path } from './checker.ts';
import { counterCondition } from './condition.ts';
import { didYouMean, unknownName } from './errors.ts';
import type { NormalizedCounter, NormalizedCounterScope, TableRef } from './model.ts';
import { counterShape, scopeShapes } from './shapes.ts';

/** Maintained by the plugin itself (see sql/), so a config may not declare them. */
const RESERVED_COUNTERS = ['unread_notifications'];
/** The number of shards `sharded: true` stands for. */
const DEFAULT_SHARDS = 16;

export function counter(
  c: Checker,
  name: string,
  value: unknown,
  audiences: DeclaredAudiences,
): NormalizedCounter | undefined {
  const path = ['counters', name];
  if (!/^[a-z][a-z0-9_]*$/.test(name)) c.add(path, `counter name "${name}" must be snake_case (a-z, 0-9, _)`);
  if (RESERVED_COUNTERS.includes(name)) c.add(path, `"${name}" is built in; choose another name`);
  const ok = c.parse(counterShape, value, path);
  if (!ok) return undefined;
  const n0 = c.issues.length;
  const table = c.sourceTable(ok.table, [...path, 'table']);
  const key = ok.key !== undefined ? c.column(ok.key, [...path, 'key'], table) : 'id';
  const where = ok.where !== undefined ? counterCondition(c, ok.where, [...path, 'where'], table) : undefined;
  const scope = counterScope(c, ok.scope, [...path, 'scope'], table, audiences);
  if (c.issues.length > n0 || !table || !scope) return undefined;
  const shards =
    ok.sharded === true ? DEFAULT_SHARDS : ok.sharded === false || ok.sharded === undefined ? 1 : ok.sharded;
  const invalidates = (ok.invalidates ?? []).map((k) => (Array.isArray(k) ? [...k] : [k]));
  const k: NormalizedCounter = { name, table, key: key ?? 'id', scope, invalidates, shards };
  if (where) k.where = where;
  if (ok.description) k.description = ok.description;
  return k;
}

function counterScope(
  c: Checker,
  value: unknown,
  path: Path,
  table: TableRef | undefined,
  audiences: DeclaredAudiences,
): NormalizedCounterScope | undefined {
  const s = value as Record<string, unknown> | undefined;
  if (!s || typeof s !== 'object' || Array.isArray(s)) {
    c.add(
      path,
      "is required: { user: 'user_id' }, { user: ['order_id', 'orders.user_id'] } or { audience: 'admin' }",
    );
    return undefined;
  }
  if ('user' in s && !('audience' in s)) {
    c.parse(scopeShapes.user, s, path, ['user', 'audience']);
    if (typeof s.user === 'string') {
      const col = c.column(s.user, [...path, 'user'], table);
      return col ? { kind: 'user', start: col, hops: [] } : undefined;
    }
    const ch = chain(c, s.user, [...path, 'user']);
    if (ch && table) c.knownColumn(ch.start, [...path, 'user', 0], table);
    return ch ? { kind: 'user', ...ch } : undefined;
  }
  if ('audience' in s && !('user' in s)) {
    c.parse(scopeShapes.audience, s, path, ['user', 'audience']);
    const a = String(s.audience);
    const aud = audiences.byName.get(a);
    if (!audiences.names.includes(a)) {
      c.add([...path, 'audience'], unknownName('audience', a, audiences.names));
      return undefined;
    }
    // A per-row audience (column, chain) has no one topic to count on; a system one has no users.
    if (aud && aud.kind !== 'filter' && aud.kind !== 'function') {
      c.add(
        [...path, 'audience'],
        `audience "${a}" is a ${aud.kind} audience; an audience-scoped counter needs a filter or function audience (use { user: ... } for per-user counts)`,
      );
      return undefined;
    }
    return { kind: 'audience', audience: a };
  }
  const guess = Object.keys(s)
    .map((k) => didYouMean(k, ['user', 'audience']))
    .find(Boolean);
  c.add(path, `must have exactly one of user, audience${guess ? ` — did you mean "${guess}"?` : ''}`);
  return undefined;
}
