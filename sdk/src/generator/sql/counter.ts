/**
 * Per counter: `dispatch.register_counter` with a reconcile query and a first reconcile. The deltas
 * are computed after commit by the processor of the counter's table (sql/source.ts), from the block of
 * `counterProcessorBlock`: one delta per scope per batch of captured changes (+1 rows entering the
 * condition, -1 rows leaving it) handed to `dispatch.apply_counter_deltas`.
 */
import type { NormalizedCounter } from '../../config/model.ts';
import { OPERATIONS, type Operation } from '../../config/types.ts';
import { chainJoins } from './audience.ts';
import { rowCondSql } from './cond.ts';
import type { SqlObject } from './event.ts';
import { counterTriggerFunctionName, counterTriggerName } from './names.ts';
import { ident, indent, literal, table, tableText, textArray } from './util.ts';

/** A query key as the broadcast's `invalidates` string: `'orders'` for `['orders']`, else JSON. */
export function encodeQueryKey(key: readonly (string | number)[]): string {
  return key.length === 1 && typeof key[0] === 'string' && !key[0].startsWith('[')
    ? key[0]
    : JSON.stringify(key);
}

export const counterNames = (k: NormalizedCounter) => ({
  trigger: counterTriggerFunctionName(k.name),
  triggerName: (op: Operation) => counterTriggerName(k.name, op),
});

/**
 * The rows of `relation` that count, with their scope: `select <scope>::text as scope from ...`.
 * Raw SQL conditions see the row's columns unqualified (filtered in an inner select).
 */
export function scopedRows(k: NormalizedCounter, relation: string): string {
  const inner = k.where ? `(select * from ${relation} as c where ${rowCondSql(k.where, 'c')})` : relation;
  const from = `from ${inner} as c`;
  if (k.scope.kind === 'audience') return `select ${literal(k.scope.audience)}::text as scope\n${from}`;
  if (k.scope.hops.length === 0) {
    return `select c.${ident(k.scope.start)}::text as scope\n${from}\nwhere c.${ident(k.scope.start)} is not null`;
  }
  const { joins, value } = chainJoins(k.scope.start, k.scope.hops, `c.${ident(k.scope.start)}`);
  return [`select ${value}::text as scope`, from, ...joins, `where ${value} is not null`].join('\n');
}

/** Recomputes every scope from scratch: `select scope, value`. */
export function reconcileSql(k: NormalizedCounter): string {
  const rows = scopedRows(k, table(k.table));
  return `select q.scope, count(*)::bigint from (${rows.replace(/\n/g, ' ')}) q group by q.scope`;
}

/**
 * This counter's part of its table's processor (`p_changes dispatch.changes[]`, operations mixed): one
 * delta per scope over the whole batch, +1 for each captured new row that counts, -1 for each old row
 * that counted (INSERT changes have only new rows, DELETE only old ones, UPDATE both; a missing side is
 * null json, which yields no rows), handed to one `dispatch.apply_counter_deltas`: one broadcast per
 * scope per batch.
 */
export function counterProcessorBlock(k: NormalizedCounter): string {
  if (countsEveryRow(k)) return rowCountBlock(k);
  const t = table(k.table);
  // a subquery, so that raw SQL conditions see only the row's columns (not the change's)
  const rows = (side: 'new_rows' | 'old_rows') =>
    `(select r.* from unnest(p_changes) as ch cross join lateral json_populate_recordset(null::${t}, ch.${side}) as r)`;
  return [
    `-- counter ${k.name}`,
    `perform dispatch.apply_counter_deltas(${literal(k.name)}, array(`,
    '  select row(x.scope, sum(x.d))::dispatch.counter_delta',
    '  from (',
    `    select p.scope, 1 as d from (`,
    indent(scopedRows(k, rows('new_rows')), 6),
    '    ) p',
    '    union all',
    `    select m.scope, -1 as d from (`,
    indent(scopedRows(k, rows('old_rows')), 6),
    '    ) m',
    '  ) x',
    '  group by x.scope',
    '  having sum(x.d) <> 0',
    '  order by x.scope',
    '));',
  ].join('\n');
}

/**
 * Whether every row of the table counts, into one scope (an audience counter without a condition): its
 * deltas are the changes' row counts (+ for an INSERT, - for a DELETE; an UPDATE moves nothing), so
 * its processor block reads no row, and a table whose counters are all like it is captured as counts
 * only: the writer adds its row counts to running totals (`dispatch.count_changes`, sql/source.ts).
 */
export const countsEveryRow = (k: NormalizedCounter): boolean => k.scope.kind === 'audience' && !k.where;

/**
 * The block of a counter that counts every row (`countsEveryRow`): one delta for its scope over the
 * batch, from each change's `row_count` (a change captured by an older core without it, row_count 0,
 * counts its captured rows).
 */
function rowCountBlock(k: NormalizedCounter): string {
  if (k.scope.kind !== 'audience') throw new Error(`counter ${k.name}: not an audience counter`);
  return [
    `-- counter ${k.name} (every row counts: the row counts of the changes)`,
    `perform dispatch.apply_counter_deltas(${literal(k.name)}, array(`,
    `  select row(${literal(k.scope.audience)}, x.d)::dispatch.counter_delta`,
    '  from (',
    "    select sum(case ch.operation when 'INSERT' then 1 when 'DELETE' then -1 else 0 end",
    '               * coalesce(nullif(ch.row_count, 0), json_array_length(coalesce(ch.new_rows, ch.old_rows)), 0)) as d',
    '    from unnest(p_changes) as ch',
    '  ) x',
    '  where x.d <> 0',
    '));',
  ].join('\n');
}

export function counterObject(k: NormalizedCounter): SqlObject {
  const names = counterNames(k);
  const t = table(k.table);
  const install = [
    `-- counter ${k.name}`,
    [
      'select dispatch.register_counter(',
      `  p_name => ${literal(k.name)},`,
      `  p_scope_kind => ${literal(k.scope.kind)},`,
      `  p_audience => ${k.scope.kind === 'audience' ? literal(k.scope.audience) : 'null'},`,
      `  p_invalidates => ${textArray(k.invalidates.map(encodeQueryKey))},`,
      `  p_shards => ${k.shards},`,
      `  p_source_table => ${literal(tableText(k.table))},`,
      `  p_reconcile_sql => ${literal(reconcileSql(k))},`,
      `  p_description => ${literal(k.description ?? '')}`,
      ');',
    ].join('\n'),
    [
      '-- counted after commit by the processor of its table (no trigger of its own)',
      ...OPERATIONS.map((op) => `drop trigger if exists ${ident(names.triggerName(op))} on ${t};`),
      `drop function if exists dispatch.${ident(names.trigger)}();`,
    ].join('\n'),
    // Start from the truth: rows that existed before count too.
    `select count(*) from dispatch.reconcile_counters(${literal(k.name)}, true);`,
  ].join('\n\n');
  const drop = [
    `-- counter ${k.name} removed`,
    `do $$ begin if to_regclass(${literal(tableText(k.table))}) is not null then`,
    ...OPERATIONS.map((op) => `  drop trigger if exists ${ident(names.triggerName(op))} on ${t};`),
    'end if; end $$;',
    `drop function if exists dispatch.${ident(names.trigger)}();`,
    `delete from dispatch.counters_def where name = ${literal(k.name)};`,
  ].join('\n');
  return { key: `counter:${k.name}`, install, drop };
}
