/**
 * The shape of `dispatch.config.ts`: what a team writes. Runtime validation lives in `schema.ts`;
 * these types give autocomplete (audience, transport and counter names) and, when a `Database`
 * type from `supabase gen types` is supplied, table and column checks.
 */

/** Transports the plugin ships. */
export const TRANSPORTS = ['in_app', 'email', 'webhook', 'slack', 'discord', 'sms'] as const;
export type TransportName = (typeof TRANSPORTS)[number];

export const OPERATIONS = ['insert', 'update', 'delete'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Raw SQL, written with the `sql` tag. Over a row, `new.<col>` and `old.<col>` name the row's values. */
export interface RawSql {
  readonly sql: string;
}

/** Tag for raw SQL fragments: sql`new.total > 100`. Interpolated values are SQL-quoted literals. */
export function sql(strings: TemplateStringsArray, ...values: unknown[]): RawSql {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += quoteLiteral(values[i]) + strings[i + 1];
  return { sql: out };
}

function quoteLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return `'${String(v).replace(/'/g, "''")}'`;
}

// ---------------------------------------------------------------------------------------------
// Database typing (optional): the shape `supabase gen types typescript` emits.
// ---------------------------------------------------------------------------------------------

export interface GenericTable {
  Row: Record<string, unknown>;
}
export type GenericSchema = { Tables: Record<string, GenericTable> };
export type GenericDatabase = Record<string, GenericSchema | unknown>;

/** No database types given: any table, any column. */
export type AnyDatabase = { __any: true };

type SchemaNames<DB> = {
  [S in keyof DB & string]: DB[S] extends { Tables: Record<string, unknown> } ? S : never;
}[keyof DB & string];

/** `table` (public) or `schema.table`. */
export type TableName<DB> = DB extends AnyDatabase
  ? string
  :
      | (DB extends { public: { Tables: infer T } } ? keyof T & string : never)
      | {
          [S in SchemaNames<DB>]: DB[S] extends { Tables: infer T } ? `${S}.${keyof T & string}` : never;
        }[SchemaNames<DB>];

type RowOf<DB, Tbl extends string> = Tbl extends `${infer S}.${infer T}`
  ? S extends keyof DB
    ? DB[S] extends { Tables: infer Ts }
      ? T extends keyof Ts
        ? Ts[T] extends { Row: infer R }
          ? R
          : never
        : never
      : never
    : never
  : DB extends { public: { Tables: infer Ts } }
    ? Tbl extends keyof Ts
      ? Ts[Tbl] extends { Row: infer R }
        ? R
        : never
      : never
    : never;

/** Column names of a table, or `string` when the database is not typed. */
export type ColumnOf<DB, Tbl> = DB extends AnyDatabase
  ? string
  : Tbl extends string
    ? [RowOf<DB, Tbl>] extends [never]
      ? string
      : keyof RowOf<DB, Tbl> & string
    : string;

// ---------------------------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------------------------

export type Scalar = string | number | boolean | null;

/** A column test: a value (equality, `null` = IS NULL), a list (IN) or an operator object. */
export type ColumnTest =
  | Scalar
  | readonly Scalar[]
  | {
      eq?: Scalar;
      neq?: Scalar;
      in?: readonly Scalar[];
      notIn?: readonly Scalar[];
      gt?: string | number;
      gte?: string | number;
      lt?: string | number;
      lte?: string | number;
      isNull?: boolean;
    };

/** Row condition of an event or a counter. Several keys in one object are ANDed. */
export type Condition<C extends string = string> =
  | RawSql
  | {
      /** Tests on the row (NEW for insert/update, OLD for delete). */
      where?: { [K in C]?: ColumnTest };
      /** UPDATE only: the column(s) changed, optionally from / to given values. */
      changed?: C | readonly C[];
      from?: Scalar | readonly Scalar[];
      to?: Scalar | readonly Scalar[];
      all?: readonly Condition<C>[];
      any?: readonly Condition<C>[];
      not?: Condition<C>;
    };

