/**
 * `useMarkRead()` and `useMarkAllRead()`: stable functions that mark notifications read through the
 * client core, which updates the store at once and rolls back (setting `error`) if the RPC fails.
 */

import { useCallback } from 'react';
import type { DispatchResult } from 'supadispatch/client';
import { useDispatchClient } from './context.ts';

/** Marks notifications read by id (one id or several); resolves to how many changed. */
export function useMarkRead(): (ids: string | readonly string[]) => Promise<DispatchResult<number>> {
  const client = useDispatchClient();
  return useCallback((ids) => client.markRead(typeof ids === 'string' ? [ids] : ids), [client]);
}

/** Marks every notification of the user read; resolves to how many changed. */
export function useMarkAllRead(): () => Promise<DispatchResult<number>> {
  const client = useDispatchClient();
  return useCallback(() => client.markAllRead(), [client]);
}
