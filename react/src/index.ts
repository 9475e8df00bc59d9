/**
 * `@supadispatch/react`: React bindings of supadispatch's client core (`supadispatch/client`).
 * The provider starts a client core; the hooks read its zustand store through selectors
 * (`useSyncExternalStore`), so a component re-renders only when what it shows changes; the
 * components are minimal, accessible and replaceable.
 */
export { useDispatchClient } from './context.ts';
export { type CounterValues, useCounter, useCounters, useUnreadCount } from './counters.ts';
export { useDispatchState } from './dispatch-state.ts';
export { Inbox, type InboxProps } from './inbox.tsx';
export { type ListNavigation, type NavigableItemProps, useListNavigation } from './list-navigation.ts';
export { useMarkAllRead, useMarkRead } from './mark-read.ts';
export { NotificationBell, type NotificationBellProps } from './notification-bell.tsx';
export { type NotificationsResult, useNotifications } from './notifications.ts';
export { usePreferences, useSetPreference } from './preferences.ts';
export { DispatchProvider, type DispatchProviderProps } from './provider.tsx';
export type { Register, RegisteredSchema } from './register.ts';
export { formatRelativeTime } from './relative-time.ts';
export { useDispatchStatus } from './status.ts';
export { type InboxState, useInbox } from './use-inbox.ts';
