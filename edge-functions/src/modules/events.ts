/**
 * The events the functions know: the registry's (from dispatch.config.ts) plus the built-in Auth
 * email events the config does not restyle. The worker looks a receipt's event up here, so receipts of
 * built-in `auth.*` events render like any other.
 */
import type { Registry, RegistryEvent } from '../registry.ts';
import { AUTH_EVENTS, builtinAuthEvent, isAuthEvent, restyledAuthEvent } from './auth.ts';

export function resolveEvent(registry: Registry, eventId: string): RegistryEvent | null {
  const own = Object.hasOwn(registry.events, eventId) ? registry.events[eventId] : undefined;
  if (own) return isAuthEvent(eventId) ? restyledAuthEvent(own) : own;
  return isAuthEvent(eventId) ? builtinAuthEvent(eventId) : null;
}

/** Every event, config events first (in registry order), then the built-in auth events. */
export function allEvents(registry: Registry): RegistryEvent[] {
  const ids = [...Object.keys(registry.events)];
  for (const id of new Set(Object.values(AUTH_EVENTS))) if (!ids.includes(id)) ids.push(id);
  return ids.map((id) => resolveEvent(registry, id)).filter((e): e is RegistryEvent => e !== null);
}
