/**
 * Per source table (a table some non-strict event or some counter reads): capture in the app's
 * transaction, process right after commit.
 * - Capture: statement-level AFTER triggers `dispatch_capture_<op>` running the core's one generic
 *   `dispatch.capture_changes()`, which writes ONE `dispatch.changes` row per statement (the transition
 *   rows as JSON arrays, the writer, the time). Only for the operations some event or counter needs
 *   (a counter that counts every row into one scope moves on INSERT and DELETE only); the others are
 *   dropped. A table whose processor reads no row (no event; every counter counts every row) is
 *   counted without a change row: its triggers run `dispatch.count_changes(<counter>, <scope>, ...)`,
 *   which adds the statement's row count to the writer's running total of each counter (core
 *   040_counters.sql), and `dispatch.count_from_wal(<table>, <pairs>)` then moves the counting out of
 *   the write where the database can: once a logical replication slot exists, the triggers only wake
 *   the worker and every drain counts the table's committed inserts and deletes from the WAL (core
 *   066_counts_from_wal.sql). The processor stays, for changes an older trigger captured.
 * - Process: `dispatch.src_<schema>_<table>_process(p_changes dispatch.changes[])`, registered with
 *   `dispatch.register_source`, which `dispatch.drain()` (worker, `dispatch.tick()`) calls after commit
 *   with a batch: consecutive changes of the table in capture order, operations mixed (up to the core's
 *   drain_batch_rows rows; on failure the core retries change by change). Its body does, for that
 *   table, what per-event and per-counter triggers did inside the write: the events' blocks in config
 *   order (one `dispatch.fire` per event and operation, each record with its change's actor and capture
 *   time), then the counters' blocks in config order (one `dispatch.apply_counter_deltas` each, over
 *   the whole batch), reading the rows with `json_populate_recordset(null::<table>, ch.new_rows /
 *   ch.old_rows)` over `unnest(p_changes) as ch`.
 * Strict events keep their own triggers (sql/event.ts) and are not part of the processor.
 */
import type { NormalizedConfig, NormalizedCounter, NormalizedEvent, TableRef } from '../../config/model.ts';
import { OPERATIONS, type Operation } from '../../config/types.ts';
import { counterProcessorBlock, countsEveryRow } from './counter.ts';
import {
  eventFunctionNames,
  eventProcessorBlock,
  firesOnWrites,
  referencing,
  type SqlObject,
} from './event.ts';
import { captureTriggerName } from './names.ts';
import { dollar, functionPrivileges, ident, indent, literal, shortName, table, tableText } from './util.ts';

