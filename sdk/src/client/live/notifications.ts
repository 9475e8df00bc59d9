/**
 * Notifications in the store, newest first: the `notification` and `notifications_read` broadcasts,
 * pages of `dispatch_notifications`, and the optimistic read flags of a mark-read and their rollback.
 * Pure functions over the list; an unchanged list is returned as the same array (selectors stay put).
 */
import type { DispatchNotification } from '../types.ts';

type Notification = DispatchNotification;

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
