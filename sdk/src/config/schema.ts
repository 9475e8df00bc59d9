/**
 * Run-time validation of the dispatch config (zod for shapes, plus cross-reference checks), and
 * normalization into the generator's model. Every problem is collected, each with its path.
 */
import { z } from 'zod';
import { ConfigError, type ConfigIssue, didYouMean, unknownName } from './errors.ts';
import {
  type Audience,
  type Cond,
  DEFAULT_OUTPUT,
  type Hop,
  type NormalizedChannel,
  type NormalizedConfig,
  type NormalizedCounter,
  type NormalizedCounterScope,
  type NormalizedEvent,
  type SystemTarget,
  type TableRef,
  type Test,
} from './model.ts';
import { OPERATIONS, type Operation, type Scalar, TRANSPORTS, type TransportName } from './types.ts';

type Path = (string | number)[];

export interface ValidateOptions {
  /**
   * Known columns per table (`schema.table` → column names), e.g. introspected from the database.
   * When given, every column the config names is checked against it.
   */
  columns?: Record<string, readonly string[]>;
}

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_$]*$/;
const TABLE_RE = /^(?:([A-Za-z_][A-Za-z0-9_$]*)\.)?([A-Za-z_][A-Za-z0-9_$]*)$/;
const EVENT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$/;
const NAME_RE = /^[A-Za-z][A-Za-z0-9_]*$/;
const SECRET_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PLACEHOLDER_RE = /\{\{\s*([^{}]*?)\s*\}\}/g;
const PLACEHOLDER_PATH_RE = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*$/;

