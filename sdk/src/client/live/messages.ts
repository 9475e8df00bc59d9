/**
 * One dispatch broadcast applied to the store's counters and notifications, as a pure function.
 * The database sends the messages one statement or one drain produces for a topic as ONE `batch`
 * broadcast, `{ messages: [{ event, payload }, ...] }` in the order produced (sql/core/030_realtime.sql,
 * setting `realtime_batch_messages`); a topic with one message gets it plain. A batch is applied
 * message by message exactly as the plain ones, and the caller writes the result to the store once, so
 * a batch re-renders once. Unknown events, inside a batch or not, are ignored.
 */
import type { DispatchNotification } from '../types.ts';
import { applyCounterMessage, type Counters, isCounterMessage } from './counters.ts';
import {
  isNotificationMessage,
  isNotificationsReadMessage,
  markReadIn,
  mergeNotifications,
} from './notifications.ts';

/** The event of a broadcast that carries several messages of one topic. */
export const BATCH_EVENT = 'batch';

/** One message inside a `batch` broadcast. */
export interface BatchedMessage {
  event: string;
  payload: unknown;
}

/** What a broadcast changes: the store's counters and notifications. */
export interface LiveView {
  counters: Counters;
  notifications: DispatchNotification[];
}

/** The view after a broadcast, and the encoded query keys of the counters it moved, in order. */
export interface AppliedBroadcast {
  view: LiveView;
  invalidates: (readonly string[] | undefined)[];
}

/**
 * The messages a dispatch broadcast carries, in order: a `batch`'s inner messages, or the broadcast
 * itself. For apps that listen with raw realtime-js: `channel.on('broadcast', { event: '*' }, (m) =>
 * broadcastMessages(m.event, m.payload).forEach(handle))` hears `notification`, `counter` and
 * `notifications_read` whether they came alone or merged.
 */
export function broadcastMessages(event: string, payload: unknown): BatchedMessage[] {
  if (event !== BATCH_EVENT) return [{ event, payload }];
  const messages = (payload as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages)) return [];
  return messages.filter(
    (m): m is BatchedMessage =>
      typeof m === 'object' && m !== null && typeof (m as BatchedMessage).event === 'string',
  );
}

/**
 * `view` with the broadcast applied. Unchanged parts stay the same objects (a stale counter, a known
 * notification), so the caller writes only what moved. A batch inside a batch is not a dispatch shape:
 * ignored, as unknown events are.
 */
export function applyBroadcast(view: LiveView, event: string, payload: unknown): AppliedBroadcast {
  let { counters, notifications } = view;
  const invalidates: (readonly string[] | undefined)[] = [];
  // notifications of a batch are merged at once (one sort), where they would have come one by one
  let arrived: DispatchNotification[] = [];
  const arrivedIds = new Set<string>();
  const flushArrived = () => {
    if (arrived.length === 0) return;
    notifications = mergeNotifications(notifications, arrived);
    arrived = [];
    arrivedIds.clear();
  };
  for (const m of broadcastMessages(event, payload)) {
    if (m.event === 'counter' && isCounterMessage(m.payload)) {
      const next = applyCounterMessage(counters, m.payload);
      if (next === counters) continue; // stale or repeated
      counters = next;
      invalidates.push(m.payload.invalidates);
    } else if (m.event === 'notification' && isNotificationMessage(m.payload)) {
      if (arrivedIds.has(m.payload.id)) continue; // the first one wins, as one by one
      arrivedIds.add(m.payload.id);
      arrived.push(m.payload);
    } else if (m.event === 'notifications_read' && isNotificationsReadMessage(m.payload)) {
      flushArrived(); // what was read may be among them
      notifications = markReadIn(notifications, m.payload.ids);
    }
  }
  flushArrived();
  const changed = counters !== view.counters || notifications !== view.notifications;
  return { view: changed ? { counters, notifications } : view, invalidates };
}
