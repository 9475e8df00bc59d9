/**
 * Per event: an expander (`dispatch.create_receipts` per channel, recipients resolved by joins over
 * the whole batch) and its registration (`dispatch.register_event`). Writes to the event's table reach
 * it in one of two ways:
 * - default: the table's capture triggers store one `dispatch.changes` row per statement and, after
 *   commit, `dispatch.drain()` runs the table's processor (sql/source.ts), which holds this event's
 *   block from `eventProcessorBlock` (condition as a set-based filter over the captured rows of a batch
 *   of changes, one `dispatch.fire` per operation per batch, each record with its writer and capture
 *   time);
 * - strict: a statement-level trigger per operation fires inside the app's transaction (transition
 *   tables), so an expansion error aborts the write.
 * `dispatch.emit('<event id>', record)` and `dispatch.replay` reach the same expander through the core.
 */
import type { Audience, NormalizedChannel, NormalizedConfig, NormalizedEvent } from '../../config/model.ts';
import { OPERATIONS, type Operation } from '../../config/types.ts';
import { audienceSelect } from './audience.ts';
import { eventCondSql } from './cond.ts';
import { eventExpanderName, eventTriggerFunctionName, eventTriggerName } from './names.ts';
import { compiledTemplate } from './template.ts';
import {
  dollar,
  functionPrivileges,
  ident,
  indent,
  jsonb,
  literal,
  stableJson,
  table,
  tableText,
  textArray,
} from './util.ts';

export interface SqlObject {
  /** `event:<id>`, `counter:<name>`, `source:<schema.table>`, `audiences`. */
  key: string;
  /** Idempotent SQL that installs / replaces the object. */
  install: string;
  /** SQL that removes it (recorded in the lock, used when it leaves the config). */
  drop: string;
}

export const eventFunctionNames = (e: NormalizedEvent) => ({
  trigger: eventTriggerFunctionName(e.slug),
  expander: eventExpanderName(e.slug),
  triggerName: (op: Operation) => eventTriggerName(e.slug, op),
});

/** Unique channel names within an event: `<transport>:<audience>` (+ `#n` for repeats). */
export function channelNames(channels: NormalizedChannel[]): string[] {
  const seen = new Map<string, number>();
  return channels.map((c) => {
    const base = `${c.transport}:${c.audience}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}#${n}`;
  });
}

export const OP_UPPER: Record<Operation, string> = { insert: 'INSERT', update: 'UPDATE', delete: 'DELETE' };

/** The rows of a statement: transition tables in a trigger, captured JSON in a processor. */
interface RowSources {
  newRows: string;
  oldRows: string;
}

/** Inside a statement-level trigger: the transition tables. */
const TRANSITION: RowSources = { newRows: 'new_rows', oldRows: 'old_rows' };

function rowsFrom(e: NormalizedEvent, op: Operation, rows: RowSources): string {
  const t = table(e.table!);
  const key = ident(e.key);
  if (op === 'insert') return `from ${rows.newRows} as new left join ${t} as old on false`;
  if (op === 'delete') return `from ${rows.oldRows} as old left join ${t} as new on false`;
  return `from ${rows.newRows} as new join ${rows.oldRows} as old on old.${key} = new.${key}`;
}

/**
 * This event's part of its table's processor (`p_changes dispatch.changes[]`, a batch of the table's
 * changes in capture order, operations mixed; a `v_records jsonb` variable): per operation, the
 * captured rows of every change of that operation that meet the condition, each record with its
 * change's writer and capture time, in capture order (changes by id, rows in their captured order);
 * one `dispatch.fire` per operation. UPDATE rows
 * are paired (by the event key) only within their own change: the pairing join runs inside a lateral
 * subquery per change, where it can hash instead of rescanning the old rows per new row.
 */
export function eventProcessorBlock(e: NormalizedEvent): string {
  const t = table(e.table!);
  const rows: RowSources = {
    newRows: `json_populate_recordset(null::${t}, ch.new_rows)`,
    oldRows: `json_populate_recordset(null::${t}, ch.old_rows)`,
  };
  const parts = [`-- event ${e.id}`];
  for (const op of e.on) {
    const where = e.when ? `\nwhere ${eventCondSql(e.when, op)}` : '';
    parts.push(
      [
        'v_records := null;',
        `select jsonb_agg(jsonb_build_object('new', to_jsonb(x.new), 'old', to_jsonb(x.old), 'actor', ch.actor, 'at', ch.captured_at) order by ch.id, x.n)`,
        '  into v_records',
        'from unnest(p_changes) as ch',
        'cross join lateral (',
        // n: the row's place in its statement's captured rows (the order a statement-level trigger sees)
        '  select new, old, row_number() over () as n',
        indent(`${rowsFrom(e, op, rows)}${where}`, 2),
        ') as x',
        `where ch.operation = ${literal(OP_UPPER[op])};`,
        'if v_records is not null then',
        `  perform dispatch.fire(${literal(e.id)}, ${literal(op)}, ${literal(tableText(e.table!))}, v_records);`,
        'end if;',
      ].join('\n'),
    );
  }
  return parts.join('\n');
}