/** Values that look like credentials pasted into the config instead of named. */
const SECRET_PATTERNS: [RegExp, string][] = [
  [/^re_[A-Za-z0-9_]{8,}$/, 'a Resend API key'],
  [/^whsec_[A-Za-z0-9+/=_-]{8,}$/, 'a webhook signing secret'],
  [/^xox[abposr]-[A-Za-z0-9-]{8,}/, 'a Slack token'],
  [/^(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{8,}/, 'a Stripe-style secret key'],
  [/^SG\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/, 'a SendGrid API key'],
  [/^eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}/, 'a JWT'],
  [/^https:\/\/hooks\.slack\.com\/services\//i, 'a Slack webhook URL (the URL is the secret)'],
  [
    /^https:\/\/(?:ptb\.|canary\.)?discord(?:app)?\.com\/api\/webhooks\//i,
    'a Discord webhook URL (the URL is the secret)',
  ],
  [/^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, 'a URL with a password'],
  [/[?&](?:token|access_token|api_key|apikey|key|secret|sig|signature)=[^&\s]{6,}/i, 'a URL with a token'],
];

export function looksLikeSecret(value: string): string | undefined {
  for (const [re, what] of SECRET_PATTERNS) if (re.test(value)) return what;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// zod shapes (structure only; meaning is checked below)
// ---------------------------------------------------------------------------------------------

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const secretName = z.string().regex(SECRET_NAME_RE, 'must be the name of a secret (letters, digits, _)');
const delay = z.union([
  z.number().int('must be a whole number of seconds').nonnegative('must not be negative'),
  z
    .string()
    .regex(/^\d+(?:\.\d+)?\s*(?:s|m|h|d)$/, 'must be seconds or a duration like "30s", "5m", "2h", "1d"'),
]);

const transportSchemas: Record<TransportName, z.ZodType> = {
  in_app: z.strictObject({ enabled: z.boolean().optional() }),
  email: z.strictObject({
    provider: z.enum(['resend', 'smtp', 'postmark', 'sendgrid']).optional(),
    from: z.string().min(3, 'must be a sender like "Shop <noreply@shop.example>"'),
    replyTo: z.string().optional(),
    apiKeySecret: secretName.optional(),
    emailColumn: z.string().optional(),
  }),
  webhook: z.strictObject({
    signingSecret: secretName.optional(),
    timeoutMs: z.number().int().positive().optional(),
  }),
  slack: z.strictObject({ defaultUrlSecret: secretName.optional() }),
  discord: z.strictObject({ defaultUrlSecret: secretName.optional() }),
  sms: z.strictObject({
    provider: z.enum(['twilio', 'vonage']).optional(),
    from: z.string().optional(),
    apiKeySecret: secretName.optional(),
    phoneColumn: z.string().optional(),
  }),
};

const channelSchema = z.strictObject({
  transport: z.string({ error: 'transport is required' }),
  audience: z.string({ error: 'audience is required' }),
  delay: delay.optional(),
});

const contentSchema = z.strictObject({
  subject: z.string().optional(),
  title: z.string().optional(),
  message: z.string().optional(),
  actionUrl: z.string().optional(),
  actionLabel: z.string().optional(),
  html: z.string().optional(),
  text: z.string().optional(),
  payload: z.unknown().optional(),
});

const metadataSchema = z
  .object({
    type: z.enum(['info', 'success', 'warning', 'error']).optional(),
    category: z.string().optional(),
    userConfigurable: z.boolean().optional(),
  })
  .catchall(z.unknown());

const operationsSchema = z.union([z.enum(OPERATIONS), z.array(z.enum(OPERATIONS)).min(1)], {
  error: 'must be "insert", "update", "delete" or a non-empty list of them',
});

const eventSchema = z.strictObject({
  table: z.string().optional(),
  key: z.string().optional(),
  on: operationsSchema.optional(),
  when: z.unknown().optional(),
  channels: z.array(z.unknown()).optional(),
  content: z.unknown().optional(),
  metadata: metadataSchema.optional(),
  strict: z.boolean().optional(),
  module: z.string().optional(),
  description: z.string().optional(),
});

const counterSchema = z.strictObject({
  table: z.string({ error: 'table is required' }),
  key: z.string().optional(),
  where: z.unknown().optional(),
  scope: z.unknown(),
  invalidates: z.array(z.union([z.string(), z.array(z.union([z.string(), z.number()]))])).optional(),
  sharded: z.union([z.boolean(), z.number().int().min(1).max(1024)]).optional(),
  description: z.string().optional(),
});

const topSchema = z.strictObject({
  users: z
    .strictObject({ table: z.string().optional(), id: z.string().optional(), email: z.string().optional() })
    .optional(),
  transports: z.record(z.string(), z.unknown(), { error: 'transports is required (an object)' }),
  audiences: z.record(z.string(), z.unknown(), { error: 'audiences is required (an object)' }),
  admin: z.string().optional(),
  events: z.record(z.string(), z.unknown(), { error: 'events is required (an object)' }),
  counters: z.record(z.string(), z.unknown()).optional(),
  output: z
    .strictObject({
      sdk: z.string().optional(),
      registry: z.string().optional(),
      migrations: z.string().optional(),
      lock: z.string().optional(),
      reactPackage: z.string().optional(),
    })
    .optional(),
});

// ---------------------------------------------------------------------------------------------
// The validator
// ---------------------------------------------------------------------------------------------

const TOP_KEYS = ['users', 'transports', 'audiences', 'admin', 'events', 'counters', 'output'];

class Checker {
  issues: ConfigIssue[] = [];
  constructor(readonly options: ValidateOptions) {}

  add(path: Path, message: string): void {
    this.issues.push({ path: [...path], message });
  }

  /** Parses with zod; on failure records every issue (with its path) and returns undefined. */
  parse<T>(schema: z.ZodType<T>, value: unknown, path: Path, knownKeys?: string[]): T | undefined {
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    for (const issue of r.error.issues) {
      const at = [...path, ...(issue.path as (string | number)[])];
      if (issue.code === 'unrecognized_keys') {
        for (const k of issue.keys) {
          const guess = knownKeys ? didYouMean(k, knownKeys) : undefined;
          this.add(
            [...at, k],
            guess ? `unknown key "${k}" — did you mean "${guess}"?` : `unknown key "${k}"`,
          );
        }
      } else this.add(at, zodMessage(issue));
    }
    return undefined;
  }

  table(value: unknown, path: Path, mustExist = true): TableRef | undefined {
    if (typeof value !== 'string') {
      this.add(path, 'must be a table name like "orders" or "schema.table"');
      return undefined;
    }
    const m = TABLE_RE.exec(value);
    if (!m) {
      this.add(path, `"${value}" is not a table name (expected "table" or "schema.table")`);
      return undefined;
    }
    const t = { schema: m[1] ?? 'public', name: m[2] };
    if (mustExist) this.knownTable(t, path);
    return t;
  }

  /** With known columns (a database was introspected), the table must exist. */
  knownTable(t: TableRef, path: Path): void {
    const known = this.options.columns;
    if (!known) return;
    const name = `${t.schema}.${t.name}`;
    if (!(name in known)) this.add(path, unknownName('table', name, Object.keys(known)));
  }

  column(value: unknown, path: Path, table?: TableRef): string | undefined {
    if (typeof value !== 'string' || !IDENT_RE.test(value)) {
      this.add(path, `${JSON.stringify(value)} is not a column name`);
      return undefined;
    }
    this.knownColumn(value, path, table);
    return value;
  }

  knownColumn(column: string, path: Path, table?: TableRef): void {
    const cols = table && this.options.columns?.[`${table.schema}.${table.name}`];
    if (cols && !cols.includes(column)) {
      this.add(path, unknownName(`column of ${table.schema}.${table.name}`, column, cols));
    }
  }

  secretsIn(value: unknown, path: Path): void {
    if (typeof value === 'string') {
      const what = looksLikeSecret(value);
      if (what) {
        this.add(path, `looks like ${what}; put it in a secret and reference the secret's name instead`);
      }
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => {
        this.secretsIn(v, [...path, i]);
      });
    } else if (value && typeof value === 'object' && !isRaw(value)) {
      for (const [k, v] of Object.entries(value)) this.secretsIn(v, [...path, k]);
    }
  }
}

function isRaw(v: unknown): v is { sql: string } {
  return (
    !!v &&
    typeof v === 'object' &&
    typeof (v as { sql?: unknown }).sql === 'string' &&
    Object.keys(v).length === 1
  );
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

function zodMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_type':
      if (issue.message && !issue.message.startsWith('Invalid input')) return issue.message;
      return `expected ${issue.expected}`;
    case 'invalid_union': {
      return issue.message && !issue.message.startsWith('Invalid input')
        ? issue.message
        : 'has an invalid value';
    }
    default:
      return issue.message;
  }
}

