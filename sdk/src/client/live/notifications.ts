/**
 * Notifications in the store, newest first: the `notification` and `notifications_read` broadcasts,
 * pages of `dispatch_notifications`, and the optimistic read flags of a mark-read and their rollback.
 * Pure functions over the list; an unchanged list is returned as the same array (selectors stay put).
 */
import type { DispatchNotification } from '../types.ts';

type Notification = DispatchNotification;

/** The built-in counter of unread in-app notifications (sql/core/050_notifications.sql). */
export const UNREAD_NOTIFICATIONS = 'unread_notifications';

/** A `notifications_read` broadcast: the ids that became read, or null for all of them. */
export interface NotificationsReadMessage {
  ids: string[] | null;
}

/** Whether `payload` has the shape of a `notification` broadcast. */
export function isNotificationMessage(payload: unknown): payload is Notification {
  const p = payload as Partial<Notification> | null;
  return typeof p?.id === 'string' && typeof p.createdAt === 'string';
}

/** Whether `payload` has the shape of a `notifications_read` broadcast. */
export function isNotificationsReadMessage(payload: unknown): payload is NotificationsReadMessage {
  const p = payload as Partial<NotificationsReadMessage> | null;
  return p != null && (p.ids === null || Array.isArray(p.ids));
}

// Newest first, as dispatch_notifications orders them: created_at desc, id desc.
const newerFirst = (a: Notification, b: Notification): number =>
  a.createdAt === b.createdAt ? (a.id < b.id ? 1 : a.id > b.id ? -1 : 0) : a.createdAt < b.createdAt ? 1 : -1;

// The columns of a notification the store keeps (a broadcast payload also carries the message's `id`
// under its own name, and nothing else should leak into the store).
function pick(n: Notification): Notification {
  return {
    id: n.id,
    eventId: n.eventId ?? null,
    type: n.type,
    title: n.title,
    message: n.message,
    actionUrl: n.actionUrl ?? null,
    actionLabel: n.actionLabel ?? null,
    metadata: n.metadata ?? {},
    read: Boolean(n.read),
    createdAt: n.createdAt,
  };
}

/** The list with `incoming` merged in (new ids added, known ids kept), newest first. */
export function mergeNotifications(list: Notification[], incoming: readonly Notification[]): Notification[] {
  const known = new Set(list.map((n) => n.id));
  const added = incoming.filter((n) => !known.has(n.id)).map(pick);
  if (added.length === 0) return list;
  return [...list, ...added].sort(newerFirst);
}

/** The list with `ids` (null: every one) read; the same array when none changes. */
export function markReadIn(list: Notification[], ids: readonly string[] | null): Notification[] {
  const wanted = ids === null ? null : new Set(ids);
  let changed = false;
  const next = list.map((n) => {
    if (n.read || (wanted && !wanted.has(n.id))) return n;
    changed = true;
    return { ...n, read: true };
  });
  return changed ? next : list;
}

/** The ids in the list that are unread and among `ids` (null: every unread one). */
export function unreadAmong(list: readonly Notification[], ids: readonly string[] | null): string[] {
  const wanted = ids === null ? null : new Set(ids);
  return list.filter((n) => !n.read && (!wanted || wanted.has(n.id))).map((n) => n.id);
}

/** The list with `ids` unread again (the rollback of a failed mark-read). */
export function markUnreadIn(list: Notification[], ids: readonly string[]): Notification[] {
  if (ids.length === 0) return list;
  const wanted = new Set(ids);
  return list.map((n) => (n.read && wanted.has(n.id) ? { ...n, read: false } : n));
}

/** A fetched first page, as the store holds it (newest first, store's columns only). */
export function firstPage(page: readonly Notification[]): Notification[] {
  return page.map(pick).sort(newerFirst);
}

/** Where the next page starts: after the last notification held (null: the first page). */
export function nextPageCursor(list: readonly Notification[]): { before: string; beforeId: string } | null {
  const last = list.at(-1);
  return last ? { before: last.createdAt, beforeId: last.id } : null;
}

/** The notifications of the store and whether older ones may exist. */
export interface NotificationsView {
  notifications: Notification[];
  hasMore: boolean;
}

/** What a refetch of the first page knows besides the page itself. */
export interface RefetchedPage {
  /** The first page as fetched (newest first, see {@link firstPage}). */
  page: Notification[];
  /** The page size asked for: a shorter page holds every notification there is. */
  pageSize: number;
  /**
   * The newest notification of the previous fetched first page (null: none). Held notifications up to
   * it are complete (that page, then `loadMore` pages under it); newer ones came from broadcasts and
   * may miss what was sent while a topic was down.
   */
  completeUpTo: Notification | null;
  /** `unread_notifications` fetched with the page (the same snapshot), if the state had it. */
  unread?: number;
}

/**
 * The store's notifications after a refetch of the first page (sign-in, a rejoin, coming back online).
 * The page replaces what it covers (its rows are the current ones; a held row in its range that it
 * lacks was deleted). Older pages loaded with `loadMore` are kept, with `hasMore` as it was, when
 * they join the page without a gap: the page is full and reaches down to notifications held
 * completely (its last row is not newer than `completeUpTo`). Otherwise (more than a page arrived
 * while disconnected, or nothing older was loaded) the page alone is the list. Held notifications
 * newer than the page's newest stay too: they were broadcast after the fetch read. Read flags of kept
 * rows cannot be refreshed row by row (a missed `notifications_read`); when the fetched unread count
 * equals the page's unread ones, nothing older is unread, so kept rows are marked read.
 */
export function afterRefetch(held: NotificationsView, fetched: RefetchedPage): NotificationsView {
  const { page, pageSize, completeUpTo, unread } = fetched;
  const full = page.length >= pageSize;
  const newest = page[0];
  const last = page.at(-1);
  // newer than the page's newest: broadcast after the fetch's snapshot, while its answer was on the way
  const arrived = newest ? held.notifications.filter((n) => newerFirst(n, newest) < 0) : [];
  const top = arrived.length > 0 ? [...arrived, ...page] : page;
  if (!full || !last || !completeUpTo || newerFirst(last, completeUpTo) < 0)
    return { notifications: top, hasMore: full };
  let older = held.notifications.filter((n) => newerFirst(n, last) > 0);
  if (older.length === 0) return { notifications: top, hasMore: true };
  if (unread !== undefined && unread === unreadAmong(page, null).length) older = markReadIn(older, null);
  return { notifications: [...top, ...older], hasMore: held.hasMore };
}
