/**
 * Whether an event reaches a user by a transport, from the preferences `dispatch_preferences()` lists:
 * the same rule as the core's `dispatch.preference_enabled` (sql/core/020_outbox.sql), so the
 * checkboxes show what the triggers will do. The most specific preference wins: one naming the
 * event before one for its category before one for every event, and within those one naming the
 * transport before one for every transport. Without a preference an event is on.
 */

export interface PreferenceRow {
  eventId: string | null;
  category: string | null;
  transport: string | null;
  enabled: boolean;
}

export interface PreferenceTarget {
  id: string;
  category: string | null;
}

export function isEnabled(preferences: readonly PreferenceRow[], event: PreferenceTarget, transport: string) {
  let best: { rank: number; enabled: boolean } | null = null;
  for (const p of preferences) {
    const forEvent = p.eventId === event.id;
    const forCategory = p.eventId === null && (p.category === null || p.category === event.category);
    if (!forEvent && !forCategory) continue;
    if (p.transport !== null && p.transport !== transport) continue;
    // rank = (names the event, names a category, names the transport), compared in that order
    const rank =
      (p.eventId !== null ? 4 : 0) + (p.category !== null ? 2 : 0) + (p.transport !== null ? 1 : 0);
    if (!best || rank > best.rank) best = { rank, enabled: p.enabled };
  }
  return best?.enabled ?? true;
}