function keysOf(schema: z.ZodType): string[] {
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

function toArray<T>(v: T | readonly T[] | undefined): T[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? [...v] : [v as T];
}

function parseDelay(v: number | string | undefined): number {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*([smhd])$/.exec(v)!;
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
}

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

/** Validates the config; throws `ConfigError` listing every problem. */
export function validateConfig(input: unknown, options: ValidateOptions = {}): NormalizedConfig {
  const c = new Checker(options);
  const result = normalize(c, input);
  if (c.issues.length > 0 || !result) throw new ConfigError(c.issues);
  return result;
}

/** Like `validateConfig` but returns the problems instead of throwing. */
export function checkConfig(input: unknown, options: ValidateOptions = {}): ConfigIssue[] {
  const c = new Checker(options);
  normalize(c, input);
  return c.issues;
}

function normalize(c: Checker, input: unknown): NormalizedConfig | undefined {
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    c.add(
      [],
      `the config must be an object (the default export of defineDispatch({...})), got ${describe(input)}`,
    );
    return undefined;
  }
  const top = c.parse(topSchema, input, [], TOP_KEYS);
  const raw = input as Record<string, unknown>;
  const obj = (v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

  // Users / emails
  const usersRaw = obj(raw.users);
  const usersTable = (usersRaw.table !== undefined && c.table(usersRaw.table, ['users', 'table'])) || {
    schema: 'public',
    name: 'profiles',
  };
  const usersId =
    typeof usersRaw.id === 'string' ? (c.column(usersRaw.id, ['users', 'id'], usersTable) ?? 'id') : 'id';
  let email = { table: { schema: 'auth', name: 'users' }, column: 'email', id: 'id' };
  if (usersRaw.email !== undefined) {
    const m =
      typeof usersRaw.email === 'string'
        ? /^(?:([A-Za-z_]\w*)\.)?([A-Za-z_]\w*)\.([A-Za-z_]\w*)$/.exec(usersRaw.email)
        : null;
    if (!m)
      c.add(['users', 'email'], 'must be "table.column" or "schema.table.column" (e.g. "auth.users.email")');
    else {
      const table = { schema: m[1] ?? 'public', name: m[2] };
      const isAuth = table.schema === 'auth' && table.name === 'users';
      email = { table, column: m[3], id: isAuth ? 'id' : usersId };
      if (!isAuth) c.knownColumn(m[3], ['users', 'email'], table);
    }
  }

  // Transports
  const transports: NormalizedConfig['transports'] = {};
  for (const [name, settings] of Object.entries(obj(raw.transports)).sort(([a], [b]) => a.localeCompare(b))) {
    const path = ['transports', name];
    if (!(TRANSPORTS as readonly string[]).includes(name)) {
      c.add(path, unknownName('transport', name, TRANSPORTS));
      continue;
    }
    const schema = transportSchemas[name as TransportName];
    const parsed = c.parse(schema, settings ?? {}, path, keysOf(schema));
    c.secretsIn(settings, path);
    if (parsed) transports[name as TransportName] = sortKeys(parsed as Record<string, unknown>);
  }
  const transportNames = Object.keys(transports);

  // Audiences
  const audiences: Audience[] = [];
  const audiencesRaw = obj(raw.audiences);
  for (const name of Object.keys(audiencesRaw).sort()) {
    const path = ['audiences', name];
    if (!NAME_RE.test(name))
      c.add(path, `audience name "${name}" must start with a letter and use letters, digits, _`);
    const a = audience(c, name, audiencesRaw[name], path, usersTable, usersId);
    if (a) audiences.push(a);
  }
  const audienceNames = Object.keys(audiencesRaw);
  const audienceByName = new Map(audiences.map((a) => [a.name, a]));

  // Admin
  let admin: string | undefined;
  if (raw.admin !== undefined) {
    if (typeof raw.admin !== 'string') c.add(['admin'], 'must be the name of an audience');
    else if (!audienceNames.includes(raw.admin))
      c.add(['admin'], unknownName('audience', raw.admin, audienceNames));
    else {
      const a = audienceByName.get(raw.admin);
      if (a && a.kind !== 'filter' && a.kind !== 'function') {
        c.add(
          ['admin'],
          `audience "${raw.admin}" is a ${a.kind} audience; the admin audience must be a filter or a function (a set of users independent of any row)`,
        );
      }
      admin = raw.admin;
    }
  }

  // Events
  const events: NormalizedEvent[] = [];
  const slugs = new Set<string>();
  const eventsRaw = obj(raw.events);
  for (const id of Object.keys(eventsRaw).sort()) {
    const e = event(c, id, eventsRaw[id], transportNames, audienceByName, audienceNames, slugs);
    if (e) events.push(e);
  }

  // Counters
  const counters: NormalizedCounter[] = [];
  const countersRaw = obj(raw.counters);
  for (const name of Object.keys(countersRaw).sort()) {
    const k = counter(c, name, countersRaw[name], audienceByName, audienceNames);
    if (k) counters.push(k);
  }

  const output = { ...DEFAULT_OUTPUT, ...(top?.output ?? {}) };
  if (!top) return undefined;
  return {
    users: { table: usersTable, id: usersId, email },
    transports,
    audiences,
    admin,
    events,
    counters,
    output,
  };
}

function sortKeys<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b))) as T;
}

