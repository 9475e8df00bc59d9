/**
 * `useNotifications()`: the signed-in user's notifications from the store (newest first), with
 * `fetchNextPage` for older ones, in the shape of TanStack's infinite queries.
 */

import { useCallback, useRef, useState } from 'react';
import type {
  DispatchError,
  DispatchNotification,
  DispatchResult,
  DispatchSchema,
  DispatchStatus,
} from 'supadispatch/client';
import { useShallow } from 'zustand/shallow';
import { useDispatchClient } from './context.ts';
import { useDispatchState } from './dispatch-state.ts';
import type { RegisteredSchema } from './register.ts';

/** What {@link useNotifications} gives. */
export interface NotificationsResult<S extends DispatchSchema = RegisteredSchema> {
  /** Newest first: the first page, then every page `fetchNextPage` added. */
  notifications: DispatchNotification<S>[];
  /** Whether older notifications exist. */
  hasMore: boolean;
  /** Fetches the next (older) page; resolves to how many came. A call while one runs joins it. */
  fetchNextPage: () => Promise<DispatchResult<number>>;
  isFetchingNextPage: boolean;
  status: DispatchStatus;
  /** The store's last error (a failed fetch or a rolled-back mark-read). */
  error: DispatchError | null;
}

/** The notifications of the store, and a way to load older ones. */
export function useNotifications<S extends DispatchSchema = RegisteredSchema>(): NotificationsResult<S> {
  const client = useDispatchClient<S>();
  const state = useDispatchState<S, Omit<NotificationsResult<S>, 'fetchNextPage' | 'isFetchingNextPage'>>(
    useShallow(({ notifications, hasMore, status, error }) => ({ notifications, hasMore, status, error })),
  );
  const [isFetchingNextPage, setFetching] = useState(false);
  const running = useRef<Promise<DispatchResult<number>> | null>(null);
  const fetchNextPage = useCallback(() => {
    if (!running.current) {
      setFetching(true);
      running.current = client.loadMore().finally(() => {
        running.current = null;
        setFetching(false);
      });
    }
    return running.current;
  }, [client]);
  return { ...state, fetchNextPage, isFetchingNextPage };
}