/** Whether writes to the event's table fire it (it has a table and operations). */
export const firesOnWrites = (e: NormalizedEvent): boolean => !!e.table && e.on.length > 0;

/** A strict event's own trigger function: fires inside the app's transaction. */
function triggerFunction(e: NormalizedEvent): string {
  const names = eventFunctionNames(e);
  // one branch per operation collecting the matching rows into v_records
  const branches = e.on.map((op) => {
    const where = e.when ? `\nwhere ${eventCondSql(e.when, op)}` : '';
    return [
      `if tg_op = ${literal(OP_UPPER[op])} then`,
      `  select jsonb_agg(jsonb_build_object('new', to_jsonb(new), 'old', to_jsonb(old)))`,
      '    into v_records',
      indent(`${rowsFrom(e, op, TRANSITION)}${where};`, 2),
      'end if;',
    ].join('\n');
  });
  const body = [
    '#variable_conflict use_column',
    'declare',
    '  v_records jsonb;',
    'begin',
    indent(branches.join('\n'), 2),
    '  if v_records is not null then',
    `    perform dispatch.fire(${literal(e.id)}, lower(tg_op), ${literal(tableText(e.table!))}, v_records);`,
    '  end if;',
    '  return null;',
    'end',
  ].join('\n');
  const sig = `dispatch.${ident(names.trigger)}()`;
  return `create or replace function ${sig} returns trigger\nlanguage plpgsql security definer set search_path = '' as ${dollar(body)};\n${functionPrivileges(sig, false)}`;
}

/** `referencing ...` of a statement-level trigger per operation (transition table names). */
export function referencing(op: Operation): string {
  return op === 'insert'
    ? 'referencing new table as new_rows'
    : op === 'delete'
      ? 'referencing old table as old_rows'
      : 'referencing old table as old_rows new table as new_rows';
}

function triggers(e: NormalizedEvent): string {
  const names = eventFunctionNames(e);
  const t = table(e.table!);
  return e.on
    .map((op) => {
      const name = ident(names.triggerName(op));
      return [
        `drop trigger if exists ${name} on ${t};`,
        `create trigger ${name} after ${op} on ${t}`,
        `  ${referencing(op)}`,
        `  for each statement execute function dispatch.${ident(names.trigger)}();`,
      ].join('\n');
    })
    .join('\n');
}

/** Content stored on each receipt: in-app fields rendered now (the notification is written in SQL). */
function receiptContent(e: NormalizedEvent, channel: NormalizedChannel): string {
  if (channel.transport !== 'in_app') return 'null::jsonb';
  const c = e.content as Record<string, string | undefined>;
  // compiled when generated (sql/template.ts), capped at the expander's v_cap
  const render = (k: string) => (c[k] === undefined ? 'null' : compiledTemplate(c[k]!, 's.data', 'v_cap'));
  const meta = { ...e.metadata };
  delete meta.type;
  return [
    'jsonb_strip_nulls(jsonb_build_object(',
    `  'title', ${render('title')},`,
    `  'message', ${render('message')},`,
    `  'actionUrl', ${render('actionUrl')},`,
    `  'actionLabel', ${render('actionLabel')},`,
    `  'type', ${literal(String(e.metadata.type ?? 'info'))},`,
    `  'metadata', ${jsonb(meta)}`,
    '))',
  ].join('\n');
}