/** Counter condition: which rows count. */
export type CounterCondition<C extends string = string> =
  | RawSql
  | { [K in C]?: ColumnTest }
  | { all: readonly CounterCondition<C>[] }
  | { any: readonly CounterCondition<C>[] };

// ---------------------------------------------------------------------------------------------
// Audiences: the six formats
// ---------------------------------------------------------------------------------------------

/** A filter value taken from the event's row (format 4). */
export interface FromRow {
  fromRow: string;
}
export type FilterValue = ColumnTest | FromRow;

export type SystemRecipient =
  | { email: string; name?: string }
  | { webhook: string; name?: string }
  /** Slack / Discord webhook URLs are secrets: name the Vault / function secret holding the URL. */
  | { slack: { urlSecret: string }; name?: string }
  | { discord: { urlSecret: string }; name?: string }
  | { sms: string; name?: string };

export type AudienceDef =
  /** 1. A column of the event's row holding a user id. */
  | { column: string }
  /** 2 & 4. Users matching a filter (values may come from the row with `{ fromRow }`). */
  | {
      where: Record<string, FilterValue>;
      /** Table to filter; default the config's `users.table`. */
      from?: string;
      /** Column of `from` holding the user id; default the config's `users.id`. */
      userColumn?: string;
    }
  /** 3. A chain of foreign keys: a row column, then `table.column` hops (joined on `table.id`). */
  | { chain: readonly (string | ChainHop)[] }
  /** 5. A SQL function the user owns, returning user ids; `args` are row columns passed in order. */
  | { function: string; args?: readonly string[] }
  /** 6. Static recipients: addresses, webhook URLs, Slack / Discord webhooks by secret name. */
  | { system: readonly SystemRecipient[] };

export interface ChainHop {
  table: string;
  column: string;
  /** Column of `table` that the previous value refers to; default `id`. */
  key?: string;
}

// ---------------------------------------------------------------------------------------------
// Transports
// ---------------------------------------------------------------------------------------------

/** Secrets are referenced by name (an Edge Function secret / Vault secret), never inlined. */
export interface TransportSettingsMap {
  in_app: Record<string, never> | { enabled?: boolean };
  email: {
    provider?: 'resend' | 'smtp' | 'postmark' | 'sendgrid';
    from: string;
    replyTo?: string;
    apiKeySecret?: string;
    /** Where recipients' addresses live; default `auth.users.email`. */
    emailColumn?: string;
  };
  webhook: { signingSecret?: string; timeoutMs?: number };
  slack: { defaultUrlSecret?: string };
  discord: { defaultUrlSecret?: string };
  sms: { provider?: 'twilio' | 'vonage'; from?: string; apiKeySecret?: string; phoneColumn?: string };
}
export type TransportsConfig<T extends TransportName = TransportName> = {
  [P in T]: TransportSettingsMap[P];
};

// ---------------------------------------------------------------------------------------------
// Events, counters, config
// ---------------------------------------------------------------------------------------------

/** Delay: seconds, or `'30s'`, `'5m'`, `'2h'`, `'1d'`. */
export type Delay = number | `${number}${'s' | 'm' | 'h' | 'd'}`;

export interface Channel<A extends string = string, T extends string = string> {
  transport: T;
  audience: A;
  delay?: Delay;
}

export interface EventContent {
  subject?: string;
  title?: string;
  message?: string;
  actionUrl?: string;
  actionLabel?: string;
  html?: string;
  text?: string;
  /** Webhook / Slack / Discord payload; strings inside are interpolated. */
  payload?: unknown;
}

export interface EventMetadata {
  type?: 'info' | 'success' | 'warning' | 'error';
  category?: string;
  userConfigurable?: boolean;
  [key: string]: unknown;
}

export interface EventDef<A extends string = string, T extends string = string, C extends string = string> {
  /** Source table: `table` (public) or `schema.table`. Optional for events fired only via emit/module. */
  table?: string;
  /** Primary key column used to pair OLD and NEW rows of an UPDATE; default `id`. */
  key?: string;
  on?: Operation | readonly Operation[];
  when?: Condition<C>;
  channels?: readonly Channel<A, T>[];
  content?: EventContent;
  metadata?: EventMetadata;
  /** Raise (abort the app's write) when expanding the event fails; default false. */
  strict?: boolean;
  /** Path (relative to the config) of an event module run in the Edge Functions. */
  module?: string;
  description?: string;
}

