/**
 * Counters in the store: `seq` orders the updates of one counter, so a message applies only when its
 * `seq` is newer than the one held, and a late or repeated message never moves a count back.
 * Pure functions over the store's `counters`; the live client calls them and invalidates what moved.
 */
import type { CounterEntry } from '../state.ts';
import type { CounterValue } from '../types.ts';

/** The store's counters, by name. */
export type Counters = Record<string, CounterEntry>;

/** A `counter` broadcast (DESIGN.md): the counter's new absolute value and its `seq`. */
export interface CounterMessage extends CounterValue {
  name: string;
}

/** Whether `payload` has the shape of a `counter` broadcast. */
export function isCounterMessage(payload: unknown): payload is CounterMessage {
  const p = payload as Partial<CounterMessage> | null;
  return (
    typeof p?.name === 'string' &&
    typeof p.value === 'number' &&
    typeof p.seq === 'number' &&
    (p.invalidates === undefined || Array.isArray(p.invalidates))
  );
}

/** The counters with `message` applied, or the same object when the message is not newer. */
export function applyCounterMessage(counters: Counters, message: CounterMessage): Counters {
  const held = counters[message.name];
  if (held && message.seq <= held.seq) return counters;
  return { ...counters, [message.name]: { value: message.value, seq: message.seq } };
}

/**
 * The counters of a fresh `dispatch_initial_state`: each fetched entry replaces the held one unless a
 * broadcast newer than the fetch already arrived (held seq higher); counters the state no longer
 * lists (an audience left) are dropped. `moved` names the counters whose value changed.
 */
export function applyFetchedCounters(
  counters: Counters,
  fetched: Record<string, CounterValue | undefined>,
): { counters: Counters; moved: string[] } {
  const next: Counters = {};
  const moved: string[] = [];
  for (const [name, value] of Object.entries(fetched)) {
    if (!value) continue;
    const held = counters[name];
    if (held && held.seq > value.seq) {
      next[name] = held;
      continue;
    }
    next[name] =
      held && held.seq === value.seq && held.value === value.value
        ? held
        : { value: value.value, seq: value.seq };
    if (held && held.value !== value.value) moved.push(name);
  }
  return { counters: next, moved };
}

/**
 * An optimistic change of a counter's value (a mark-read lowering the unread count), keeping its
 * `seq`: the server's next broadcast (a higher seq) replaces it whatever it says.
 */
export function adjustCounter(counters: Counters, name: string, delta: number): Counters {
  const held = counters[name];
  if (!held || delta === 0) return counters;
  return { ...counters, [name]: { value: Math.max(0, held.value + delta), seq: held.seq } };
}