// ---------------------------------------------------------------------------------------------
// Audiences
// ---------------------------------------------------------------------------------------------

const AUDIENCE_FORMS = ['column', 'where', 'chain', 'function', 'system'];

function audience(
  c: Checker,
  name: string,
  value: unknown,
  path: Path,
  usersTable: TableRef,
  usersId: string,
): Audience | undefined {
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
      c.parse(z.strictObject({ column: z.string() }), v, path, ['column']);
      const col = c.column(v.column, [...path, 'column']);
      return col ? { name, kind: 'column', column: col } : undefined;
    }
    case 'where': {
      const ok = c.parse(
        z.strictObject({
          where: z.record(z.string(), z.unknown()),
          from: z.string().optional(),
          userColumn: z.string().optional(),
        }),
        v,
        path,
        ['where', 'from', 'userColumn'],
      );
      if (!ok) return undefined;
      const from = ok.from !== undefined ? c.table(ok.from, [...path, 'from']) : usersTable;
      if (!from) return undefined;
      const userColumn =
        ok.userColumn !== undefined ? c.column(ok.userColumn, [...path, 'userColumn'], from) : usersId;
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
      c.parse(z.strictObject({ chain: z.array(z.unknown()) }), v, path, ['chain']);
      const parsed = chain(c, v.chain, [...path, 'chain']);
      return parsed ? { name, kind: 'chain', ...parsed } : undefined;
    }
    case 'function': {
      const ok = c.parse(
        z.strictObject({ function: z.string(), args: z.array(z.string()).optional() }),
        v,
        path,
        ['function', 'args'],
      );
      if (!ok) return undefined;
      const fn = c.table(ok.function, [...path, 'function'], false);
      const args = (ok.args ?? []).map((a, i) => c.column(a, [...path, 'args', i]) ?? a);
      return fn ? { name, kind: 'function', fn, args } : undefined;
    }
    default: {
      const ok = c.parse(
        z.strictObject({ system: z.array(z.unknown()).min(1, 'must list at least one recipient') }),
        v,
        path,
        ['system'],
      );
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
  const kinds = ['email', 'webhook', 'slack', 'discord', 'sms'].filter((k) => k in rec);
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
    const ok = c.parse(
      z.strictObject({ email: z.email('must be an email address'), name: z.string().optional() }),
      rec,
      path,
      ['email', 'name'],
    );
    return ok ? withName({ kind: 'email', address: ok.email }) : undefined;
  }
  if (kind === 'webhook') {
    const ok = c.parse(
      z.strictObject({ webhook: z.url('must be an http(s) URL'), name: z.string().optional() }),
      rec,
      path,
      ['webhook', 'name'],
    );
    c.secretsIn(rec.webhook, [...path, 'webhook']);
    return ok ? withName({ kind: 'webhook', url: ok.webhook }) : undefined;
  }
  if (kind === 'sms') {
    const ok = c.parse(
      z.strictObject({
        sms: z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 phone number like "+15551234567"'),
        name: z.string().optional(),
      }),
      rec,
      path,
      ['sms', 'name'],
    );
    return ok ? withName({ kind: 'sms', number: ok.sms }) : undefined;
  }
  if (typeof rec[kind] === 'string') {
    const what = looksLikeSecret(rec[kind] as string);
    c.add(
      [...path, kind],
      `${what ? `looks like ${what}; ` : ''}reference the webhook URL by secret name: { ${kind}: { urlSecret: 'MY_${kind.toUpperCase()}_WEBHOOK_URL' } }`,
    );
    return undefined;
  }
  const ok = c.parse(
    z.strictObject({ [kind]: z.strictObject({ urlSecret: secretName }), name: z.string().optional() }),
    rec,
    path,
    [kind, 'name'],
  );
  if (!ok) return undefined;
  const secret = (ok[kind] as { urlSecret: string }).urlSecret;
  c.secretsIn(secret, [...path, kind, 'urlSecret']);
  return withName({ kind: kind as 'slack' | 'discord', urlSecret: secret });
}