export type CounterScope<A extends string = string> =
  | { user: string | readonly (string | ChainHop)[] }
  | { audience: A };

export interface CounterDef<A extends string = string> {
  table: string;
  where?: CounterCondition;
  scope: CounterScope<A>;
  /** TanStack Query keys to invalidate when the counter moves. */
  invalidates?: readonly (string | readonly (string | number)[])[];
  sharded?: boolean | number;
  description?: string;
}

export interface UsersConfig {
  /** Table holding users for audience filters; default `public.profiles`. */
  table?: string;
  /** Its user id column; default `id`. */
  id?: string;
  /** Where email addresses live: `schema.table.column`, joined on the user id; default `auth.users.email`. */
  email?: string;
}

export interface OutputConfig {
  /** Typed client module; default `src/dispatch.generated.ts`. */
  sdk?: string;
  /** Edge Functions registry; default `supabase/functions/_generated/registry.ts`. */
  registry?: string;
  /** Migrations directory; default `supabase/migrations`. */
  migrations?: string;
  /** Lock file; default `supabase/dispatch.lock.json`. */
  lock?: string;
}

export interface DispatchConfig<
  A extends string = string,
  T extends TransportName = TransportName,
  K extends string = string,
  E extends string = string,
> {
  users?: UsersConfig;
  transports: TransportsConfig<T>;
  audiences: Record<A, AudienceDef>;
  /** Audience whose members may use the admin RPCs, preview and manual trigger. */
  admin?: A;
  events: Record<E, EventDef<A, T>>;
  counters?: Record<K, CounterDef<A>>;
  output?: OutputConfig;
}

type EventsChecked<DB, Ev, A extends string, T extends string> = {
  [Id in keyof Ev]: Ev[Id] extends { table: infer Tb extends string }
    ? EventDef<A, T, ColumnOf<DB, Tb>> & { table: TableName<DB> }
    : EventDef<A, T>;
};

/** A where-object's keys must be columns (a plain mapped type would be "weak" and not checked). */
type CheckedWhere<Def, Col extends string> = Def extends { where: infer W }
  ? W extends RawSql | { all: unknown } | { any: unknown }
    ? CounterCondition<Col>
    : { [K in keyof W]: K extends Col ? ColumnTest : never }
  : CounterCondition<Col>;

type CountersChecked<DB, Cn, A extends string> = {
  [Name in keyof Cn]: Cn[Name] extends { table: infer Tb extends string }
    ? Omit<CounterDef<A>, 'where'> & {
        table: TableName<DB>;
        where?: CheckedWhere<Cn[Name], ColumnOf<DB, Tb>>;
      }
    : CounterDef<A>;
};

/** What `defineDispatch` accepts: names in channels, scopes and `admin` must be declared ones. */
export interface DispatchConfigInput<
  DB,
  A extends string,
  T extends TransportName,
  Ev extends Record<string, unknown>,
  Cn extends Record<string, unknown>,
> {
  users?: UsersConfig;
  transports: TransportsConfig<T>;
  audiences: Record<A, AudienceDef>;
  admin?: NoInfer<A>;
  events: Ev & EventsChecked<DB, Ev, NoInfer<A>, NoInfer<T>>;
  counters?: Cn & CountersChecked<DB, Cn, NoInfer<A>>;
  output?: OutputConfig;
}

/** The value `defineDispatch` returns: the config, with its names kept as literal types. */
export type DefinedDispatch<
  A extends string,
  T extends TransportName,
  Ev extends Record<string, unknown>,
  Cn extends Record<string, unknown>,
> = DispatchConfig<A, T, keyof Cn & string, keyof Ev & string> & {
  readonly __names?: { audiences: A; transports: T; events: keyof Ev & string; counters: keyof Cn & string };
};
