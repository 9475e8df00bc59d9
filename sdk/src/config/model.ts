/**
 * The normalized config: defaults filled in, names resolved, everything sorted. The generator
 * consumes only this shape, so two configs that mean the same produce the same bytes.
 *
 * Names: a part of the config as the generator sees it is `Normalized<Part>` (`NormalizedConfig`,
 * `NormalizedEvent`, `NormalizedChannel`, `NormalizedCounter`, ...), so it cannot be mistaken for
 * what the user wrote (`EventDef`, `Channel`, `CounterDef` in `types.ts`). The pieces the parts are
 * built from (`TableRef`, `Cond`, `Test`, `Hop`, `Audience`, `SystemTarget`) exist only in this
 * form and keep their short names.
 */
import type { Operation, Scalar, TransportName } from './types.ts';

export interface TableRef {
  schema: string;
  name: string;
}

export type Test =
  | { op: 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte'; value: Scalar }
  | { op: 'in' | 'notIn'; values: Scalar[] }
  | { op: 'isNull' | 'notNull' }
  /** Equal to a column of the event's row (audience filters, format 4). */
  | { op: 'eqRow'; column: string };

export type Cond =
  | { kind: 'sql'; sql: string }
  | { kind: 'and' | 'or'; items: Cond[] }
  | { kind: 'not'; item: Cond }
  | { kind: 'test'; column: string; test: Test }
  | { kind: 'changed'; columns: string[]; from?: Scalar[]; to?: Scalar[] };

export interface Hop {
  table: TableRef;
  key: string;
  column: string;
}

export type SystemTarget =
  | { kind: 'email'; address: string; name?: string }
  | { kind: 'webhook'; url: string; name?: string }
  | { kind: 'slack' | 'discord'; urlSecret: string; name?: string }
  | { kind: 'sms'; number: string; name?: string };

export type Audience =
  | { name: string; kind: 'column'; column: string }
  | {
      name: string;
      kind: 'filter';
      from: TableRef;
      userColumn: string;
      where: { column: string; test: Test }[];
    }
  | { name: string; kind: 'chain'; start: string; hops: Hop[] }
  | { name: string; kind: 'function'; fn: TableRef; args: string[] }
  | { name: string; kind: 'system'; recipients: SystemTarget[] };

export interface NormalizedChannel {
  transport: TransportName;
  audience: string;
  delaySeconds: number;
}

export interface NormalizedEvent {
  id: string;
  /** Identifier-safe, unique name used for generated SQL objects. */
  slug: string;
  table?: TableRef;
  key: string;
  on: Operation[];
  when?: Cond;
  channels: NormalizedChannel[];
  content: Record<string, unknown>;
  metadata: Record<string, unknown>;
  strict: boolean;
  /** Module path relative to the config's directory (as written, normalized to forward slashes). */
  module?: string;
  description?: string;
}

export type NormalizedCounterScope =
  | { kind: 'user'; start: string; hops: Hop[] }
  | { kind: 'audience'; audience: string };

export interface NormalizedCounter {
  name: string;
  table: TableRef;
  key: string;
  where?: Cond;
  scope: NormalizedCounterScope;
  invalidates: (string | number)[][];
  shards: number;
  description?: string;
}

export interface NormalizedUsers {
  table: TableRef;
  id: string;
  email: { table: TableRef; column: string; id: string };
}

export interface NormalizedOutput {
  sdk: string;
  registry: string;
  migrations: string;
  lock: string;
}

export interface NormalizedConfig {
  users: NormalizedUsers;
  transports: Partial<Record<TransportName, Record<string, unknown>>>;
  audiences: Audience[];
  admin?: string;
  events: NormalizedEvent[];
  counters: NormalizedCounter[];
  output: NormalizedOutput;
}

export const DEFAULT_OUTPUT: NormalizedOutput = {
  sdk: 'src/dispatch.generated.ts',
  registry: 'supabase/functions/_generated/registry.ts',
  migrations: 'supabase/migrations',
  lock: 'supabase/dispatch.lock.json',
};