function chain(c: Checker, value: unknown, path: Path): { start: string; hops: Hop[] } | undefined {
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
      const ok = c.parse(
        z.strictObject({ table: z.string(), column: z.string(), key: z.string().optional() }),
        h,
        p,
        ['table', 'column', 'key'],
      );
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

// ---------------------------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------------------------

const TEST_KEYS = ['eq', 'neq', 'in', 'notIn', 'gt', 'gte', 'lt', 'lte', 'isNull'];

function columnTest(c: Checker, v: unknown, path: Path, allowFromRow = false): Test | undefined {
  if (v === null) return { op: 'isNull' };
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return { op: 'eq', value: v };
  if (Array.isArray(v)) {
    const ok = c.parse(z.array(scalar).min(1, 'must list at least one value'), v, path);
    return ok ? { op: 'in', values: ok } : undefined;
  }
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('fromRow' in o) {
      if (!allowFromRow) {
        c.add(path, 'fromRow is only allowed in audience filters');
        return undefined;
      }
      c.parse(z.strictObject({ fromRow: z.string() }), o, path, ['fromRow']);
      const col = c.column(o.fromRow, [...path, 'fromRow']);
      return col ? { op: 'eqRow', column: col } : undefined;
    }
    const keys = Object.keys(o);
    if (keys.length !== 1) {
      c.add(path, `must have exactly one of ${TEST_KEYS.join(', ')}${allowFromRow ? ', fromRow' : ''}`);
      return undefined;
    }
    const op = keys[0];
    const val = o[op];
    const p = [...path, op];
    if (!TEST_KEYS.includes(op)) {
      const guess = didYouMean(op, allowFromRow ? [...TEST_KEYS, 'fromRow'] : TEST_KEYS);
      c.add(
        path,
        `unknown test "${op}"${guess ? ` — did you mean "${guess}"?` : ` (use one of ${TEST_KEYS.join(', ')})`}`,
      );
      return undefined;
    }
    if (op === 'isNull') {
      if (typeof val !== 'boolean') c.add(p, 'expected boolean');
      return { op: val === false ? 'notNull' : 'isNull' };
    }
    if (op === 'in' || op === 'notIn') {
      const ok = c.parse(z.array(scalar).min(1, 'must list at least one value'), val, p);
      return ok ? { op, values: ok } : undefined;
    }
    const ok = c.parse(scalar, val, p);
    if (ok === undefined) return undefined;
    if (ok === null && op !== 'eq' && op !== 'neq') {
      c.add(p, 'null cannot be compared; use isNull');
      return undefined;
    }
    if (ok === null) return { op: op === 'eq' ? 'isNull' : 'notNull' };
    return { op: op as 'eq', value: ok };
  }
  c.add(path, `is not a valid test (got ${describe(v)})`);
  return undefined;
}

