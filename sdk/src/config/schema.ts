/**
 * Run-time validation of the dispatch config and its normalization into the generator's model
 * (model.ts). Every problem is collected, each with its path, so a user sees all of them at once.
 *
 * This module reads the config section by section; each part has its own module:
 * shapes.ts (zod shapes: structure), checker.ts (collects problems; tables, columns, secrets),
 * audience.ts, condition.ts, event.ts, counter.ts (what each part means), secrets.ts.
 */
import { audiencesOf, type DeclaredAudiences } from './audience.ts';
import { Checker, type ValidateOptions } from './checker.ts';
import { counter } from './counter.ts';
import { ConfigError, type ConfigIssue, unknownName } from './errors.ts';
import { event } from './event.ts';
import {
  DEFAULT_OUTPUT,
  type NormalizedConfig,
  type NormalizedCounter,
  type NormalizedEvent,
  type NormalizedUsers,
} from './model.ts';
import { configShape, transportShapes } from './shapes.ts';
import { TRANSPORTS, type TransportName } from './types.ts';
import { describe, sortKeys } from './values.ts';

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

/**
 * The normalized config, or undefined when the config is not even an object of the right shape.
 * Later sections are checked even when earlier ones have problems (they are reported too); a name
 * that is declared but wrong is not reported again where it is used.
 */
function normalize(c: Checker, input: unknown): NormalizedConfig | undefined {
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    c.add(
      [],
      `the config must be an object (the default export of defineDispatch({...})), got ${describe(input)}`,
    );
    return undefined;
  }
  const top = c.parse(configShape, input, []);
  const raw = input as Record<string, unknown>;

  const users = usersOf(c, objectOrEmpty(raw.users));
  const transports = transportsOf(c, objectOrEmpty(raw.transports));
  const audiences = audiencesOf(c, objectOrEmpty(raw.audiences), users);
  const admin = adminOf(c, raw.admin, audiences);

  const events: NormalizedEvent[] = [];
  const slugs = new Set<string>();
  const eventsRaw = objectOrEmpty(raw.events);
  for (const id of Object.keys(eventsRaw).sort()) {
    const e = event(c, id, eventsRaw[id], Object.keys(transports), audiences, slugs);
    if (e) events.push(e);
  }

  const counters: NormalizedCounter[] = [];
  const countersRaw = objectOrEmpty(raw.counters);
  for (const name of Object.keys(countersRaw).sort()) {
    const k = counter(c, name, countersRaw[name], audiences);
    if (k) counters.push(k);
  }

  const output = { ...DEFAULT_OUTPUT, ...(top?.output ?? {}) };
  if (!top) return undefined;
  return { users, transports, audiences: audiences.list, admin, events, counters, output };
}

function objectOrEmpty(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** `users`: the table audiences filter (default public.profiles) and where email addresses live. */
function usersOf(c: Checker, raw: Record<string, unknown>): NormalizedUsers {
  const table = (raw.table !== undefined && c.table(raw.table, ['users', 'table'])) || {
    schema: 'public',
    name: 'profiles',
  };
  const id = typeof raw.id === 'string' ? (c.column(raw.id, ['users', 'id'], table) ?? 'id') : 'id';
  let email = { table: { schema: 'auth', name: 'users' }, column: 'email', id: 'id' };
  if (raw.email !== undefined) {
    const m =
      typeof raw.email === 'string'
        ? /^(?:([A-Za-z_]\w*)\.)?([A-Za-z_]\w*)\.([A-Za-z_]\w*)$/.exec(raw.email)
        : null;
    if (!m)
      c.add(['users', 'email'], 'must be "table.column" or "schema.table.column" (e.g. "auth.users.email")');
    else {
      const emailTable = { schema: m[1] ?? 'public', name: m[2] };
      const isAuth = emailTable.schema === 'auth' && emailTable.name === 'users';
      // auth.users is keyed by the user id itself; another table is joined on the users table's id.
      email = { table: emailTable, column: m[3], id: isAuth ? 'id' : id };
      if (!isAuth) c.knownColumn(m[3], ['users', 'email'], emailTable);
    }
  }
  return { table, id, email };
}

/** `transports`: the settings of each transport the events may use, keys sorted. */
function transportsOf(c: Checker, raw: Record<string, unknown>): NormalizedConfig['transports'] {
  const transports: NormalizedConfig['transports'] = {};
  for (const [name, settings] of Object.entries(raw).sort(([a], [b]) => a.localeCompare(b))) {
    const path = ['transports', name];
    if (!(TRANSPORTS as readonly string[]).includes(name)) {
      c.add(path, unknownName('transport', name, TRANSPORTS));
      continue;
    }
    const parsed = c.parse(transportShapes[name as TransportName], settings ?? {}, path);
    c.secretsIn(settings, path);
    if (parsed) transports[name as TransportName] = sortKeys(parsed as Record<string, unknown>);
  }
  return transports;
}

/** `admin`: the audience (besides the core's own admins) allowed the admin RPCs, preview and manual trigger. */
function adminOf(c: Checker, value: unknown, audiences: DeclaredAudiences): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    c.add(['admin'], 'must be the name of an audience');
    return undefined;
  }
  if (!audiences.names.includes(value)) {
    c.add(['admin'], unknownName('audience', value, audiences.names));
    return undefined;
  }
  const a = audiences.byName.get(value);
  if (a && a.kind !== 'filter' && a.kind !== 'function') {
    c.add(
      ['admin'],
      `audience "${value}" is a ${a.kind} audience; the admin audience must be a filter or a function (a set of users independent of any row)`,
    );
  }
  return value;
}
