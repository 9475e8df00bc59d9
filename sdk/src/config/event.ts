/**
 * Events: the rows and operations that trigger one, its channels (transport + audience + delay),
 * and the content each channel's transport needs, with its `{{placeholders}}` checked against the
 * row's columns.
 */
import type { DeclaredAudiences } from './audience.ts';
import type { Checker, Path } from './checker.ts';
import { condition } from './condition.ts';
import { unknownName } from './errors.ts';
import type { NormalizedChannel, NormalizedEvent, TableRef } from './model.ts';
import { channelShape, contentShape, eventShape } from './shapes.ts';
import { OPERATIONS, TRANSPORTS, type TransportName } from './types.ts';
import { sortKeys, toArray } from './values.ts';

const EVENT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$/;
const PLACEHOLDER_RE = /\{\{\s*([^{}]*?)\s*\}\}/g;
const PLACEHOLDER_PATH_RE = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*$/;
/** Placeholder heads that are not columns of the row. */
const PLACEHOLDER_ROOTS = ['old', 'event', 'recipient', 'actor'];

/** The content keys a transport renders from (one of them must be given). */
const CONTENT_FOR: Partial<Record<TransportName, string[]>> = {
  in_app: ['title', 'message'],
  email: ['subject'],
  sms: ['text', 'message'],
};

export function event(
  c: Checker,
  id: string,
  value: unknown,
  transports: string[],
  audiences: DeclaredAudiences,
  slugs: Set<string>,
): NormalizedEvent | undefined {
  const path = ['events', id];
  if (!EVENT_ID_RE.test(id)) c.add(path, `event id "${id}" must be dotted words like "order.shipped"`);
  const ok = c.parse(eventShape, value, path);
  if (!ok) return undefined;
  const n0 = c.issues.length;
  const table = ok.table !== undefined ? c.sourceTable(ok.table, [...path, 'table']) : undefined;
  const on = [...new Set(toArray(ok.on))].sort((a, b) => OPERATIONS.indexOf(a) - OPERATIONS.indexOf(b));
  if (ok.table !== undefined && on.length === 0)
    c.add([...path, 'on'], 'is required with table: "insert", "update", "delete" or a list');
  if (ok.table === undefined && on.length > 0) c.add([...path, 'table'], 'is required when `on` is given');
  const key = ok.key !== undefined ? c.column(ok.key, [...path, 'key'], table) : 'id';
  const when = ok.when !== undefined ? condition(c, ok.when, [...path, 'when'], table, on) : undefined;
  if (ok.when !== undefined && !table) c.add([...path, 'when'], 'needs a table');

  const channels: NormalizedChannel[] = [];
  const chRaw = ok.channels ?? [];
  if (chRaw.length === 0 && !ok.module) c.add(path, 'needs channels or a module');
  chRaw.forEach((ch, i) => {
    const parsed = channel(c, ch, [...path, 'channels', i], table, transports, audiences);
    if (parsed) channels.push(parsed);
  });

  let content: Record<string, unknown> = {};
  if (ok.content !== undefined) {
    const parsed = c.parse(contentShape, ok.content, [...path, 'content']);
    if (parsed) {
      content = sortKeys(parsed as Record<string, unknown>);
      placeholders(c, content, [...path, 'content'], table);
      c.secretsIn(content, [...path, 'content']);
    }
  }
  // A module renders its own content; inline events must give what their transports render.
  if (!ok.module) {
    const used = new Set(channels.map((ch) => ch.transport));
    for (const t of [...used].sort()) {
      const need = CONTENT_FOR[t];
      if (need && !need.some((k) => typeof content[k] === 'string')) {
        c.add([...path, 'content'], `channel transport "${t}" needs content.${need.join(' or content.')}`);
      }
    }
    if (
      used.has('email') &&
      content.html === undefined &&
      content.text === undefined &&
      content.message === undefined
    ) {
      c.add([...path, 'content'], 'email channels need content.html, content.text or content.message');
    }
  }
  if (ok.module !== undefined && !/\.(m?[jt]s|tsx?)$/.test(ok.module)) {
    c.add([...path, 'module'], `"${ok.module}" must be a .ts or .js module path relative to the config`);
  }
  if (c.issues.length > n0) return undefined;
  const e: NormalizedEvent = {
    id,
    slug: slugOf(id, slugs),
    key: key ?? 'id',
    on,
    channels,
    content,
    metadata: sortKeys({ type: 'info', userConfigurable: true, ...(ok.metadata ?? {}) }),
    strict: ok.strict ?? false,
  };
  if (table) e.table = table;
  if (when) e.when = when;
  if (ok.module) e.module = ok.module.replace(/\\/g, '/');
  if (ok.description) e.description = ok.description;
  return e;
}