function rawSql(c: Checker, v: { sql: string }, path: Path): Cond | undefined {
  const s = v.sql.trim();
  if (s === '') {
    c.add([...path, 'sql'], 'must not be empty');
    return undefined;
  }
  if (/;/.test(s.replace(/'(?:[^']|'')*'/g, ''))) {
    c.add([...path, 'sql'], 'must be a single boolean expression (no ";")');
    return undefined;
  }
  return { kind: 'sql', sql: s };
}

const COND_KEYS = ['where', 'changed', 'from', 'to', 'all', 'any', 'not'];

function condition(
  c: Checker,
  v: unknown,
  path: Path,
  table: TableRef | undefined,
  ops: Operation[],
): Cond | undefined {
  if (isRaw(v)) return rawSql(c, v, path);
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    c.add(
      path,
      `must be a condition object ({ where }, { changed, to }, { all }, { any }, { not }) or sql\`...\` (got ${describe(v)})`,
    );
    return undefined;
  }
  const o = v as Record<string, unknown>;
  const parts: Cond[] = [];
  for (const key of Object.keys(o)) {
    if (!COND_KEYS.includes(key)) {
      const guess = didYouMean(key, COND_KEYS);
      c.add([...path, key], `unknown condition key "${key}"${guess ? ` — did you mean "${guess}"?` : ''}`);
    }
  }
  if (o.where !== undefined) {
    const w = o.where;
    if (!w || typeof w !== 'object' || Array.isArray(w))
      c.add([...path, 'where'], 'must be an object of column tests');
    else
      for (const col of Object.keys(w).sort()) {
        const p = [...path, 'where', col];
        c.column(col, p, table);
        const t = columnTest(c, (w as Record<string, unknown>)[col], p);
        if (t) parts.push({ kind: 'test', column: col, test: t });
      }
  }
  if (o.changed !== undefined) {
    if (!ops.includes('update') || ops.length > 1) {
      if (!ops.includes('update'))
        c.add([...path, 'changed'], 'only applies to update events (add "update" to `on`)');
    }
    const cols = toArray(o.changed as string | string[]);
    if (cols.length === 0) c.add([...path, 'changed'], 'must name at least one column');
    const ok = cols.map((col, i) =>
      c.column(col, Array.isArray(o.changed) ? [...path, 'changed', i] : [...path, 'changed'], table),
    );
    const vals = (k: 'from' | 'to') => {
      if (o[k] === undefined) return undefined;
      return c.parse(z.union([scalar, z.array(scalar).min(1)]), o[k], [...path, k]) === undefined
        ? undefined
        : toArray(o[k] as Scalar | Scalar[]);
    };
    const from = vals('from');
    const to = vals('to');
    if ((from || to) && cols.length !== 1)
      c.add([...path, 'changed'], 'from / to need exactly one changed column');
    if (ok.every(Boolean))
      parts.push({ kind: 'changed', columns: cols, ...(from ? { from } : {}), ...(to ? { to } : {}) });
  } else {
    for (const k of ['from', 'to'] as const)
      if (o[k] !== undefined) c.add([...path, k], `${k} needs changed: '<column>'`);
  }
  for (const k of ['all', 'any'] as const) {
    if (o[k] === undefined) continue;
    if (!Array.isArray(o[k]) || (o[k] as unknown[]).length === 0) {
      c.add([...path, k], 'must be a non-empty array of conditions');
      continue;
    }
    const items = (o[k] as unknown[]).map((x, i) => condition(c, x, [...path, k, i], table, ops));
    if (items.every(Boolean)) parts.push({ kind: k === 'all' ? 'and' : 'or', items: items as Cond[] });
  }
  if (o.not !== undefined) {
    const item = condition(c, o.not, [...path, 'not'], table, ops);
    if (item) parts.push({ kind: 'not', item });
  }
  if (parts.length === 0) {
    if (Object.keys(o).length === 0)
      c.add(path, 'is empty; remove it or add where / changed / all / any / not');
    return undefined;
  }
  return parts.length === 1 ? parts[0] : { kind: 'and', items: parts };
}

