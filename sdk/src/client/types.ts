/**
 * The shapes the client core shares with the database RPCs (`public.dispatch_*`, sql/core/080_rpc.sql)
 * and with the generated client module. Every shape is generic over the app's {@link DispatchSchema}
 * (the `dispatchSchema` constant `supadispatch gen` writes), so event ids, counter names and
 * transports stay unions of the config's names; without a schema they are plain strings.
 */

/** A TanStack Query key. */
export type QueryKey = readonly (string | number)[];

/** Metadata type of an event and of its notifications. */
export type EventType = 'info' | 'success' | 'warning' | 'error';

/** Where a receipt is in its delivery (DESIGN.md: the receipt state machine). */
export type ReceiptStatus = 'pending' | 'scheduled' | 'sending' | 'sent' | 'failed' | 'skipped' | 'cancelled';

/** A counter as the generated module describes it. */
export interface CounterMeta<Audience extends string = string> {
  /** `user`: one value per signed-in user; `audience`: one value shared by an audience's members. */
  readonly scope: 'user' | 'audience';
  /** The audience of an audience counter. */
  readonly audience?: Audience;
  /** Query keys to invalidate when the counter moves. */
  readonly invalidates: readonly QueryKey[];
}

/** An event as the generated module describes it. */
export interface EventMeta<Transport extends string = string> {
  readonly category: string | null;
  readonly transports: readonly Transport[];
  readonly type: EventType;
  /** Whether users may opt out of it (`dispatch_set_preference`). */
  readonly userConfigurable: boolean;
}

/**
 * The names and metadata of one app's config: the `dispatchSchema` constant of the generated module.
 * The core reads names from its type; at run time nothing in it is required.
 */
export interface DispatchSchema {
  readonly eventIds: readonly string[];
  readonly counterNames: readonly string[];
  readonly transports: readonly string[];
  readonly audienceNames: readonly string[];
  /** Audiences with a realtime topic `dispatch:audience:<name>`. */
  readonly topicAudiences: readonly string[];
  readonly counters: { readonly [name: string]: CounterMeta };
  readonly events: { readonly [id: string]: EventMeta };
}

/** The event ids of a schema. */
export type EventIdOf<S extends DispatchSchema> = S['eventIds'][number];
/** The counter names of a schema (with the built-in `unread_notifications`). */
export type CounterNameOf<S extends DispatchSchema> = S['counterNames'][number];
/** The transports of a schema. */
export type TransportOf<S extends DispatchSchema> = S['transports'][number];
/** The audience names of a schema. */
export type AudienceNameOf<S extends DispatchSchema> = S['audienceNames'][number];
/** The event categories of a schema. */
export type CategoryOf<S extends DispatchSchema> = Exclude<S['events'][keyof S['events']]['category'], null>;
/** The events users may turn off (`userConfigurable` not false). */
export type ConfigurableEventIdOf<S extends DispatchSchema> = {
  [K in keyof S['events'] & string]: S['events'][K]['userConfigurable'] extends false ? never : K;
}[keyof S['events'] & string];

// ---- RPC results --------------------------------------------------------------------------------

/** A counter's value as `dispatch_initial_state` and the `counter` broadcast carry it. */
export interface CounterValue {
  value: number;
  /** Orders updates of the same counter: a lower or equal seq is stale. */
  seq: number;
  /** The query keys to invalidate, encoded: `'orders'` for `['orders']`, JSON otherwise (see `decodeQueryKey`). */
  invalidates: string[];
}

/** An in-app notification (`dispatch_notifications`, the `notification` broadcast). */
export interface DispatchNotification<S extends DispatchSchema = DispatchSchema> {
  id: string;
  /** The event that sent it; another id or null for `dispatch.notify` calls from app SQL. */
  eventId: EventIdOf<S> | (string & {}) | null;
  type: EventType | (string & {});
  title: string;
  message: string;
  actionUrl: string | null;
  actionLabel: string | null;
  metadata: Record<string, unknown>;
  read: boolean;
  createdAt: string;
}

/** `dispatch_initial_state()`: what a signed-in client starts from. */
export interface InitialState<S extends DispatchSchema = DispatchSchema> {
  counters: Partial<Record<CounterNameOf<S>, CounterValue>>;
  /** The latest 20, newest first. */
  notifications: DispatchNotification<S>[];
  /** The realtime topics the user may join: `dispatch:user:<id>` and the audience topics. */
  topics: string[];
}

/** An event users may configure, as `dispatch_preferences` lists it. */
export interface PreferenceEvent<S extends DispatchSchema = DispatchSchema> {
  id: EventIdOf<S>;
  category: CategoryOf<S> | null;
  type: EventType;
  description: string;
  transports: TransportOf<S>[];
}