function expander(e: NormalizedEvent, config: NormalizedConfig, audiences: Map<string, Audience>): string {
  const names = eventFunctionNames(e);
  const rowType = e.table ? `null::${table(e.table)}` : null;
  const src = [
    'with src as (',
    '  select o.id as occurrence_id,',
    // Events without a table have no typed row; their audiences do not read one (validated).
    ...(rowType
      ? [`         jsonb_populate_record(${rowType}, coalesce(o.new_record, o.old_record)) as r,`]
      : []),
    `         coalesce(o.new_record, o.old_record, '{}'::jsonb) || jsonb_build_object('old', o.old_record) as data`,
    '  from unnest(p_occurrences) o',
    ')',
  ].join('\n');
  const chNames = channelNames(e.channels);
  const email = config.users.email;
  const parts = e.channels.map((ch, i) => {
    const aud = audiences.get(ch.audience)!;
    const recipients = audienceSelect(aud, ch.transport);
    const wantsEmail = ch.transport === 'email' && aud.kind !== 'system';
    const address = wantsEmail ? 'coalesce(x.address, em.' + ident(email.column) + '::text)' : 'x.address';
    const emailJoin = wantsEmail
      ? `\n  left join ${table(email.table)} em on em.${ident(email.id)} = x.user_id`
      : '';
    return [
      `-- channel ${chNames[i]}${ch.delaySeconds ? ` (delay ${ch.delaySeconds}s)` : ''}`,
      `perform dispatch.create_receipts(${literal(e.id)}, ${literal(chNames[i])}, ${literal(ch.transport)}, ${literal(ch.audience)}, interval '${ch.delaySeconds} seconds', array(`,
      indent(src, 2),
      `  select row(x.occurrence_id, x.user_id, ${address},`,
      indent(receiptContent(e, ch), 4),
      '  )::dispatch.recipient',
      '  from (',
      indent(recipients, 4),
      '  ) x',
      `  join src s on s.occurrence_id = x.occurrence_id${emailJoin}`,
      '  order by x.occurrence_id, x.user_id, x.address',
      '));',
    ].join('\n');
  });
  // the render cap, read once per call (not once per rendered text)
  const declare = e.channels.some((ch) => ch.transport === 'in_app')
    ? ['declare', '  v_cap constant integer := dispatch.render_cap();']
    : [];
  const body = [...declare, 'begin', indent(parts.join('\n'), 2), 'end'].join('\n');
  const sig = `dispatch.${ident(names.expander)}(dispatch.occurrences[])`;
  return `create or replace function dispatch.${ident(names.expander)}(p_occurrences dispatch.occurrences[]) returns void\nlanguage plpgsql security definer set search_path = '' as ${dollar(body)};\n${functionPrivileges(sig)}`;
}

function registration(e: NormalizedEvent, hasExpander: boolean): string {
  const names = eventFunctionNames(e);
  const transports = [...new Set(e.channels.map((c) => c.transport))].sort();
  const meta = e.metadata;
  const cfg = {
    channels: e.channels.map((c, i) => ({ ...c, name: channelNames(e.channels)[i] })),
    content: e.content,
    metadata: meta,
    module: e.module,
    on: e.on,
  };
  return [
    'select dispatch.register_event(',
    `  p_id => ${literal(e.id)},`,
    `  p_expander => ${hasExpander ? literal(`dispatch.${names.expander}`) : 'null'},`,
    `  p_source_table => ${e.table ? literal(tableText(e.table)) : 'null'},`,
    `  p_category => ${typeof meta.category === 'string' ? literal(meta.category) : 'null'},`,
    `  p_type => ${literal(String(meta.type ?? 'info'))},`,
    `  p_user_configurable => ${meta.userConfigurable === false ? 'false' : 'true'},`,
    `  p_strict => ${e.strict ? 'true' : 'false'},`,
    `  p_transports => ${textArray(transports)},`,
    `  p_description => ${literal(e.description ?? '')},`,
    `  p_config => ${literal(stableJson(cfg))}::jsonb`,
    ');',
  ].join('\n');
}

export function eventObject(e: NormalizedEvent, config: NormalizedConfig): SqlObject {
  const audiences = new Map(config.audiences.map((a) => [a.name, a]));
  const names = eventFunctionNames(e);
  const install: string[] = [`-- event ${e.id}`];
  const hasExpander = e.channels.length > 0;
  if (hasExpander) install.push(expander(e, config, audiences));
  install.push(registration(e, hasExpander));
  if (e.table && e.strict && e.on.length > 0) {
    // Strict: its own triggers. Those of operations no longer listed are dropped too.
    const t = table(e.table);
    for (const op of OPERATIONS) {
      if (!e.on.includes(op)) install.push(`drop trigger if exists ${ident(names.triggerName(op))} on ${t};`);
    }
    install.push(triggerFunction(e), triggers(e));
  } else if (e.table) {
    // Fired by its table's processor (source:<table>): an own trigger of an earlier install (or of
    // this event when it was strict) would fire it a second time.
    const t = table(e.table);
    install.push(
      [
        '-- fired after commit by the processor of its table (no trigger of its own)',
        ...OPERATIONS.map((op) => `drop trigger if exists ${ident(names.triggerName(op))} on ${t};`),
        `drop function if exists dispatch.${ident(names.trigger)}();`,
      ].join('\n'),
    );
  }
  const drop: string[] = [`-- event ${e.id} removed`];
  if (e.table) {
    const t = table(e.table);
    drop.push(`do $$ begin if to_regclass(${literal(tableText(e.table))}) is not null then`);
    for (const op of OPERATIONS) {
      drop.push(`  drop trigger if exists ${ident(names.triggerName(op))} on ${t};`);
    }
    drop.push('end if; end $$;');
  }
  drop.push(`drop function if exists dispatch.${ident(names.trigger)}();`);
  drop.push(`delete from dispatch.events where id = ${literal(e.id)};`);
  drop.push(`drop function if exists dispatch.${ident(names.expander)}(dispatch.occurrences[]);`);
  return { key: `event:${e.id}`, install: install.join('\n\n'), drop: drop.join('\n') };
}
