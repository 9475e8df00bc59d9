/**
 * `useDispatchState(selector)`: the one way the hooks read the client core's store. zustand's
 * `useStore` subscribes through `useSyncExternalStore`, so a component re-renders only when what
 * its selector returns changes (`Object.is`); wrap a selector that builds an object in
 * `useShallow` (zustand/shallow) to compare it field by field.
 */
import type { DispatchSchema, DispatchState } from 'supadispatch/client';
import { useStore } from 'zustand';
import { useDispatchClient } from './context.ts';
import type { RegisteredSchema } from './register.ts';

/** What `selector` picks from the store's state, kept current. */
export function useDispatchState<S extends DispatchSchema = RegisteredSchema, U = unknown>(
  selector: (state: DispatchState<S>) => U,
): U {
  return useStore(useDispatchClient<S>().store, selector);
}
