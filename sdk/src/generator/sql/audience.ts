/**
 * Audiences compiled to set-based SQL. Each compiles to a SELECT of `(occurrence_id, user_id, address)`
 * over a relation `src(occurrence_id, r)` holding one typed row `r` per occurrence: joins over the
 * whole batch, never a query per row.
 */
import type { Audience, Hop, SystemTarget } from '../../config/model.ts';
import type { TransportName } from '../../config/types.ts';
import { testSql } from './cond.ts';
import { ident, literal, table } from './util.ts';

/** `src.r.<col>` as SQL. */
export function rowCol(col: string, alias = 's'): string {
  return `(${alias}.r).${ident(col)}`;
}

/** FROM/JOIN lines following a chain of foreign keys; returns the final value expression. */
export function chainJoins(start: string, hops: Hop[], from: string): { joins: string[]; value: string } {
  const joins: string[] = [];
  let prev = from;
  hops.forEach((h, i) => {
    const alias = `h${i + 1}`;
    joins.push(`join ${table(h.table)} ${alias} on ${alias}.${ident(h.key)} = ${prev}`);
    prev = `${alias}.${ident(h.column)}`;
  });
  void start;
  return { joins, value: prev };
}

function systemKind(t: TransportName): SystemTarget['kind'] | null {
  return t === 'email' || t === 'webhook' || t === 'slack' || t === 'discord' || t === 'sms' ? t : null;
}

function systemAddress(r: SystemTarget): string {
  switch (r.kind) {
    case 'email':
      return r.address;
    case 'webhook':
      return r.url;
    case 'sms':
      return r.number;
    default:
      // Slack / Discord URLs are secrets: the worker resolves `secret:<NAME>`.
      return `secret:${r.urlSecret}`;
  }
}

/**
 * The recipients of one audience for a transport, as a SELECT over `src s`:
 * columns `occurrence_id uuid, user_id uuid, address text`.
 */
export function audienceSelect(a: Audience, transport: TransportName): string {
  switch (a.kind) {
    case 'column':
      return [
        `select s.occurrence_id, ${rowCol(a.column)}::uuid as user_id, null::text as address`,
        'from src s',
        `where ${rowCol(a.column)} is not null`,
      ].join('\n');
    case 'filter': {
      const conds = a.where.map((w) => testSql(`u.${ident(w.column)}`, w.test, '(s.r)'));
      return [
        `select s.occurrence_id, u.${ident(a.userColumn)}::uuid as user_id, null::text as address`,
        'from src s',
        `join ${table(a.from)} u on ${conds.join('\n  and ')}`,
        `where u.${ident(a.userColumn)} is not null`,
      ].join('\n');
    }
    case 'chain': {
      const { joins, value } = chainJoins(a.start, a.hops, rowCol(a.start));
      return [
        `select s.occurrence_id, ${value}::uuid as user_id, null::text as address`,
        'from src s',
        ...joins,
        `where ${value} is not null`,
      ].join('\n');
    }
    case 'function': {
      const args = a.args.map((c) => rowCol(c)).join(', ');
      return [
        `select s.occurrence_id, f.user_id::uuid as user_id, null::text as address`,
        'from src s',
        `cross join lateral ${table(a.fn)}(${args}) as f(user_id)`,
        'where f.user_id is not null',
      ].join('\n');
    }
    case 'system': {
      const kind = systemKind(transport);
      const addrs = a.recipients.filter((r) => r.kind === kind).map(systemAddress);
      if (addrs.length === 0)
        return 'select null::uuid as occurrence_id, null::uuid as user_id, null::text as address where false';
      return [
        'select s.occurrence_id, null::uuid as user_id, v.address',
        'from src s',
        `cross join (values ${addrs.map((x) => `(${literal(x)})`).join(', ')}) as v(address)`,
      ].join('\n');
    }
  }
}

/**
 * Membership test of an audience that does not depend on a row (filter without fromRow, function
 * without args): used for `dispatch:audience:<name>` topics, admin checks and audience counters.
 * Returns null when membership needs a row.
 */
export function membershipSql(a: Audience, userVar: string): string | null {
  if (a.kind === 'filter' && a.where.every((w) => w.test.op !== 'eqRow')) {
    const conds = [
      `u.${ident(a.userColumn)} = ${userVar}`,
      ...a.where.map((w) => testSql(`u.${ident(w.column)}`, w.test)),
    ];
    return `exists (select from ${table(a.from)} u where ${conds.join(' and ')})`;
  }
  if (a.kind === 'function' && a.args.length === 0) {
    return `exists (select from ${table(a.fn)}() as f(user_id) where f.user_id = ${userVar})`;
  }
  return null;
}