/** Counter condition: a where-object directly, or { all } / { any } / sql``. */
function counterCondition(c: Checker, v: unknown, path: Path, table: TableRef | undefined): Cond | undefined {
  if (isRaw(v)) return rawSql(c, v, path);
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    c.add(path, `must be an object of column tests, { all }, { any } or sql\`...\` (got ${describe(v)})`);
    return undefined;
  }
  const o = v as Record<string, unknown>;
  if ('all' in o || 'any' in o) {
    const k = 'all' in o ? 'all' : 'any';
    if (!Array.isArray(o[k]) || (o[k] as unknown[]).length === 0) {
      c.add([...path, k], 'must be a non-empty array of conditions');
      return undefined;
    }
    const items = (o[k] as unknown[]).map((x, i) => counterCondition(c, x, [...path, k, i], table));
    return items.every(Boolean) ? { kind: k === 'all' ? 'and' : 'or', items: items as Cond[] } : undefined;
  }
  const parts: Cond[] = [];
  for (const col of Object.keys(o).sort()) {
    const p = [...path, col];
    c.column(col, p, table);
    const t = columnTest(c, o[col], p);
    if (t) parts.push({ kind: 'test', column: col, test: t });
  }
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0] : { kind: 'and', items: parts };
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

const CONTENT_FOR: Partial<Record<TransportName, string[]>> = {
  in_app: ['title', 'message'],
  email: ['subject'],
  sms: ['text', 'message'],
};

function event(
  c: Checker,
  id: string,
  value: unknown,
  transports: string[],
  audienceByName: Map<string, Audience>,
  audienceNames: string[],
  slugs: Set<string>,
): NormalizedEvent | undefined {
  const path = ['events', id];
  if (!EVENT_ID_RE.test(id)) c.add(path, `event id "${id}" must be dotted words like "order.shipped"`);
  const ok = c.parse(eventSchema, value, path, keysOf(eventSchema));
  if (!ok) return undefined;
  const n0 = c.issues.length;
  const table = ok.table !== undefined ? c.table(ok.table, [...path, 'table']) : undefined;
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
    const p = [...path, 'channels', i];
    const parsed = c.parse(channelSchema, ch, p, ['transport', 'audience', 'delay']);
    if (!parsed) return;
    let good = true;
    if (!transports.includes(parsed.transport)) {
      good = false;
      if ((TRANSPORTS as readonly string[]).includes(parsed.transport)) {
        c.add(
          [...p, 'transport'],
          `transport "${parsed.transport}" is not configured (add it under transports)`,
        );
      } else
        c.add(
          [...p, 'transport'],
          unknownName('transport', parsed.transport, transports.length ? transports : TRANSPORTS),
        );
    }
    const aud = audienceByName.get(parsed.audience);
    if (!audienceNames.includes(parsed.audience)) {
      good = false;
      c.add([...p, 'audience'], unknownName('audience', parsed.audience, audienceNames));
    } else if (aud && good) {
      const t = parsed.transport as TransportName;
      if (aud.kind === 'system') {
        const want =
          t === 'email'
            ? 'email'
            : t === 'webhook'
              ? 'webhook'
              : t === 'slack'
                ? 'slack'
                : t === 'discord'
                  ? 'discord'
                  : t === 'sms'
                    ? 'sms'
                    : null;
        if (!want)
          c.add(
            [...p, 'audience'],
            `audience "${aud.name}" is a system audience (no users); transport "${t}" needs user recipients`,
          );
        else if (!aud.recipients.some((r) => r.kind === want)) {
          c.add(
            [...p, 'audience'],
            `system audience "${aud.name}" has no ${want} recipient for transport "${t}"`,
          );
        }
      } else if (t === 'webhook') {
        c.add(
          [...p, 'transport'],
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
        c.add([...p, 'audience'], `audience "${aud.name}" reads the event's row; the event needs a table`);
      }
      if (aud.kind === 'column') c.knownColumn(aud.column, [...p, 'audience'], table);
      if (aud.kind === 'chain') c.knownColumn(aud.start, [...p, 'audience'], table);
    }
    if (good) {
      channels.push({
        transport: parsed.transport as TransportName,
        audience: parsed.audience,
        delaySeconds: parseDelay(parsed.delay),
      });
    }
  });

  // Content
  let content: Record<string, unknown> = {};
  if (ok.content !== undefined) {
    const parsed = c.parse(contentSchema, ok.content, [...path, 'content'], keysOf(contentSchema));
    if (parsed) {
      content = sortKeys(parsed as Record<string, unknown>);
      placeholders(c, content, [...path, 'content'], table);
      c.secretsIn(content, [...path, 'content']);
    }
  }
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

