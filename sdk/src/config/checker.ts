/**
 * The checker: collects every problem of a config (each with its path) instead of stopping at the
 * first, and reads the pieces every part names (tables, columns, zod shapes, stray secrets).
 * Each part's module (audience.ts, condition.ts, event.ts, counter.ts) takes one and adds to it.
 */
import type { z } from 'zod';
import { type ConfigIssue, didYouMean, unknownName } from './errors.ts';
import type { TableRef } from './model.ts';
import { looksLikeSecret } from './secrets.ts';
import { keysOf } from './shapes.ts';
import { isRaw } from './values.ts';

export type Path = (string | number)[];

export interface ValidateOptions {
  /**
   * Known columns per table (`schema.table` → column names), e.g. introspected from the database.
   * When given, every column the config names is checked against it.
   */
  columns?: Record<string, readonly string[]>;
}

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_$]*$/;
const TABLE_RE = /^(?:([A-Za-z_][A-Za-z0-9_$]*)\.)?([A-Za-z_][A-Za-z0-9_$]*)$/;

export class Checker {
  issues: ConfigIssue[] = [];
  constructor(readonly options: ValidateOptions) {}

  add(path: Path, message: string): void {
    this.issues.push({ path: [...path], message });
  }

  /**
   * Parses with zod; on failure records every issue (with its path) and returns undefined.
   * An unknown key is matched against `knownKeys` (by default the shape's own) for a "did you mean".
   */
  parse<T>(schema: z.ZodType<T>, value: unknown, path: Path, knownKeys = keysOf(schema)): T | undefined {
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    for (const issue of r.error.issues) {
      const at = [...path, ...(issue.path as (string | number)[])];
      if (issue.code === 'unrecognized_keys') {
        for (const k of issue.keys) {
          const guess = didYouMean(k, knownKeys);
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

  /**
   * A table whose changes are captured (an event's or a counter's `table`). Never one of Supabase
   * Auth's: capture copies whole rows into `dispatch.changes` and occurrences, where admins read
   * them, and `auth.users` rows hold the password hash and the confirmation, recovery and email-change
   * tokens; on hosted, re-creating the capture triggers there also takes supautils' locks on Auth.
   */
  sourceTable(value: unknown, path: Path): TableRef | undefined {
    const t = this.table(value, path);
    if (t?.schema === 'auth') {
      this.add(
        path,
        `"${t.schema}.${t.name}" belongs to Supabase Auth and cannot be a source: its rows carry password hashes and tokens, which capture would copy into dispatch.changes. Use a table of your own, e.g. "public.profiles" (one row per user, filled by a trigger on auth.users), and point this at it`,
      );
      return undefined;
    }
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

  /** Every string under `value` that looks like a credential (sql`...` fragments are code, not secrets). */
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

/** zod's message, unless it is zod's generic "Invalid input..." (then one that says what was wanted). */
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
