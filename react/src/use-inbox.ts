/**
 * `useInbox()`: everything an inbox needs, without markup: the notifications and the unread count
 * from the store, loading, empty and error states, the actions, and keyboard navigation of the
 * items. `<Inbox />` is one rendering of it; an app can render its own.
 */

import { useCallback } from 'react';
import type { DispatchNotification, DispatchSchema } from 'supadispatch/client';
import { useDispatchClient } from './context.ts';
import { useUnreadCount } from './counters.ts';
import { type ListNavigation, useListNavigation } from './list-navigation.ts';
import { useMarkAllRead, useMarkRead } from './mark-read.ts';
import { type NotificationsResult, useNotifications } from './notifications.ts';
import type { RegisteredSchema } from './register.ts';

/** What {@link useInbox} gives. */
export interface InboxState<S extends DispatchSchema = RegisteredSchema>
  extends NotificationsResult<S>,
    ListNavigation {
  unreadCount: number;
  /** Signed in and the first state not fetched yet. */
  isLoading: boolean;
  /** Nothing to show (and not loading). */
  isEmpty: boolean;
  markRead: ReturnType<typeof useMarkRead>;
  markAllRead: ReturnType<typeof useMarkAllRead>;
  /** Fetches the state again (after an error, say). */
  refresh: () => Promise<unknown>;
  /** What opening a notification does besides following its link: mark it read. */
  open: (notification: DispatchNotification<S>) => void;
}

/** The state and actions of an inbox of the signed-in user's notifications. */
export function useInbox<S extends DispatchSchema = RegisteredSchema>(): InboxState<S> {
  const client = useDispatchClient<S>();
  const notifications = useNotifications<S>();
  const unreadCount = useUnreadCount();
  const markRead = useMarkRead();
  const markAllRead = useMarkAllRead();
  const navigation = useListNavigation(notifications.notifications.length);
  const refresh = useCallback(() => client.refresh(), [client]);
  const open = useCallback(
    (notification: DispatchNotification<S>) => {
      if (!notification.read) void markRead(notification.id);
    },
    [markRead],
  );
  const isLoading = notifications.status === 'connecting' && notifications.notifications.length === 0;
  return {
    ...notifications,
    ...navigation,
    unreadCount,
    isLoading,
    isEmpty: !isLoading && notifications.notifications.length === 0,
    markRead,
    markAllRead,
    refresh,
    open,
  };
}
