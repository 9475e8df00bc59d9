// The self-waking worker against an in-memory queue whose dispatch.worker_arm follows
// sql/core/056_worker_alarm.sql: a run that ends with a receipt due soon waits for it (within its
// budget) or hands over (beyond it), does neither when nothing is due soon or another run holds the
// alarm, and releases the alarm when a hand-over starts no run. The SQL itself: sql/test/056_worker_alarm.sql.
import assert from 'node:assert/strict';
import type { WorkerDb } from '../src/delivery/db.ts';
import type { GuardedFetch, PrepareContent, SendOutcome, Transport } from '../src/delivery/types.ts';
import type { Registry } from '../src/registry.ts';
import { startWorkerRun } from '../src/worker/loop.ts';

interface Receipt {
  id: string;
  dueAt: number;
  status: 'pending' | 'sending' | 'sent';
  token: number;
}

/** The queue API in memory, with the alarm's rules; every call of interest is logged. */
class AlarmQueue implements WorkerDb {
  readonly log: string[] = [];
  readonly receipts: Receipt[] = [];
  alarm: { owner: string; wakeAt: number; aliveUntil: number } | null = null;
  private tokens = 0;

  add(id: string, dueInMs: number): void {
    this.receipts.push({ id, dueAt: Date.now() + dueInMs, status: 'pending', token: 0 });
  }

  query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return Promise.resolve(this.answer(sql, params) as T[]);
  }

  private answer(sql: string, params: unknown[]): unknown[] {
    const now = Date.now();
    if (sql.includes('dispatch_worker_drain'))
      return [{ result: { processed: 0, remaining: 0, lingerMs: 0 } }];
    if (sql.includes('poke_worker')) {
      this.log.push('poke');
      return [{ poked: true }];
    }
    if (sql.includes('worker_disarm')) {
      this.log.push(`disarm ${params[0]}`);
      if (this.alarm?.owner === params[0]) this.alarm = null;
      return [{}];
    }
    if (sql.includes('worker_arm')) {
      const [owner, waitMs, successorMs] = params as [string, number, number];
      const due = this.receipts
        .filter((r) => r.status === 'pending' && r.dueAt <= now + 60_000)
        .map((r) => r.dueAt)
        .sort((a, b) => a - b)[0];
      let decision: Record<string, unknown>;
      if (due === undefined) {
        if (this.alarm?.owner === owner) this.alarm = null;
        decision = { action: 'none' };
      } else if (
        this.alarm &&
        this.alarm.owner !== owner &&
        this.alarm.aliveUntil > now &&
        this.alarm.wakeAt <= due
      ) {
        decision = { action: 'none', dueInMs: due - now, heldBy: this.alarm.owner };
      } else if (due - now <= waitMs) {
        this.alarm = { owner, wakeAt: due, aliveUntil: now + waitMs };
        decision = { action: 'wait', dueInMs: Math.max(0, due - now) };
      } else if (waitMs >= 1000) {
        this.alarm = { owner, wakeAt: due, aliveUntil: now + waitMs };
        decision = { action: 'wait', dueInMs: due - now, waitMs };
      } else {
        this.alarm = { owner, wakeAt: due, aliveUntil: now + successorMs };
        decision = { action: 'handover', dueInMs: due - now, url: 'http://worker.test/dispatch-worker' };
      }
      this.log.push(`arm ${owner} ${decision.action}`);
      return [{ decision }];
    }
    if (sql.includes('dispatch_worker_claim')) {
      const due = this.receipts.filter((r) => r.status === 'pending' && r.dueAt <= now);
      return due.map((r) => {
        r.status = 'sending';
        r.token = ++this.tokens;
        this.log.push(`claim ${r.id}`);
        return {
          id: r.id,
          occurrence_id: `occ-${r.id}`,
          event_id: 'e.test',
          channel: 'hook:hooks',
          transport: 'hook',
          audience: 'hooks',
          user_id: null,
          address: 'https://one.example/x',
          attempt_count: 1,
          lease_token: String(r.token),
          idempotency_key: `dispatch-${r.id}`,
          content: { title: 'stored' },
        };
      });
    }
    if (sql.includes('from dispatch.occurrences')) {
      return (params[0] as string[]).map((id) => ({
        id,
        event_id: 'e.test',
        operation: 'INSERT',
        new_record: {},
        old_record: null,
        actor: null,
        created_at: '2026-12-03T08:00:00.000000Z',
      }));
    }
    if (sql.includes('dispatch_worker_store_content')) return [];
    if (sql.includes('dispatch_worker_finish')) {
      const outcomes = JSON.parse(params[0] as string) as { id: string; kind: string }[];
      return outcomes.map((o) => {
        const r = this.receipts.find((x) => x.id === o.id) as Receipt;
        r.status = 'sent';
        this.log.push(`${o.kind} ${r.id}`);
        return { id: r.id, status: 'sent' };
      });
    }
    throw new Error(`unexpected SQL: ${sql}`);
  }
}

