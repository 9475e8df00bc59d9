/**
 * TanStack Query keys of the dispatch queries, all under `['dispatch']`, and the decoding of the
 * `invalidates` strings that counters carry. The built-in `unread_notifications` counter names
 * {@link dispatchKeys.allNotifications} (sql/core/050_notifications.sql), so a moving unread count
 * refreshes every page of notifications.
 */
import type {
  DispatchSchema,
  NotificationsPage,
  OccurrenceFilter,
  QueryKey,
  ReceiptFilter,
} from './types.ts';

/** The query keys, typed to a schema (filters carry its event ids). */
export interface DispatchKeys<S extends DispatchSchema = DispatchSchema> {
  /** Every dispatch query. */
  readonly all: readonly ['dispatch'];
  initialState(): readonly ['dispatch', 'initial_state'];
  /** Every page of notifications (a prefix of {@link DispatchKeys.notifications}). */
  allNotifications(): readonly ['dispatch', 'notifications'];
  notifications(page?: NotificationsPage): readonly ['dispatch', 'notifications', NotificationsPage];
  preferences(): readonly ['dispatch', 'preferences'];
  receipts(filter?: ReceiptFilter<S>): readonly ['dispatch', 'receipts', ReceiptFilter<S>];
  occurrences(filter?: OccurrenceFilter<S>): readonly ['dispatch', 'occurrences', OccurrenceFilter<S>];
}

/** The query keys; `bindDispatch(schema).keys` is the same object, typed to a config. */
export const dispatchKeys: DispatchKeys = {
  all: ['dispatch'],
  initialState: () => ['dispatch', 'initial_state'],
  allNotifications: () => ['dispatch', 'notifications'],
  notifications: (page = {}) => ['dispatch', 'notifications', page],
  preferences: () => ['dispatch', 'preferences'],
  receipts: (filter = {}) => ['dispatch', 'receipts', filter],
  occurrences: (filter = {}) => ['dispatch', 'occurrences', filter],
};

/**
 * The query key of an `invalidates` string of a counter (`dispatch_initial_state`, the `counter`
 * broadcast): `'orders'` is `['orders']`, a JSON array is itself (the generator's encoding).
 */
export function decodeQueryKey(encoded: string): QueryKey {
  if (!encoded.startsWith('[')) return [encoded];
  const key: unknown = JSON.parse(encoded);
  if (!Array.isArray(key) || !key.every((part) => typeof part === 'string' || typeof part === 'number'))
    throw new TypeError(`not a query key: ${encoded}`);
  return key;
}
