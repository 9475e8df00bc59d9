/** How the admin pages follow receipts: which statuses are final, what a requeue did. */

/** Statuses a receipt does not leave on its own. */
export const finalStatuses: readonly string[] = ['sent', 'failed', 'skipped', 'cancelled'];

/** Receipt statuses as they are now: those a trigger answered with, updated from a later listing. */
export function currentStatuses(
  answered: readonly { id?: string; status: string }[],
  latest: readonly { id: string; status: string }[] | undefined,
): Map<string, string> {
  const now = new Map<string, string>();
  for (const r of answered) if (r.id) now.set(r.id, r.status);
  for (const r of latest ?? []) if (now.has(r.id)) now.set(r.id, r.status);
  return now;
}

/** What `dispatch_requeue_receipts` did, in words. */
export function requeueSummary(result: { requeued: string[]; skipped: { status: string | null }[] }): string {
  const parts = [`${result.requeued.length} sent again`];
  if (result.skipped.length > 0) {
    parts.push(
      `${result.skipped.length} left alone (${result.skipped.map((s) => s.status ?? 'not found').join(', ')})`,
    );
  }
  return `${parts.join('; ')}.`;
}
