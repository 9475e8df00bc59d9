/**
 * The vanilla zustand store behind every count on screen, and its empty state. Only the live client
 * writes it; bindings read it through selectors.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { DispatchState, DispatchStatus } from '../state.ts';
import type { DispatchSchema } from '../types.ts';

/** The state of nobody signed in (or of a user whose state is not fetched yet). */
export function emptyState<S extends DispatchSchema>(
  status: DispatchStatus = 'idle',
  userId: string | null = null,
): DispatchState<S> {
  return { status, userId, counters: {}, notifications: [], hasMore: false, error: null };
}

/** A new store, idle and empty. */
export function createDispatchStore<S extends DispatchSchema>(): StoreApi<DispatchState<S>> {
  return createStore<DispatchState<S>>()(() => emptyState<S>());
}