const registry: Registry = {
  events: {
    'e.test': {
      id: 'e.test',
      table: null,
      operations: [],
      channels: [{ name: 'hook:hooks', transport: 'hook', audience: 'hooks', delaySeconds: 0 }],
      content: {},
      metadata: {},
      strict: false,
      module: null,
    },
  },
};
const noFetch: GuardedFetch = () => Promise.reject(new Error('no network in this test'));
const prepareContent: PrepareContent = () => Promise.resolve({ content: { title: 't' }, secrets: [] });
const hook: Transport = {
  name: 'hook',
  destination: () => 'one',
  send: (): Promise<SendOutcome> => Promise.resolve({ status: 'sent', httpStatus: 200, durationMs: 1 }),
};

function run(
  db: AlarmQueue,
  handOvers: { url: string | null; alarm: string }[],
  options: { budgetMs?: number; answer?: boolean; alarm?: string } = {},
) {
  return startWorkerRun(
    {
      db,
      registry,
      transports: { hook },
      prepareContent,
      fetch: noFetch,
      log: () => {},
      handOver: (url, alarm) => {
        handOvers.push({ url, alarm });
        return Promise.resolve(options.answer ?? true);
      },
    },
    {
      workerName: 'w:alarm:1',
      pollMs: 5,
      sendTimeoutMs: 1000,
      budgetMs: options.budgetMs ?? 10_000,
      alarm: options.alarm,
    },
  );
}

Deno.test('a receipt due within the budget: the run waits for it (a timer) and sends it itself', async () => {
  const db = new AlarmQueue();
  db.add('soon', 300);
  const handOvers: { url: string | null; alarm: string }[] = [];
  const summary = await run(db, handOvers).done;
  assert.equal(summary.sent, 1);
  assert.equal(summary.waits, 1, 'one wait, no polling until then');
  assert.equal(summary.handedOver, false);
  assert.deepEqual(handOvers, []);
  assert.equal(db.log.filter((l) => l === 'arm w:alarm:1 wait').length, 1);
  assert.equal(db.alarm, null, 'released when nothing else is due soon');
  assert.ok(!db.log.includes('poke'));
});

Deno.test('a receipt due after the budget: the run waits to its end, hands over once to its own chain, pokes nobody', async () => {
  const db = new AlarmQueue();
  db.add('later', 20_000);
  const handOvers: { url: string | null; alarm: string }[] = [];
  const summary = await run(db, handOvers, { budgetMs: 4000 }).done;
  assert.equal(summary.sent, 0);
  assert.equal(summary.waits, 1, 'it waited as long as it could first (one hand-over per budget)');
  assert.deepEqual(
    db.log.map((l) => l.split(' ')[2]),
    ['wait', 'handover'],
  );
  assert.equal(summary.handedOver, true);
  assert.deepEqual(handOvers, [{ url: 'http://worker.test/dispatch-worker', alarm: 'w:alarm:1' }]);
  assert.equal(db.alarm?.owner, 'w:alarm:1', 'the successor continues the chain');
  assert.ok(!db.log.includes('poke'));
});

Deno.test('a run handed over continues the chain it was given', async () => {
  const db = new AlarmQueue();
  db.add('soon', 200);
  db.alarm = { owner: 'chain-7', wakeAt: Date.now() + 200, aliveUntil: Date.now() + 10_000 };
  const summary = await run(db, [], { alarm: 'chain-7' }).done;
  assert.equal(summary.alarm, 'chain-7');
  assert.equal(summary.sent, 1);
  assert.equal(summary.waits, 1, 'it re-armed the alarm of its chain');
});

Deno.test('nothing due soon: no wait, no hand-over, no poke', async () => {
  const db = new AlarmQueue();
  db.add('next-hour', 3_600_000);
  const handOvers: { url: string | null; alarm: string }[] = [];
  const summary = await run(db, handOvers).done;
  assert.deepEqual([summary.waits, summary.handedOver, summary.pokedAgain], [0, false, false]);
  assert.deepEqual(handOvers, []);
  assert.deepEqual(db.log, ['arm w:alarm:1 none']);
});

Deno.test('another live run holds the alarm: this one ends, no second chain', async () => {
  const db = new AlarmQueue();
  db.add('later', 20_000);
  db.alarm = { owner: 'other-run', wakeAt: Date.now() + 5000, aliveUntil: Date.now() + 30_000 };
  const handOvers: { url: string | null; alarm: string }[] = [];
  const summary = await run(db, handOvers, { budgetMs: 4000 }).done;
  assert.deepEqual([summary.waits, summary.handedOver, summary.pokedAgain], [0, false, false]);
  assert.deepEqual(handOvers, []);
  assert.equal(db.alarm?.owner, 'other-run');
});

Deno.test('a hand-over that starts no run releases the alarm', async () => {
  const db = new AlarmQueue();
  db.add('later', 20_000);
  const summary = await run(db, [], { budgetMs: 4000, answer: false }).done;
  assert.equal(summary.handedOver, false);
  assert.ok(db.log.includes('disarm w:alarm:1'));
  assert.equal(db.alarm, null, 'another run, or the tick, takes it');
});

Deno.test('without a hand-over function the run ends as before (no alarm)', async () => {
  const db = new AlarmQueue();
  db.add('soon', 100);
  const summary = await startWorkerRun(
    { db, registry, transports: { hook }, prepareContent, fetch: noFetch, log: () => {} },
    { workerName: 'w:alarm:2', pollMs: 5 },
  ).done;
  assert.deepEqual([summary.waits, summary.handedOver, summary.sent], [0, false, 0]);
  assert.deepEqual(db.log, []);
});
