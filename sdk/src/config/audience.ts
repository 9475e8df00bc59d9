/**
 * Audiences, the six formats: a column of the row, a filter over the users table (its values may
 * come from the row), a chain of foreign keys, a SQL function, and static system recipients.
 * Chains are also how a per-user counter finds its user (counter.ts).
 */
import type { Checker, Path } from './checker.ts';
import { columnTest } from './condition.ts';
import { didYouMean } from './errors.ts';
import type { Audience, Hop, NormalizedUsers, SystemTarget, Test } from './model.ts';
import { looksLikeSecret } from './secrets.ts';
import { audienceShapes, hopShape, recipientShapes } from './shapes.ts';
import { describe } from './values.ts';

const NAME_RE = /^[A-Za-z][A-Za-z0-9_]*$/;
const AUDIENCE_FORMS = ['column', 'where', 'chain', 'function', 'system'] as const;

/**
 * The audiences as declared. `names` holds every name written, also of an audience with problems,
 * so that a channel naming it is not reported a second time as naming an unknown audience.
 */
export interface DeclaredAudiences {
  /** The valid audiences, sorted by name. */
  list: Audience[];
  names: string[];
  byName: Map<string, Audience>;
}

/** The `audiences` section; filters without `from` read the users table. */
export function audiencesOf(
  c: Checker,
  raw: Record<string, unknown>,
  users: Pick<NormalizedUsers, 'table' | 'id'>,
): DeclaredAudiences {
  const list: Audience[] = [];
  for (const name of Object.keys(raw).sort()) {
    const a = audience(c, name, raw[name], ['audiences', name], users);
    if (a) list.push(a);
  }
  return { list, names: Object.keys(raw), byName: new Map(list.map((a) => [a.name, a])) };
}

function audience(
  c: Checker,
  name: string,
  value: unknown,
  path: Path,
  users: Pick<NormalizedUsers, 'table' | 'id'>,
): Audience | undefined {
  if (!NAME_RE.test(name))
    c.add(path, `audience name "${name}" must start with a letter and use letters, digits, _`);
  // Shorthands: 'user_id' (column), ['order_id', 'orders.user_id'] (chain).
  if (typeof value === 'string') value = { column: value };
  else if (Array.isArray(value)) value = { chain: value };
  if (!value || typeof value !== 'object') {
    c.add(
      path,
      `must be an audience: { column }, { where }, { chain }, { function } or { system } (got ${describe(value)})`,
    );
    return undefined;
  }
  const v = value as Record<string, unknown>;
  const forms = AUDIENCE_FORMS.filter((f) => f in v);
  if (forms.length !== 1) {
    if (forms.length === 0) {
      const guess = Object.keys(v)
        .map((k) => didYouMean(k, AUDIENCE_FORMS))
        .find(Boolean);
      c.add(
        path,
        `must have one of column, where, chain, function, system${guess ? ` — did you mean "${guess}"?` : ''}`,
      );
    } else c.add(path, `has both ${forms.join(' and ')}; an audience has exactly one form`);
    return undefined;
  }
  switch (forms[0]) {
    case 'column': {
      c.parse(audienceShapes.column, v, path);
      const col = c.column(v.column, [...path, 'column']);
      return col ? { name, kind: 'column', column: col } : undefined;
    }
    case 'where': {
      const ok = c.parse(audienceShapes.where, v, path);
      if (!ok) return undefined;
      const from = ok.from !== undefined ? c.table(ok.from, [...path, 'from']) : users.table;
      if (!from) return undefined;
      const userColumn =
        ok.userColumn !== undefined ? c.column(ok.userColumn, [...path, 'userColumn'], from) : users.id;
      const where: { column: string; test: Test }[] = [];
      const entries = Object.entries(ok.where).sort(([a], [b]) => a.localeCompare(b));
      if (entries.length === 0)
        c.add([...path, 'where'], 'must test at least one column (use a function audience for "everyone")');
      for (const [col, test] of entries) {
        const p = [...path, 'where', col];
        c.column(col, p, from);
        const t = columnTest(c, test, p, true);
        if (t) where.push({ column: col, test: t });
      }
      return userColumn ? { name, kind: 'filter', from, userColumn, where } : undefined;
    }
    case 'chain': {
      c.parse(audienceShapes.chain, v, path);
      const parsed = chain(c, v.chain, [...path, 'chain']);
      return parsed ? { name, kind: 'chain', ...parsed } : undefined;
    }
    case 'function': {
      const ok = c.parse(audienceShapes.function, v, path);
      if (!ok) return undefined;
      const fn = c.table(ok.function, [...path, 'function'], false);
      const args = (ok.args ?? []).map((a, i) => c.column(a, [...path, 'args', i]) ?? a);
      return fn ? { name, kind: 'function', fn, args } : undefined;
    }
    case 'system': {
      const ok = c.parse(audienceShapes.system, v, path);
      if (!ok) return undefined;
      const recipients: SystemTarget[] = [];
      ok.system.forEach((r, i) => {
        const t = systemRecipient(c, r, [...path, 'system', i]);
        if (t) recipients.push(t);
      });
      return { name, kind: 'system', recipients };
    }
  }
}

