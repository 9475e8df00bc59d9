/**
 * Counter hooks. Each selects one number (or a shallow-compared record of numbers) from the store,
 * so a change to counter A re-renders only the components that show A. The store is the one source
 * of every count: a badge, a sidebar and the page title reading the same name show the same value.
 */
import type { CounterNameOf, DispatchSchema, DispatchState } from 'supadispatch/client';
import { useShallow } from 'zustand/shallow';
import { useDispatchState } from './dispatch-state.ts';
import type { RegisteredSchema } from './register.ts';

/** The counts by name; a name the store does not hold yet counts 0. */
export type CounterValues<S extends DispatchSchema = RegisteredSchema> = {
  [K in CounterNameOf<S>]?: number;
};

/** The value of counter `name` (0 until the store holds it). */
export function useCounter<S extends DispatchSchema = RegisteredSchema>(name: CounterNameOf<S>): number {
  return useDispatchState<S, number>((state) => counterValue(state, name));
}

/**
 * The values of `names`, or of every counter the store holds. The record keeps its identity while
 * none of its values change, so it is safe in effect dependencies.
 */
export function useCounters<S extends DispatchSchema = RegisteredSchema>(
  names?: readonly CounterNameOf<S>[],
): CounterValues<S> {
  return useDispatchState<S, CounterValues<S>>(
    useShallow((state) => {
      const picked: Record<string, number> = {};
      for (const name of names ?? (Object.keys(state.counters) as CounterNameOf<S>[]))
        picked[name] = counterValue(state, name);
      return picked as CounterValues<S>;
    }),
  );
}

/** The signed-in user's unread notifications (the built-in `unread_notifications` counter). */
export function useUnreadCount(): number {
  return useDispatchState((state) => state.counters.unread_notifications?.value ?? 0);
}

function counterValue<S extends DispatchSchema>(state: DispatchState<S>, name: CounterNameOf<S>): number {
  return state.counters[name]?.value ?? 0;
}