/**
 * A stored preference. `eventId` null: every event of `category` (both null: every event);
 * `transport` null: every transport.
 */
export interface Preference<S extends DispatchSchema = DispatchSchema> {
  eventId: EventIdOf<S> | null;
  category: CategoryOf<S> | null;
  transport: TransportOf<S> | null;
  enabled: boolean;
}

/** `dispatch_preferences()`: the configurable events and the user's preferences. */
export interface Preferences<S extends DispatchSchema = DispatchSchema> {
  events: PreferenceEvent<S>[];
  preferences: Preference<S>[];
}

/**
 * One change for `dispatch_set_preference`: for one event (then `transport` is one of that event's
 * transports) or for a whole category. `transport` `'*'`, null or absent: every transport.
 */
export type PreferenceChange<S extends DispatchSchema = DispatchSchema> =
  | {
      [K in ConfigurableEventIdOf<S>]: {
        eventId: K;
        category?: undefined;
        transport?: S['events'][K]['transports'][number] | '*' | null;
        enabled: boolean;
      };
    }[ConfigurableEventIdOf<S>]
  | {
      eventId?: undefined;
      category: CategoryOf<S>;
      transport?: TransportOf<S> | '*' | null;
      enabled: boolean;
    };

/** What `dispatch_set_preference` stored (the RPC's arguments, nulls for "every"). */
export interface PreferenceSet {
  eventId: string | null;
  category: string | null;
  transport: string | null;
  enabled: boolean;
}

/**
 * A page of `dispatch_notifications` (newest first: `createdAt` desc, then `id` desc), at most
 * `maxRows` (1..100, default 20). The next page is the one after the last notification held: its
 * `createdAt` as `before` and its `id` as `beforeId`. `before` alone means older than that instant,
 * which skips the rest of notifications sharing the boundary's `createdAt` (made in one transaction).
 */
export interface NotificationsPage {
  before?: string | null;
  /** The `id` of the notification whose `createdAt` is `before`; needs `before`. */
  beforeId?: string | null;
  maxRows?: number;
}

/** Filters of the admin listing `dispatch_receipts`; `maxRows` 1..500, default 50. */
export interface ReceiptFilter<S extends DispatchSchema = DispatchSchema> {
  eventId?: EventIdOf<S>;
  status?: ReceiptStatus;
  /** A user id. */
  recipient?: string;
  since?: string;
  until?: string;
  maxRows?: number;
}

/** Filters of the admin listing `dispatch_occurrences`. */
export type OccurrenceFilter<S extends DispatchSchema = DispatchSchema> = Omit<ReceiptFilter<S>, 'recipient'>;

/** A receipt as `dispatch_receipts` lists it. */
export interface Receipt<S extends DispatchSchema = DispatchSchema> {
  id: string;
  occurrenceId: string | null;
  eventId: EventIdOf<S>;
  channel: string;
  transport: TransportOf<S>;
  audience: string;
  userId: string | null;
  address: string | null;
  status: ReceiptStatus;
  attemptCount: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  providerMessageId: string | null;
  skipReason: string | null;
  content: Record<string, unknown> | null;
  createdAt: string;
  updatedAt: string;
  sentAt: string | null;
}

/** An occurrence (one firing of an event) as `dispatch_occurrences` lists it. */
export interface Occurrence<S extends DispatchSchema = DispatchSchema> {
  id: string;
  eventId: EventIdOf<S>;
  sourceTable: string | null;
  operation: string | null;
  record: Record<string, unknown> | null;
  oldRecord: Record<string, unknown> | null;
  actor: string | null;
  status: string;
  error: string | null;
  replayCount: number;
  createdAt: string;
  /** How many receipts it made. */
  receipts: number;
}

// ---- what the core needs of the outside -----------------------------------------------------------

/** The raw result of an RPC call; supabase-js's `PostgrestResponse` has this shape. */
export interface RpcResponse {
  data: unknown;
  error: unknown;
  /** HTTP status; 0 when the request never reached the server. */
  status?: number;
}

/** What the core needs of a Supabase client: `rpc`. A supabase-js `SupabaseClient` satisfies it. */
export interface RpcClient {
  rpc(fn: string, args?: Record<string, unknown>): PromiseLike<RpcResponse>;
}

/** What the core needs of a TanStack `QueryClient` (to invalidate the keys counters name). */
export interface QueryClientLike {
  invalidateQueries(filters: { queryKey: readonly unknown[] }): unknown;
}