function placeholders(c: Checker, v: unknown, path: Path, table: TableRef | undefined): void {
  if (typeof v === 'string') {
    const opens = (v.match(/\{\{/g) ?? []).length;
    const closes = (v.match(/\}\}/g) ?? []).length;
    if (opens !== closes) c.add(path, 'has an unclosed {{ placeholder }}');
    for (const m of v.matchAll(PLACEHOLDER_RE)) {
      const ref = m[1];
      if (!PLACEHOLDER_PATH_RE.test(ref))
        c.add(path, `placeholder {{${ref}}} must be a column or a dotted path like {{a.b}}`);
      else if (!ref.includes('.')) {
        if (!['old', 'event', 'recipient', 'actor'].includes(ref)) c.knownColumn(ref, path, table);
      } else {
        const head = ref.split('.')[0];
        if (head !== 'old' && head !== 'event' && head !== 'recipient' && head !== 'actor')
          c.knownColumn(head, path, table);
      }
    }
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => {
      placeholders(c, x, [...path, i], table);
    });
  } else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) placeholders(c, x, [...path, k], table);
}

// ---------------------------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------------------------

const RESERVED_COUNTERS = ['unread_notifications'];

function counter(
  c: Checker,
  name: string,
  value: unknown,
  audienceByName: Map<string, Audience>,
  audienceNames: string[],
): NormalizedCounter | undefined {
  const path = ['counters', name];
  if (!/^[a-z][a-z0-9_]*$/.test(name)) c.add(path, `counter name "${name}" must be snake_case (a-z, 0-9, _)`);
  if (RESERVED_COUNTERS.includes(name)) c.add(path, `"${name}" is built in; choose another name`);
  const ok = c.parse(counterSchema, value, path, keysOf(counterSchema));
  if (!ok) return undefined;
  const n0 = c.issues.length;
  const table = c.table(ok.table, [...path, 'table']);
  const key = ok.key !== undefined ? c.column(ok.key, [...path, 'key'], table) : 'id';
  const where = ok.where !== undefined ? counterCondition(c, ok.where, [...path, 'where'], table) : undefined;
  let scope: NormalizedCounterScope | undefined;
  const s = ok.scope as Record<string, unknown> | undefined;
  if (!s || typeof s !== 'object' || Array.isArray(s)) {
    c.add(
      [...path, 'scope'],
      "is required: { user: 'user_id' }, { user: ['order_id', 'orders.user_id'] } or { audience: 'admin' }",
    );
  } else if ('user' in s && !('audience' in s)) {
    c.parse(z.strictObject({ user: z.unknown() }), s, [...path, 'scope'], ['user', 'audience']);
    if (typeof s.user === 'string') {
      const col = c.column(s.user, [...path, 'scope', 'user'], table ?? undefined);
      if (col) scope = { kind: 'user', start: col, hops: [] };
    } else {
      const ch = chain(c, s.user, [...path, 'scope', 'user']);
      if (ch && table) c.knownColumn(ch.start, [...path, 'scope', 'user', 0], table);
      if (ch) scope = { kind: 'user', ...ch };
    }
  } else if ('audience' in s && !('user' in s)) {
    c.parse(z.strictObject({ audience: z.string() }), s, [...path, 'scope'], ['user', 'audience']);
    const a = String(s.audience);
    const aud = audienceByName.get(a);
    if (!audienceNames.includes(a))
      c.add([...path, 'scope', 'audience'], unknownName('audience', a, audienceNames));
    else if (aud && aud.kind !== 'filter' && aud.kind !== 'function') {
      c.add(
        [...path, 'scope', 'audience'],
        `audience "${a}" is a ${aud.kind} audience; an audience-scoped counter needs a filter or function audience (use { user: ... } for per-user counts)`,
      );
    } else scope = { kind: 'audience', audience: a };
  } else {
    const guess = Object.keys(s)
      .map((k) => didYouMean(k, ['user', 'audience']))
      .find(Boolean);
    c.add(
      [...path, 'scope'],
      `must have exactly one of user, audience${guess ? ` — did you mean "${guess}"?` : ''}`,
    );
  }
  if (c.issues.length > n0 || !table || !scope) return undefined;
  const shards = ok.sharded === true ? 16 : ok.sharded === false || ok.sharded === undefined ? 1 : ok.sharded;
  const invalidates = (ok.invalidates ?? []).map((k) => (Array.isArray(k) ? [...k] : [k]));
  const k: NormalizedCounter = { name, table, key: key ?? 'id', scope, invalidates, shards };
  if (where) k.where = where;
  if (ok.description) k.description = ok.description;
  return k;
}