export interface Source {
  table: TableRef;
  /** Non-strict events firing on writes to the table, in config order. */
  events: NormalizedEvent[];
  /** Counters of the table, in config order. */
  counters: NormalizedCounter[];
  /**
   * Operations captured: those of the events, and those that can move a counter (all three; insert
   * and delete for a counter that counts every row).
   */
  ops: Operation[];
  /**
   * What the capture keeps: `rows` (the rows as json), or `count` when nothing the processor does
   * reads a row (no event, every counter counts every row: `countsEveryRow`).
   */
  capture: 'rows' | 'count';
  /** Processor function name in schema dispatch (unquoted). */
  processor: string;
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');

function fnv(text: string): string {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** The source tables of a config, sorted by `schema.table`. */
export function sources(config: NormalizedConfig): Source[] {
  const byTable = new Map<string, Source>();
  const get = (t: TableRef) => {
    const key = tableText(t);
    let s = byTable.get(key);
    if (!s) {
      s = { table: t, events: [], counters: [], ops: [], capture: 'rows', processor: '' };
      byTable.set(key, s);
    }
    return s;
  };
  for (const e of config.events) if (firesOnWrites(e) && !e.strict) get(e.table!).events.push(e);
  for (const k of config.counters) get(k.table).counters.push(k);
  const list = [...byTable.values()].sort((a, b) => tableText(a.table).localeCompare(tableText(b.table)));
  const base = (s: Source) => `src_${slug(s.table.schema)}_${slug(s.table.name)}`;
  const count = new Map<string, number>();
  for (const s of list) count.set(base(s), (count.get(base(s)) ?? 0) + 1);
  for (const s of list) {
    const used = new Set([
      ...s.events.flatMap((e) => e.on),
      ...s.counters.flatMap((k): Operation[] => (countsEveryRow(k) ? ['insert', 'delete'] : [...OPERATIONS])),
    ]);
    s.ops = OPERATIONS.filter((op) => used.has(op));
    s.capture = s.events.length === 0 && s.counters.every(countsEveryRow) ? 'count' : 'rows';
    // Names that would clash (e.g. public.a_b and public_a.b) get a hash of the table.
    const b = count.get(base(s))! > 1 ? `${base(s)}_${fnv(tableText(s.table))}` : base(s);
    s.processor = shortName(`${b}_process`);
  }
  return list;
}

/** `dispatch.<processor>` as text, as registered. */
export const processorText = (s: Source): string => `dispatch.${ident(s.processor)}`;

function processor(s: Source): string {
  const blocks = [...s.events.map(eventProcessorBlock), ...s.counters.map(counterProcessorBlock)];
  const body = [
    '#variable_conflict use_column',
    'declare',
    '  v_records jsonb;',
    'begin',
    indent(blocks.join('\n'), 2),
    'end',
  ].join('\n');
  const sig = `${processorText(s)}(dispatch.changes[])`;
  return [
    // the processor of the previous generator took one change
    `drop function if exists ${processorText(s)}(dispatch.changes);`,
    `create or replace function ${processorText(s)}(p_changes dispatch.changes[]) returns void`,
    `language plpgsql security definer set search_path = '' as ${dollar(body)};`,
    functionPrivileges(sig, false),
  ].join('\n');
}

/** Counter name and audience scope of each counter of a counts-only table, as SQL literals. */
function counterScopePairs(s: Source): string[] {
  return s.counters.flatMap((k) => {
    if (k.scope.kind !== 'audience') throw new Error(`counter ${k.name}: not an audience counter`);
    return [literal(k.name), literal(k.scope.audience)];
  });
}

/**
 * The capture trigger's function: `dispatch.capture_changes()` (one change row per statement), or for a
 * counts-only table `dispatch.count_changes(<counter>, <scope>, ...)`, which adds the statement's row
 * count to the writer's running total of each counter (no change row; every drain publishes the sums).
 */
function captureCall(s: Source): string {
  if (s.capture === 'rows') return 'dispatch.capture_changes()';
  return `dispatch.count_changes(${counterScopePairs(s).join(', ')})`;
}

/**
 * A counts-only table: `dispatch.count_from_wal` switches it to counting from the WAL now (a healthy
 * slot) or when `dispatch.tick()` has created the slot; the writers' triggers above count until then.
 */
function countFromWal(s: Source): string {
  return `select dispatch.count_from_wal(${literal(tableText(s.table))}, array[${counterScopePairs(s).join(', ')}]);`;
}

function captureTriggers(s: Source): string {
  const t = table(s.table);
  const lines: string[] = [];
  for (const op of OPERATIONS) {
    const name = ident(captureTriggerName(op));
    lines.push(`drop trigger if exists ${name} on ${t};`);
    if (!s.ops.includes(op)) continue;
    lines.push(
      `create trigger ${name} after ${op} on ${t}`,
      `  ${referencing(op)}`,
      `  for each statement execute function ${captureCall(s)};`,
    );
  }
  return lines.join('\n');
}

export function sourceObject(s: Source): SqlObject {
  const t = table(s.table);
  const what = [...s.events.map((e) => `event ${e.id}`), ...s.counters.map((k) => `counter ${k.name}`)].join(
    ', ',
  );
  const install = [
    [
      `-- source ${tableText(s.table)}: ${what}`,
      '-- Writes are captured in the writing transaction (one dispatch.changes row per statement);',
      '-- dispatch.drain() runs the processor after commit on batches of them.',
    ].join('\n'),
    processor(s),
    `select dispatch.register_source(${literal(tableText(s.table))}, ${literal(processorText(s))});`,
    captureTriggers(s),
    ...(s.capture === 'count' ? [countFromWal(s)] : []),
  ].join('\n\n');
  const drop = [
    `-- source ${tableText(s.table)} removed`,
    `do $$ begin if to_regclass(${literal(tableText(s.table))}) is not null then`,
    ...OPERATIONS.map((op) => `  drop trigger if exists ${ident(captureTriggerName(op))} on ${t};`),
    'end if; end $$;',
    `select dispatch.unregister_source(${literal(tableText(s.table))});`,
    `drop function if exists ${processorText(s)}(dispatch.changes[]);`,
    `drop function if exists ${processorText(s)}(dispatch.changes);`,
  ].join('\n');
  return { key: `source:${tableText(s.table)}`, install, drop };
}

export const sourceObjects = (config: NormalizedConfig): SqlObject[] => sources(config).map(sourceObject);

/** Every trigger the generated SQL installs: capture triggers and the strict events' own ones. */
export function expectedTriggers(config: NormalizedConfig): { name: string; table: string }[] {
  const out: { name: string; table: string }[] = [];
  for (const s of sources(config)) {
    for (const op of s.ops) out.push({ name: captureTriggerName(op), table: tableText(s.table) });
  }
  for (const e of config.events) {
    if (!firesOnWrites(e) || !e.strict) continue;
    for (const op of e.on)
      out.push({ name: eventFunctionNames(e).triggerName(op), table: tableText(e.table!) });
  }
  return out;
}
