// The worker's loop against an in-memory queue (no database): content prepared once and stored
// before the send, outcomes recorded with the lease token, a slow destination not stalling the
// others, ContentError and unknown transports failing the receipt, a lost lease dropping the result.
import assert from 'node:assert/strict';
import type { WorkerDb } from '../src/delivery/db.ts';
import {
  ContentError,
  type GuardedFetch,
  type PrepareContent,
  type SendOutcome,
  type Transport,
} from '../src/delivery/types.ts';
import type { Registry } from '../src/registry.ts';
import { startWorkerRun } from '../src/worker/loop.ts';

interface FakeReceipt {
  id: string;
  transport: string;
  address: string;
  status: 'pending' | 'sending' | 'sent' | 'scheduled' | 'failed';
  attempt: number;
  token: number;
  content: unknown;
}

/** The queue API's SQL, answered in memory; every call is logged in order. */
class FakeQueue implements WorkerDb {
  readonly log: string[] = [];
  /** The batched calls, in order (store_content, finish). */
  readonly calls: string[] = [];
  readonly receipts: FakeReceipt[] = [];
  private tokens = 0;
  /** Receipt ids whose outcome the next finish call does not accept (a lost lease). */
  readonly staleOnRecord = new Set<string>();
  /**
   * What the next drain calls find waiting, one element per call (then 0): writes that keep coming.
   * A call processes at most what it asks for.
   */
  readonly drainFinds: number[] = [];
  /** The max_changes each drain call asked for, in order. */
  readonly drainAsked: number[] = [];

  add(id: string, transport: string, address: string, content: unknown = null): void {
    this.receipts.push({ id, transport, address, status: 'pending', attempt: 0, token: 0, content });
  }

  byId(id: unknown): FakeReceipt {
    const r = this.receipts.find((x) => x.id === id);
    if (!r) throw new Error(`no receipt ${id}`);
    return r;
  }

