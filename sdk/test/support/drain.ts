/**
 * Processes the captured changes as the worker / dispatch.tick() would after commit: calls
 * `dispatch.drain()` until no unprocessed change (of the given source tables, default all) is left.
 * One drain runs at a time (an advisory lock; another caller gets 0 at once), so when someone else is
 * draining this waits for them. Bounded: fails after `maxRounds`.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

type Q = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

export async function drainAll(q: Q, opts: { sourceLike?: string; maxRounds?: number } = {}): Promise<void> {
  const like = opts.sourceLike ?? '%';
  const maxRounds = opts.maxRounds ?? 400;
  for (let i = 0; i < maxRounds; i++) {
    const [{ n }] = await q('select dispatch.drain(5000) as n');
    const [{ left }] = await q(
      'select count(*)::int as left from dispatch.changes where error is null and source_table like $1',
      [like],
    );
    if (Number(left) === 0) {
      // counts-only tables counted from the WAL (core 066): published by drains at spaced intervals,
      // so the rest now, as the worker does when its linger ends
      await q('select dispatch.publish_wal_counts(true)');
      return;
    }
    if (Number(n) === 0) await sleep(25); // another drain holds the lock
  }
  assert.fail(`dispatch.changes not drained after ${maxRounds} rounds`);
}