/** One channel; undefined when its transport or audience is unknown (each reported once). */
function channel(
  c: Checker,
  value: unknown,
  path: Path,
  table: TableRef | undefined,
  transports: string[],
  audiences: DeclaredAudiences,
): NormalizedChannel | undefined {
  const parsed = c.parse(channelShape, value, path);
  if (!parsed) return undefined;
  let good = true;
  if (!transports.includes(parsed.transport)) {
    good = false;
    if ((TRANSPORTS as readonly string[]).includes(parsed.transport)) {
      c.add(
        [...path, 'transport'],
        `transport "${parsed.transport}" is not configured (add it under transports)`,
      );
    } else
      c.add(
        [...path, 'transport'],
        unknownName('transport', parsed.transport, transports.length ? transports : TRANSPORTS),
      );
  }
  const aud = audiences.byName.get(parsed.audience);
  if (!audiences.names.includes(parsed.audience)) {
    good = false;
    c.add([...path, 'audience'], unknownName('audience', parsed.audience, audiences.names));
  } else if (aud && good) {
    const t = parsed.transport as TransportName;
    if (aud.kind === 'system') {
      // A system audience has no users, only recipients of the transport's own kind.
      const want = t === 'in_app' ? null : t;
      if (!want)
        c.add(
          [...path, 'audience'],
          `audience "${aud.name}" is a system audience (no users); transport "${t}" needs user recipients`,
        );
      else if (!aud.recipients.some((r) => r.kind === want)) {
        c.add(
          [...path, 'audience'],
          `system audience "${aud.name}" has no ${want} recipient for transport "${t}"`,
        );
      }
    } else if (t === 'webhook') {
      c.add(
        [...path, 'transport'],
        `webhook channels need a system audience with webhook URLs; "${aud.name}" is a ${aud.kind} audience`,
      );
    }
    if (
      (aud.kind === 'column' ||
        aud.kind === 'chain' ||
        (aud.kind === 'filter' && aud.where.some((w) => w.test.op === 'eqRow')) ||
        (aud.kind === 'function' && aud.args.length > 0)) &&
      !table
    ) {
      c.add([...path, 'audience'], `audience "${aud.name}" reads the event's row; the event needs a table`);
    }
    if (aud.kind === 'column') c.knownColumn(aud.column, [...path, 'audience'], table);
    if (aud.kind === 'chain') c.knownColumn(aud.start, [...path, 'audience'], table);
  }
  if (!good) return undefined;
  return {
    transport: parsed.transport as TransportName,
    audience: parsed.audience,
    delaySeconds: parseDelay(parsed.delay),
  };
}

function placeholders(c: Checker, v: unknown, path: Path, table: TableRef | undefined): void {
  if (typeof v === 'string') {
    const opens = (v.match(/\{\{/g) ?? []).length;
    const closes = (v.match(/\}\}/g) ?? []).length;
    if (opens !== closes) c.add(path, 'has an unclosed {{ placeholder }}');
    for (const m of v.matchAll(PLACEHOLDER_RE)) {
      const ref = m[1];
      if (!PLACEHOLDER_PATH_RE.test(ref))
        c.add(path, `placeholder {{${ref}}} must be a column or a dotted path like {{a.b}}`);
      else {
        const head = ref.split('.')[0];
        if (!PLACEHOLDER_ROOTS.includes(head)) c.knownColumn(head, path, table);
      }
    }
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => {
      placeholders(c, x, [...path, i], table);
    });
  } else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) placeholders(c, x, [...path, k], table);
}

/** `30` (seconds), `"30s"`, `"5m"`, `"1.5h"`, `"1d"` → whole seconds. The shape has checked the form. */
function parseDelay(v: number | string | undefined): number {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*([smhd])$/.exec(v)!;
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
}

/** An identifier-safe name for the event's SQL objects, unique among the events (`_2`, `_3` ...). */
function slugOf(id: string, taken: Set<string>): string {
  let base = id
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (!/^[a-z]/.test(base)) base = `e_${base}`;
  base = base.slice(0, 40);
  let slug = base;
  for (let i = 2; taken.has(slug); i++) slug = `${base}_${i}`;
  taken.add(slug);
  return slug;
}