  query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return Promise.resolve(this.answer(sql, params) as T[]);
  }

  private answer(sql: string, params: unknown[]): unknown[] {
    if (sql.includes('dispatch_worker_drain')) {
      const asked = Number(params[0]);
      this.drainAsked.push(asked);
      const processed = Math.min(this.drainFinds.shift() ?? 0, asked);
      this.log.push(`drain ${processed}`);
      return [{ result: { processed, remaining: 0, lingerMs: processed > 0 ? 1000 : 0 } }];
    }
    if (sql.includes('poke_worker')) {
      this.log.push('poke');
      return [{ poked: false }];
    }
    if (sql.includes('dispatch_worker_claim')) {
      const [worker, max] = params as [string, number];
      const due = this.receipts.filter((r) => r.status === 'pending').slice(0, max);
      return due.map((r) => {
        r.status = 'sending';
        r.attempt++;
        r.token = ++this.tokens;
        this.log.push(`claim ${r.id} by ${worker}`);
        return {
          id: r.id,
          occurrence_id: `occ-${r.id}`,
          event_id: 'e.test',
          channel: `${r.transport}:hooks`,
          transport: r.transport,
          audience: 'hooks',
          user_id: null,
          address: r.address,
          attempt_count: r.attempt,
          lease_token: String(r.token),
          idempotency_key: `dispatch-${r.id}`,
          content: r.content,
        };
      });
    }
    if (sql.includes('from dispatch.occurrences')) {
      return (params[0] as string[]).map((id) => ({
        id,
        event_id: 'e.test',
        operation: 'INSERT',
        new_record: { title: `record of ${id}` },
        old_record: null,
        actor: null,
        created_at: '2026-12-02T08:00:00.000000Z',
      }));
    }
    if (sql.includes('dispatch_worker_store_content')) {
      this.calls.push('store_content');
      const items = JSON.parse(params[0] as string) as { id: string; leaseToken: string; content: unknown }[];
      return items.flatMap((item) => {
        const r = this.byId(item.id);
        if (r.status !== 'sending' || String(r.token) !== item.leaseToken) return [];
        this.log.push(`set_content ${r.id}`);
        r.content = item.content;
        return [{ id: r.id }];
      });
    }
    if (sql.includes('dispatch_worker_finish')) {
      this.calls.push('finish');
      const outcomes = JSON.parse(params[0] as string) as {
        id: string;
        leaseToken: string;
        kind: 'complete' | 'retry' | 'fail';
        error?: string;
      }[];
      return outcomes.flatMap((o) => {
        const r = this.byId(o.id);
        if (r.status !== 'sending' || String(r.token) !== o.leaseToken || this.staleOnRecord.delete(r.id))
          return [];
        this.log.push(`${o.kind} ${r.id}${o.kind === 'complete' ? '' : ` ${o.error}`}`);
        r.status = o.kind === 'complete' ? 'sent' : o.kind === 'retry' ? 'scheduled' : 'failed';
        return [{ id: r.id, status: r.status }];
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

function hookTransport(
  send: (address: string, log: string[]) => Promise<SendOutcome>,
  log: string[],
): Transport {
  return {
    name: 'hook',
    destination: (d) => new URL(d.recipient.address ?? '').host,
    send: (d) => {
      log.push(`send ${d.receiptId} key=${d.idempotencyKey} attempt=${d.attempt}`);
      return send(d.recipient.address ?? '', log);
    },
  };
}

const sent = (): Promise<SendOutcome> => Promise.resolve({ status: 'sent', httpStatus: 200, durationMs: 1 });

Deno.test('content is prepared once and stored before the send; stored content is reused', async () => {
  const db = new FakeQueue();
  db.add('a', 'hook', 'https://one.example/x');
  db.add('b', 'hook', 'https://one.example/x', { title: 'stored earlier' });
  const prepared: string[] = [];
  const prepareContent: PrepareContent = ({ occurrence }) => {
    prepared.push(occurrence.id);
    return Promise.resolve({
      content: { title: `rendered ${occurrence.id}`, token: 't0k' },
      secrets: ['t0k'],
    });
  };
  const run = startWorkerRun(
    {
      db,
      registry,
      transports: { hook: hookTransport(sent, db.log) },
      prepareContent,
      fetch: noFetch,
      log: () => {},
    },
    { workerName: 'w:test:1' },
  );
  const summary = await run.done;
  assert.equal(summary.sent, 2);
  assert.deepEqual(prepared, ['occ-a'], 'b had content already');
  assert.ok(db.log.indexOf('set_content a') < db.log.indexOf('send a key=dispatch-a attempt=1'));
  assert.ok(!db.log.includes('set_content b'));
  assert.deepEqual(
    db.receipts.map((r) => r.status),
    ['sent', 'sent'],
  );
});

Deno.test('a slow destination does not stall the others', async () => {
  const db = new FakeQueue();
  for (let i = 0; i < 12; i++) db.add(`slow${i}`, 'hook', 'https://slow.example/x');
  for (let i = 0; i < 12; i++) db.add(`fast${i}`, 'hook', 'https://fast.example/x');
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let fastDone = 0;
  const send = async (address: string): Promise<SendOutcome> => {
    if (address.includes('slow')) await gate;
    else if (++fastDone === 12) open(); // the slow endpoint answers only once every fast one was sent
    return { status: 'sent', httpStatus: 200, durationMs: 1 };
  };
  const prepareContent: PrepareContent = () => Promise.resolve({ content: { title: 't' }, secrets: [] });
  const run = startWorkerRun(
    {
      db,
      registry,
      transports: { hook: hookTransport(send, db.log) },
      prepareContent,
      fetch: noFetch,
      log: () => {},
    },
    // fewer in-flight slots than slow receipts: they must not hold the fast ones back
    { workerName: 'w:test:2', maxInFlight: 4, maxWaiting: 20, concurrencyPerDestination: 2, pollMs: 5 },
  );
  const summary = await run.done;
  assert.equal(summary.sent, 24);
  assert.equal(fastDone, 12);
});

Deno.test('a ContentError fails the receipt without sending; an unknown transport fails it too', async () => {
  const db = new FakeQueue();
  db.add('bad', 'hook', 'https://one.example/x');
  db.add('odd', 'pigeon', 'coop-7');
  const prepareContent: PrepareContent = () =>
    Promise.reject(new ContentError('generateSendVariables: no token'));
  const summary = await startWorkerRun(
    {
      db,
      registry,
      transports: { hook: hookTransport(sent, db.log) },
      prepareContent,
      fetch: noFetch,
      log: () => {},
    },
    { workerName: 'w:test:3' },
  ).done;
  assert.equal(summary.failed, 2);
  assert.ok(db.log.includes('fail bad generateSendVariables: no token'));
  assert.ok(db.log.includes('fail odd no transport named pigeon in this dispatch-worker'));
  assert.ok(!db.log.some((line) => line.startsWith('send')));
});

Deno.test('a retry is scheduled by the transport; a lost lease drops the result', async () => {
  const db = new FakeQueue();
  db.add('flaky', 'hook', 'https://one.example/x');
  db.add('lost', 'hook', 'https://two.example/x');
  db.staleOnRecord.add('lost');
  const send = (address: string): Promise<SendOutcome> =>
    Promise.resolve(
      address.includes('one')
        ? { status: 'retry', error: 'HTTP 503', httpStatus: 503, durationMs: 2 }
        : { status: 'sent', httpStatus: 200, durationMs: 2 },
    );
  const prepareContent: PrepareContent = () => Promise.resolve({ content: { title: 't' }, secrets: [] });
  const logged: string[] = [];
  const summary = await startWorkerRun(
    {
      db,
      registry,
      transports: { hook: hookTransport(send, db.log) },
      prepareContent,
      fetch: noFetch,
      log: (m) => logged.push(m),
    },
    { workerName: 'w:test:4' },
  ).done;
  assert.equal(summary.retried, 1);
  assert.equal(summary.lost, 1);
  assert.ok(db.log.includes('retry flaky HTTP 503'));
  assert.equal(db.byId('lost').status, 'sending', 'left to the lease holder');
  assert.ok(logged.some((m) => /lease lost/.test(m)));
});

Deno.test('a send with no outcome within the deadline is a retry (timeout)', async () => {
  const db = new FakeQueue();
  db.add('hung', 'hook', 'https://one.example/x');
  const prepareContent: PrepareContent = () => Promise.resolve({ content: { title: 't' }, secrets: [] });
  let release!: () => void;
  const never = new Promise<SendOutcome>((resolve) => {
    release = () => resolve({ status: 'sent', durationMs: 0 });
  });
  const summary = await startWorkerRun(
    {
      db,
      registry,
      transports: { hook: hookTransport(() => never, db.log) },
      prepareContent,
      fetch: noFetch,
      log: () => {},
    },
    { workerName: 'w:test:5', sendTimeoutMs: 50, budgetMs: 5000 },
  ).done;
  release();
  assert.equal(summary.retried, 1);
  assert.ok(
    db.log.some((line) => /^retry hung timeout: no outcome within 1050 ms$/.test(line)),
    db.log.join('\n'),
  );
});

Deno.test('a transport with sendBatch gets the deliveries of one destination together, outcomes in order', async () => {
  const db = new FakeQueue();
  for (let i = 0; i < 5; i++) db.add(`m${i}`, 'hook', 'https://mail.example/emails');
  db.add('other', 'hook', 'https://elsewhere.example/emails');
  const batches: string[][] = [];
  const transport: Transport = {
    name: 'hook',
    destination: (d) => new URL(d.recipient.address ?? '').host,
    send: () => Promise.reject(new Error('send is not used when sendBatch exists')),
    sendBatch: (deliveries) => {
      batches.push(deliveries.map((d) => d.receiptId));
      return Promise.resolve(
        deliveries.map(
          (d): SendOutcome =>
            d.receiptId === 'm3'
              ? { status: 'failed', error: 'HTTP 422 invalid to', httpStatus: 422, durationMs: 1 }
              : { status: 'sent', providerMessageId: `id-${d.receiptId}`, httpStatus: 200, durationMs: 1 },
        ),
      );
    },
  };
  const prepareContent: PrepareContent = () => Promise.resolve({ content: { subject: 's' }, secrets: [] });
  const summary = await startWorkerRun(
    { db, registry, transports: { hook: transport }, prepareContent, fetch: noFetch, log: () => {} },
    { workerName: 'w:test:6' },
  ).done;
  assert.deepEqual(
    batches.map((b) => b.sort()),
    [['m0', 'm1', 'm2', 'm3', 'm4'], ['other']],
  );
  assert.equal(summary.sent, 5);
  assert.equal(summary.failed, 1);
  assert.ok(db.log.includes('fail m3 HTTP 422 invalid to'));
});

Deno.test('a batch that answers the wrong number of outcomes is a retry for each of its deliveries', async () => {
  const db = new FakeQueue();
  db.add('x1', 'hook', 'https://mail.example/emails');
  db.add('x2', 'hook', 'https://mail.example/emails');
  const transport: Transport = {
    name: 'hook',
    destination: () => 'mail',
    send: () => Promise.reject(new Error('unused')),
    sendBatch: () => Promise.resolve([{ status: 'sent', durationMs: 1 }]),
  };
  const prepareContent: PrepareContent = () => Promise.resolve({ content: { subject: 's' }, secrets: [] });
  const summary = await startWorkerRun(
    { db, registry, transports: { hook: transport }, prepareContent, fetch: noFetch, log: () => {} },
    { workerName: 'w:test:7' },
  ).done;
  assert.equal(summary.retried, 2);
  assert.ok(
    db.log.some((l) => /^retry x1 batch: sendBatch answered 1 outcomes for 2 deliveries$/.test(l)),
    db.log.join('\n'),
  );
});

Deno.test('near the end of its budget the run stops claiming and reschedules what it can no longer send', async () => {
  const db = new FakeQueue();
  for (const id of ['b1', 'b2', 'b3']) db.add(id, 'hook', 'https://one.example/x');
  let clock = 0;
  const send = (): Promise<SendOutcome> => {
    clock += 100; // each send takes 100 ms of the run's clock
    return Promise.resolve({ status: 'sent', httpStatus: 200, durationMs: 100 });
  };
  const prepareContent: PrepareContent = () => Promise.resolve({ content: { title: 't' }, secrets: [] });
  const summary = await startWorkerRun(
    {
      db,
      registry,
      transports: { hook: hookTransport(send, db.log) },
      prepareContent,
      fetch: noFetch,
      log: () => {},
    },
    // sends may start until 150 ms (budget 300 minus the send deadline, at most half the budget)
    {
      workerName: 'w:test:8',
      budgetMs: 300,
      sendTimeoutMs: 50,
      concurrencyPerDestination: 1,
      now: () => clock,
    },
  ).done;
  assert.equal(summary.sent, 2);
  assert.equal(summary.retried, 1);
  assert.equal(summary.stoppedBy, 'budget');
  assert.ok(db.log.includes('retry b3 the worker run ended before sending'), db.log.join('\n'));
  assert.equal(db.log.at(-1), 'poke', 'it asked for another run');
});

Deno.test("a claim's content is stored in one call and its outcomes are recorded in groups", async () => {
  const db = new FakeQueue();
  for (let i = 0; i < 20; i++) db.add(`g${i}`, 'hook', 'https://one.example/x');
  const prepareContent: PrepareContent = () => Promise.resolve({ content: { title: 't' }, secrets: [] });
  const summary = await startWorkerRun(
    {
      db,
      registry,
      transports: { hook: hookTransport(sent, db.log) },
      prepareContent,
      fetch: noFetch,
      log: () => {},
    },
    // groups close by size only here (the window is longer than the test)
    { workerName: 'w:test:9', recordBatch: 10, recordFlushMs: 60_000 },
  ).done;
  assert.equal(summary.sent, 20);
  assert.deepEqual(db.calls, ['store_content', 'finish', 'finish']);
  assert.ok(db.receipts.every((r) => r.status === 'sent'));
  // every receipt's content was stored before its send
  for (const r of db.receipts)
    assert.ok(
      db.log.indexOf(`set_content ${r.id}`) < db.log.indexOf(`send ${r.id} key=dispatch-${r.id} attempt=1`),
    );
});

Deno.test('when recording fails the results are dropped (the leases expire, the receipts are tried again)', async () => {
  const db = new FakeQueue();
  db.add('d1', 'hook', 'https://one.example/x');
  db.add('d2', 'hook', 'https://one.example/x');
  const failing: WorkerDb = {
    query: <T>(sql: string, params?: unknown[]) =>
      sql.includes('dispatch_worker_finish')
        ? Promise.reject(new Error('connection terminated'))
        : db.query<T>(sql, params),
  };
  const prepareContent: PrepareContent = () => Promise.resolve({ content: { title: 't' }, secrets: [] });
  const logged: string[] = [];
  const summary = await startWorkerRun(
    {
      db: failing,
      registry,
      transports: { hook: hookTransport(sent, db.log) },
      prepareContent,
      fetch: noFetch,
      log: (m) => logged.push(m),
    },
    { workerName: 'w:test:10' },
  ).done;
  assert.equal(summary.lost, 2);
  assert.equal(summary.sent, 0);
  assert.deepEqual(
    db.receipts.map((r) => r.status),
    ['sending', 'sending'],
  );
  assert.ok(
    logged.some((m) => /recording 2 outcome\(s\) failed: connection terminated/.test(m)),
    logged.join('\n'),
  );
});

Deno.test('writes that keep coming do not starve the deliveries: the run claims between drains', async () => {
  const db = new FakeQueue();
  db.add('w1', 'hook', 'https://one.example/x');
  // every drain of the first 30 finds changes, as under a steady stream of writes
  db.drainFinds.push(...Array.from({ length: 30 }, () => 3));
  const summary = await startWorkerRun(
    {
      db,
      registry,
      transports: { hook: hookTransport(sent, db.log) },
      prepareContent: () => Promise.resolve({ content: { title: 't' }, secrets: [] }),
      fetch: noFetch,
      log: () => {},
    },
    { workerName: 'w:test:11', drainGapMs: 1 },
  ).done;
  assert.equal(summary.sent, 1);
  assert.equal(summary.drained, 90);
  const claimedAt = db.log.indexOf('claim w1 by w:test:11');
  const drainsBefore = db.log.slice(0, claimedAt).filter((l) => l.startsWith('drain')).length;
  assert.equal(
    drainsBefore,
    1,
    `claimed after the first drain, not when the writes stopped:\n${db.log.join('\n')}`,
  );
});

/** A run with no receipts whose drains find `finds` changes in turn: its summary and when each drain started. */
async function drainsOfRun(finds: number[], options: { workerName: string; drainGapMs: number }) {
  const db = new FakeQueue();
  db.drainFinds.push(...finds);
  const drainTimes: number[] = [];
  const timed: WorkerDb = {
    query: <T>(sql: string, params?: unknown[]) => {
      if (sql.includes('dispatch_worker_drain')) drainTimes.push(performance.now());
      return db.query<T>(sql, params);
    },
  };
  const summary = await startWorkerRun(
    {
      db: timed,
      registry,
      transports: {},
      prepareContent: () => Promise.reject(new Error('none')),
      fetch: noFetch,
      log: () => {},
    },
    { ...options, drainMax: 500 },
  ).done;
  return { summary, drainTimes, asked: db.drainAsked };
}

Deno.test('a drain that finds changes but not a full batch is followed by the next one drainGapMs later', async () => {
  const { summary, drainTimes } = await drainsOfRun([3, 3, 3], { workerName: 'w:test:12', drainGapMs: 40 });
  assert.equal(summary.drained, 9);
  // the three drains that found changes, and the one that found none, each at least the gap apart
  assert.ok(drainTimes.length >= 4, String(drainTimes.length));
  for (let i = 1; i < 4; i++)
    assert.ok(drainTimes[i] - drainTimes[i - 1] >= 39, `${drainTimes.map((t) => t.toFixed(0))}`);
});

Deno.test('a full drain (a backlog) is followed by the next one at once', async () => {
  // paced, the third drain would start 2 gaps (10 s) after the first
  const { summary, drainTimes } = await drainsOfRun([500, 1000, 2], {
    workerName: 'w:test:13',
    drainGapMs: 5000,
  });
  assert.equal(summary.drained, 1502);
  assert.ok(drainTimes[2] - drainTimes[0] < 5000, `${drainTimes.map((t) => t.toFixed(0))}`);
});

Deno.test('in a backlog each drain asks twice as many changes, up to drainMaxBacklog; then drainMax again', async () => {
  // a backlog of 5,500 changes, then 7 new ones, then a new backlog of 500
  const { summary, asked } = await drainsOfRun([500, 1000, 2000, 2000, 7, 500], {
    workerName: 'w:test:14',
    drainGapMs: 1,
  });
  assert.equal(summary.drained, 6007);
  // full, full, full, full (the cap), 7 of 2000 asked, then drainMax again: full, and twice that
  assert.deepEqual(asked.slice(0, 7), [500, 1000, 2000, 2000, 2000, 500, 1000]);
});