function systemRecipient(c: Checker, r: unknown, path: Path): SystemTarget | undefined {
  const rec = (r && typeof r === 'object' ? r : {}) as Record<string, unknown>;
  const kinds = (['email', 'webhook', 'slack', 'discord', 'sms'] as const).filter((k) => k in rec);
  if (kinds.length !== 1) {
    c.add(
      path,
      'must be one of { email }, { webhook }, { slack: { urlSecret } }, { discord: { urlSecret } }, { sms }',
    );
    return undefined;
  }
  const kind = kinds[0];
  const name = typeof rec.name === 'string' ? rec.name : undefined;
  const withName = (o: SystemTarget) => (name ? { ...o, name } : o);
  if (kind === 'email') {
    const ok = c.parse(recipientShapes.email, rec, path);
    return ok ? withName({ kind: 'email', address: ok.email }) : undefined;
  }
  if (kind === 'webhook') {
    const ok = c.parse(recipientShapes.webhook, rec, path);
    c.secretsIn(rec.webhook, [...path, 'webhook']);
    return ok ? withName({ kind: 'webhook', url: ok.webhook }) : undefined;
  }
  if (kind === 'sms') {
    const ok = c.parse(recipientShapes.sms, rec, path);
    return ok ? withName({ kind: 'sms', number: ok.sms }) : undefined;
  }
  // Slack and Discord: the webhook URL is the secret, so only its name may be written.
  if (typeof rec[kind] === 'string') {
    const what = looksLikeSecret(rec[kind] as string);
    c.add(
      [...path, kind],
      `${what ? `looks like ${what}; ` : ''}reference the webhook URL by secret name: { ${kind}: { urlSecret: 'MY_${kind.toUpperCase()}_WEBHOOK_URL' } }`,
    );
    return undefined;
  }
  const ok =
    kind === 'slack'
      ? c.parse(recipientShapes.slack, rec, path)?.slack
      : c.parse(recipientShapes.discord, rec, path)?.discord;
  if (!ok) return undefined;
  const secret = ok.urlSecret;
  c.secretsIn(secret, [...path, kind, 'urlSecret']);
  return withName({ kind, urlSecret: secret });
}

/** `['order_id', 'orders.user_id', ...]`: a column of the row, then hops along foreign keys. */
export function chain(c: Checker, value: unknown, path: Path): { start: string; hops: Hop[] } | undefined {
  if (!Array.isArray(value) || value.length < 2) {
    c.add(
      path,
      'must be a row column followed by at least one "table.column" hop, e.g. ["order_id", "orders.user_id"]',
    );
    return undefined;
  }
  const start = c.column(value[0], [...path, 0]);
  const hops: Hop[] = [];
  for (let i = 1; i < value.length; i++) {
    const h = value[i];
    const p = [...path, i];
    if (typeof h === 'string') {
      const m = /^(?:([A-Za-z_]\w*)\.)?([A-Za-z_]\w*)\.([A-Za-z_]\w*)$/.exec(h);
      if (!m) {
        c.add(p, `"${h}" must be "table.column" or "schema.table.column"`);
        continue;
      }
      const table = { schema: m[1] ?? 'public', name: m[2] };
      c.knownTable(table, p);
      c.knownColumn(m[3], p, table);
      hops.push({ table, key: 'id', column: m[3] });
    } else {
      const ok = c.parse(hopShape, h, p);
      if (!ok) continue;
      const table = c.table(ok.table, [...p, 'table']);
      if (!table) continue;
      const column = c.column(ok.column, [...p, 'column'], table);
      const key = ok.key ? c.column(ok.key, [...p, 'key'], table) : 'id';
      if (column && key) hops.push({ table, key, column });
    }
  }
  return start && hops.length === value.length - 1 ? { start, hops } : undefined;
}
