/**
 * dispatch-worker through the local stack: its own database (bootstrap + SQL core), the stack's
 * pg_net sender and Edge Functions service on it, and a webhook sink of its own. A write
 * (dispatch.emit) makes a receipt, its commit pokes the worker through pg_net (nobody calls the
 * worker by hand), the worker sends to the sink and records the outcome. The transport and content
 * preparation are the small ones of worker-fixtures/deps.ts: this suite is about the loop.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { createBootstrappedDatabase, dropDatabase } from '../../local/src/db/fresh-database.ts';
import { createNetSender } from '../../local/src/db/net-sender.ts';
import { createFunctionsService, type FunctionsService } from '../../local/src/functions/index.ts';
import { repoRoot } from '../../local/src/paths.ts';
import {
  createWebhookSink,
  type RecordedRequest,
  type WebhookSink,
} from '../../local/src/webhook-sink/index.ts';
import { startTestStack, type TestStack } from '../../local/test/support/test-stack.ts';
import { buildCore } from '../../sql/build.ts';
import { expander, registry } from './worker-fixtures/stack-schema.ts';

const here = dirname(fileURLToPath(import.meta.url));
const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;
const dbName = `sd_worker_${process.pid}_${Date.now().toString(36)}`;
const projectRoot = join(repoRoot, '.supadispatch', `test-worker-${process.pid}-${Date.now().toString(36)}`);

function entrypoint(): string {
  const lib = (path: string) => JSON.stringify(pathToFileURL(join(here, path)).href);
  return [
    `import { serve } from ${lib('../src/worker.ts')};`,
    `import { plainFetch, prepareContent, scheduleWebhook, testWebhook } from ${lib('worker-fixtures/deps.ts')};`,
    `const registry = ${JSON.stringify(registry)};`,
    'Deno.serve(serve(registry, {',
    '  transports: { webhook: testWebhook, webhook5: scheduleWebhook },',
    '  prepareContent,',
    '  fetch: plainFetch,',
    // short leases so the killed worker's receipt comes back within the test
    '  leaseSeconds: 3,',
    '  sendTimeoutMs: 2000,',
    '  budgetMs: 30000,',
    '}));',
    '',
  ].join('\n');
}

interface AttemptRow {
  attempt: number;
  outcome: string | null;
  http_status: number | null;
  error: string | null;
  worker: string;
  started_at: Date;
  finished_at: Date | null;
}

describe('dispatch-worker through the local stack', {
  skip: !adminUrl && 'needs SUPABASE_ADMIN_DB_URL (the local stack)',
}, () => {
  let stack: TestStack;
  let functions: FunctionsService;
  let sink: WebhookSink;
  let db: pg.Pool;
  let dbUrl: string;

  before(async () => {
    const urls = await createBootstrappedDatabase(adminUrl!, dbName, () => {});
    dbUrl = urls.dbUrl;
    const install = new pg.Client({ connectionString: dbUrl });
    await install.connect();
    try {
      await install.query('begin');
      await install.query(buildCore());
      await install.query('commit');
      await install.query(expander);
    } finally {
      await install.end();
    }
    mkdirSync(join(projectRoot, 'supabase', 'functions', 'dispatch-worker'), { recursive: true });
    // As `supadispatch init` leaves it: pg_net pokes the worker without a JWT.
    writeFileSync(
      join(projectRoot, 'supabase', 'config.toml'),
      'project_id = "worker-test"\n\n[functions.dispatch-worker]\nverify_jwt = false\n',
    );
    writeFileSync(join(projectRoot, 'supabase', 'functions', 'dispatch-worker', 'index.ts'), entrypoint());

    const saved = { admin: process.env.SUPABASE_ADMIN_DB_URL, db: process.env.SUPABASE_DB_URL };
    process.env.SUPABASE_ADMIN_DB_URL = urls.adminDbUrl;
    process.env.SUPABASE_DB_URL = urls.dbUrl;
    functions = createFunctionsService({
      denoDir: join(repoRoot, '.supadispatch', 'test-deno-dir'),
      envFile: null,
      watch: false,
    });
    try {
      stack = await startTestStack({ projectRoot, services: [createNetSender(), functions] });
    } finally {
      process.env.SUPABASE_ADMIN_DB_URL = saved.admin;
      process.env.SUPABASE_DB_URL = saved.db;
    }
    sink = createWebhookSink({ maxRequests: 50_000 }); // the stream test counts thousands
    await sink.start({ ...stack.ctx, ports: { ...stack.ctx.ports, webhookSink: 0 } });
    // the functions' environment is made when the worker's process boots (first poke): after this
    stack.ctx.urls.webhookSink = sink.url;
    db = new pg.Pool({ connectionString: dbUrl, max: 4 });
    // boot the worker's process (as doctor's probe does), so the first poke does not wait for it
    const probe = await fetch(`${stack.ctx.urls.functions}/dispatch-worker`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-dispatch-secret': stack.keys.workerSecret ?? '' },
      body: '{"probe":true}',
    });
    assert.equal(probe.status, 200, await probe.text());
  });

  after(async () => {
    await stack?.stop();
    await sink?.stop();
    await db?.end();
    if (adminUrl) await dropDatabase(adminUrl, dbName).catch(() => {});
    rmSync(projectRoot, { recursive: true, force: true });
  });

  async function behave(path: string, mode: string, extra: Record<string, unknown> = {}): Promise<void> {
    const res = await fetch(`${sink.url}/api/behaviours`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path, mode, ...extra }),
    });
    assert.equal(res.status, 201, await res.text());
  }

  async function received(path: string): Promise<RecordedRequest[]> {
    const res = await fetch(`${sink.url}/api/requests?path=${encodeURIComponent(path)}`);
    return (await res.json()) as RecordedRequest[];
  }

  /** A write: one occurrence of sdw.ping whose receipt goes to the sink's `path`. Its commit pokes the worker. */
  async function emit(path: string, n: number): Promise<string> {
    const emitted = await db.query(
      `select dispatch.emit('sdw.ping', jsonb_build_object('url', $1::text, 'n', $2::integer)) as id`,
      [`${sink.url}${path}`, n],
    );
    const { rows } = await db.query('select id from dispatch.receipts where occurrence_id = $1', [
      emitted.rows[0].id,
    ]);
    assert.equal(rows.length, 1);
    return rows[0].id as string;
  }

  async function receipt(id: string): Promise<Record<string, unknown>> {
    const { rows } = await db.query(
      'select status, attempt_count, last_error, content, idempotency_key from dispatch.receipts where id = $1',
      [id],
    );
    return rows[0];
  }

  async function attempts(id: string): Promise<AttemptRow[]> {
    const { rows } = await db.query(
      `select attempt, outcome, http_status, error, worker, started_at, finished_at
       from dispatch.attempts where receipt_id = $1 order by attempt`,
      [id],
    );
    return rows as AttemptRow[];
  }

  /**
   * Until the receipt reaches one of `statuses` (bounded). With `tick`, dispatch.tick() runs on each
   * round as pg_cron would (reclaims leases, pokes the worker when receipts are due).
   */
  async function settle(
    id: string,
    statuses: string[],
    options: { tick?: boolean } = {},
  ): Promise<Record<string, unknown>> {
    for (let round = 0; round < 300; round++) {
      const row = await receipt(id);
      if (statuses.includes(row.status as string)) return row;
      if (options.tick) await db.query('select dispatch.tick()');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.fail(`receipt ${id} never reached ${statuses.join('/')}: ${JSON.stringify(await receipt(id))}`);
  }

  test('a write is delivered: receipt → pg_net poke → worker → sink, outcome recorded', async () => {
    const id = await emit('/delivered', 1);
    const row = await settle(id, ['sent', 'failed'], { tick: false });
    assert.equal(row.status, 'sent', String(row.last_error));
    assert.deepEqual(row.content, { payload: { n: '1', label: 'ping 1' } }, 'content stored once, rendered');
    const requests = await received('/delivered');
    assert.equal(requests.length, 1);
    assert.equal(requests[0].headers['webhook-id'], row.idempotency_key);
    assert.equal(row.idempotency_key, `dispatch-${id}`);
    assert.deepEqual(requests[0].json, { type: 'sdw.ping', data: { n: '1', label: 'ping 1' } });
    const tried = await attempts(id);
    assert.equal(tried.length, 1);
    assert.equal(tried[0].outcome, 'sent');
    assert.equal(tried[0].http_status, 200);
    assert.match(tried[0].worker, /^dispatch-worker:[0-9a-f]{8}:\d+$/);
    const { rows: pokes } = await db.query(
      'select count(*)::int as n from net._http_response where status_code = 202',
    );
    assert.ok(pokes[0].n >= 1, 'pg_net called the worker and got 202');
  });

  test('an app write is captured, drained by the poked worker, and its receipt delivered', async () => {
    const url = `${sink.url}/app-write`;
    await db.query('insert into public.sdw_hooks (url, num) values ($1, 42)', [url]);
    let id: string | undefined;
    for (let round = 0; round < 300 && !id; round++) {
      const { rows } = await db.query(
        `select r.id from dispatch.receipts r join dispatch.occurrences o on o.id = r.occurrence_id
         where o.new_record ->> 'url' = $1`,
        [url],
      );
      id = rows[0]?.id;
      if (!id) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const changes = await db.query('select id, source_table, error from dispatch.changes');
    assert.ok(
      id,
      `the worker drained the change and the event made a receipt: ${JSON.stringify(changes.rows)}`,
    );
    const row = await settle(id, ['sent', 'failed']);
    assert.equal(row.status, 'sent', String(row.last_error));
    const requests = await received('/app-write');
    assert.equal(requests.length, 1);
    assert.deepEqual(requests[0].json, { type: 'sdw.ping', data: { n: '42', label: 'ping 42' } });
    const { rows: left } = await db.query('select count(*)::int as n from dispatch.changes');
    assert.equal(left[0].n, 0, 'no captured change left');
  });

  test('writes that keep coming: deliveries go on while they come, each write delivered once', async () => {
    // Two connections write back to back for 2 s and the table's processor takes 10 ms a batch, so
    // every drain finds changes. The worker used to drain back to back while drains found changes
    // and claim nothing until they did not (session 9).
    const url = `${sink.url}/stream`;
    const writers = await Promise.all([db.connect(), db.connect()]);
    const until = Date.now() + 2000;
    let written = 0;
    let deliveredWhileWriting = 0;
    const write = async (c: pg.PoolClient) => {
      for (let i = 0; i < 20_000 && Date.now() < until; i++) {
        await c.query('insert into public.sdw_stream (url, num) values ($1, $2)', [url, i]);
        written++;
      }
    };
    const watch = (async () => {
      while (Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        if (Date.now() < until) deliveredWhileWriting = (await received('/stream')).length;
      }
    })();
    try {
      await Promise.all([...writers.map(write), watch]);
    } finally {
      for (const c of writers) c.release();
    }
    assert.ok(deliveredWhileWriting > 0, `nothing was delivered during 2 s of writes (${written} written)`);
    let sent = 0;
    for (let round = 0; round < 600 && sent < written; round++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const { rows } = await db.query(
        `select count(*)::int as n from dispatch.receipts r join dispatch.occurrences o on o.id = r.occurrence_id
         where o.new_record ->> 'url' = $1 and r.status = 'sent'`,
        [url],
      );
      sent = rows[0].n;
    }
    assert.equal(sent, written, 'every write made a receipt that was sent');
    const requests = await received('/stream');
    assert.equal(requests.length, written, 'the sink got each write once');
    assert.equal(new Set(requests.map((r) => r.headers['webhook-id'])).size, written);
  });

  test('the sink failing once: the receipt is retried and sent, both attempts kept', async () => {
    await behave('/flaky', 'fail', { count: 1, status: 503 });
    const id = await emit('/flaky', 2);
    const row = await settle(id, ['sent', 'failed'], { tick: true });
    assert.equal(row.status, 'sent', String(row.last_error));
    const tried = await attempts(id);
    assert.deepEqual(
      tried.map((a) => [a.outcome, a.http_status]),
      [
        ['retry', 503],
        ['sent', 200],
      ],
    );
    const requests = await received('/flaky');
    assert.equal(requests.length, 2);
    assert.equal(
      requests[0].headers['webhook-id'],
      requests[1].headers['webhook-id'],
      'same idempotency key',
    );
  });

  test('429 with Retry-After: the next attempt waits at least that long', async () => {
    await behave('/limited', 'rate_limit', { count: 1, retryAfter: 2 });
    const id = await emit('/limited', 3);
    const row = await settle(id, ['sent', 'failed'], { tick: true });
    assert.equal(row.status, 'sent', String(row.last_error));
    const tried = await attempts(id);
    assert.deepEqual(
      tried.map((a) => [a.outcome, a.http_status]),
      [
        ['retry', 429],
        ['sent', 200],
      ],
    );
    // the schedule (0.2 s here) is shorter: Retry-After (2 s) decided when the second attempt began
    const waited = tried[1].started_at.getTime() - (tried[0].finished_at as Date).getTime();
    assert.ok(waited >= 1900, `second attempt ${waited} ms after the first (Retry-After: 2)`);
  });

  test('410 Gone: failed at once, one attempt, no retry', async () => {
    await behave('/gone', 'gone');
    const id = await emit('/gone', 4);
    const row = await settle(id, ['sent', 'failed'], { tick: true });
    assert.equal(row.status, 'failed');
    assert.match(String(row.last_error), /HTTP 410/);
    const tried = await attempts(id);
    assert.deepEqual(
      tried.map((a) => [a.outcome, a.http_status]),
      [['failed', 410]],
    );
    assert.equal((await received('/gone')).length, 1);
  });

  test('failing on every attempt: failed after the last attempt of the schedule, every attempt kept', async () => {
    await behave('/down', 'fail', { count: 10, status: 500 });
    const id = await emit('/down', 5);
    const row = await settle(id, ['sent', 'failed'], { tick: true });
    assert.equal(row.status, 'failed');
    assert.match(String(row.last_error), /attempt 3 was the last/);
    const tried = await attempts(id);
    assert.deepEqual(
      tried.map((a) => [a.attempt, a.outcome, a.http_status]),
      [
        [1, 'retry', 500],
        [2, 'retry', 500],
        [3, 'failed', 500],
      ],
    );
    await fetch(`${sink.url}/api/behaviours?path=/down`, { method: 'DELETE' });
  });

  test('a lingering run picks up a new write without a new poke', async () => {
    // writers that saw a poke in the last poke_interval_ms do not poke again: they rely on the
    // poked run, which keeps polling while the database says so (lingerMs)
    await db.query(`select dispatch.set_setting('poke_interval_ms', '20000'::jsonb)`);
    await db.query(`update dispatch.worker_wake set next_poke_at = now() - interval '1 second'`);
    try {
      const first = await emit('/linger', 6);
      assert.equal((await settle(first, ['sent', 'failed'])).status, 'sent');
      const { rows: before } = await db.query('select poked_at from dispatch.worker_wake');
      const second = await emit('/linger', 7);
      assert.equal((await settle(second, ['sent', 'failed'])).status, 'sent');
      const { rows: afterwards } = await db.query('select poked_at from dispatch.worker_wake');
      assert.deepEqual(afterwards[0].poked_at, before[0].poked_at, 'the second write did not poke');
      const [a] = await attempts(first);
      const [b] = await attempts(second);
      assert.equal(b.worker, a.worker, 'the run that delivered the first write delivered the second');
    } finally {
      await db.query(`select dispatch.set_setting('poke_interval_ms', '200'::jsonb)`);
      // the lingering run sees its linger end on its next poll
      await db.query('update dispatch.worker_wake set next_poke_at = now()');
    }
  });

  /** An occurrence of `event` for `record` (its expander makes one receipt), as dispatch.emit does. */
  async function emitEvent(event: string, record: Record<string, unknown>): Promise<string> {
    const emitted = await db.query('select dispatch.emit($1::text, $2::jsonb) as id', [
      event,
      JSON.stringify(record),
    ]);
    const { rows } = await db.query('select id from dispatch.receipts where occurrence_id = $1', [
      emitted.rows[0].id,
    ]);
    assert.equal(rows.length, 1);
    return rows[0].id as string;
  }

  /** The worker called as pg_net calls it (with `{"wait":true}`: answered with the run's summary). */
  async function callWorker(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const res = await fetch(`${stack.ctx.urls.functions}/dispatch-worker`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-dispatch-secret': stack.keys.workerSecret ?? '' },
      body: JSON.stringify(body),
    });
    const answer = (await res.json()) as Record<string, unknown>;
    assert.ok(res.status === 200 || res.status === 202, JSON.stringify(answer));
    return answer;
  }

  async function alarm(): Promise<{ owner: string | null; handovers: number }> {
    const { rows } = await db.query('select owner, handovers::int as handovers from dispatch.worker_alarm');
    return rows[0];
  }

  /** Until no run holds the alarm (the runs of earlier tests ended), bounded. */
  async function alarmFree(): Promise<void> {
    for (let round = 0; round < 600 && (await alarm()).owner !== null; round++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await alarm()).owner, null, 'no run holds the alarm');
  }

  test('a 5xx retried on the schedule 5 s later: the run waits for it (no tick, no second poke)', async () => {
    await alarmFree();
    await behave('/retry5', 'fail', { count: 1, status: 503 });
    const before = await alarm();
    const id = await emitEvent('sdw.retry5', { url: `${sink.url}/retry5`, n: 11 });
    // the first attempt, by the run the write's commit poked through pg_net
    for (let round = 0; round < 300 && (await attempts(id)).length === 0; round++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const { rows: pokedBefore } = await db.query('select poked_at from dispatch.worker_wake');
    // no dispatch.tick() here: nothing but the worker itself may bring the second attempt
    const row = await settle(id, ['sent', 'failed']);
    assert.equal(row.status, 'sent', String(row.last_error));
    const tried = await attempts(id);
    assert.deepEqual(
      tried.map((a) => [a.outcome, a.http_status]),
      [
        ['retry', 503],
        ['sent', 200],
      ],
    );
    const waited = tried[1].started_at.getTime() - (tried[0].finished_at as Date).getTime();
    assert.ok(waited >= 4900, `the schedule's 5 s were kept: second attempt ${waited} ms after the first`);
    assert.equal(tried[1].worker, tried[0].worker, 'the run that sent the first attempt sent the second');
    const { rows: pokedAfter } = await db.query('select poked_at from dispatch.worker_wake');
    assert.deepEqual(pokedAfter[0].poked_at, pokedBefore[0].poked_at, 'no second poke');
    assert.equal((await alarm()).handovers, before.handovers, 'no hand-over: it fit in the run');
  });

  test('a receipt delayed 3 s is sent when due by the run that made it, with no tick', async () => {
    await alarmFree();
    const id = await emitEvent('sdw.later', { url: `${sink.url}/later3`, n: 12, delay: 3 });
    const { rows: due } = await db.query('select next_attempt_at from dispatch.receipts where id = $1', [id]);
    // not due yet, so nothing poked: start a run as the write's pg_net poke would
    await callWorker({ reason: 'changes' });
    const row = await settle(id, ['sent', 'failed']);
    assert.equal(row.status, 'sent', String(row.last_error));
    const [attempt] = await attempts(id);
    assert.ok(attempt.started_at >= due[0].next_attempt_at, 'not before it was due');
    assert.equal((await received('/later3')).length, 1);
  });

  test('nothing due soon: the run ends without waiting or handing over', async () => {
    await alarmFree();
    const before = await alarm();
    const id = await emitEvent('sdw.later', { url: `${sink.url}/later600`, n: 13, delay: 600 });
    const summary = await callWorker({ wait: true });
    assert.equal(summary.waits, 0);
    assert.equal(summary.handedOver, false);
    assert.equal(summary.pokedAgain, false);
    assert.deepEqual(await alarm(), { owner: null, handovers: before.handovers });
    assert.equal((await receipt(id)).status, 'pending');
    await db.query(`select dispatch.cancel_receipt($1::uuid)`, [id]).catch(() => {});
  });

  test('two runs ending together with a receipt due after their budget: one waits and hands over once', async () => {
    await alarmFree();
    const before = await alarm();
    // due after a run's claim window (30 s budget - 4 s), within worker_wake_within_ms (60 s)
    const id = await emitEvent('sdw.later', { url: `${sink.url}/later35`, n: 14, delay: 35 });
    const runs = await Promise.all([callWorker({ wait: true }), callWorker({ wait: true })]);
    assert.deepEqual(
      runs.map((r) => [r.waits, r.handedOver]).sort(),
      [
        [0, false],
        [1, true],
      ],
      'exactly one run waited (to the end of its budget) and handed over; the other ended',
    );
    assert.equal((await alarm()).handovers, before.handovers + 1, 'one hand-over');
    const row = await settle(id, ['sent', 'failed']);
    assert.equal(row.status, 'sent', String(row.last_error));
    const [attempt] = await attempts(id);
    assert.ok(!runs.some((r) => r.workerName === attempt.worker), 'the run it handed over to sent it');
    assert.equal((await received('/later35')).length, 1);
  });

  test('a worker killed mid-batch: the lease expires, another run finishes, no second distinct message', async () => {
    await behave('/killed', 'hang', { count: 1, delayMs: 60_000 });
    const ok = [await emit('/batch-ok', 8), await emit('/batch-ok', 9)];
    const id = await emit('/killed', 10);
    // the worker has sent it and waits for the answer: kill its process now
    const res = await fetch(`${sink.url}/api/requests?path=/killed&wait=20000`);
    assert.equal(((await res.json()) as unknown[]).length, 1);
    const proc = functions.processes().find((p) => p.name === 'dispatch-worker');
    assert.ok(proc?.pid, 'the worker process runs');
    process.kill(proc.pid, 'SIGKILL');
    // pg_cron's tick: reclaims the lease once it expired, and pokes a new worker
    const row = await settle(id, ['sent', 'failed'], { tick: true });
    assert.equal(row.status, 'sent', String(row.last_error));
    for (const other of ok)
      assert.equal((await settle(other, ['sent', 'failed'], { tick: true })).status, 'sent');
    const tried = await attempts(id);
    assert.deepEqual(
      tried.map((a) => a.outcome),
      ['expired', 'sent'],
    );
    assert.notEqual(tried[0].worker, tried[1].worker);
    const requests = await received('/killed');
    assert.ok(requests.length >= 2);
    const keys = new Set(requests.map((r) => r.headers['webhook-id']));
    const bodies = new Set(requests.map((r) => r.body));
    assert.deepEqual([...keys], [`dispatch-${id}`], 'one idempotency key');
    assert.equal(bodies.size, 1, 'the repeat is the same message, which the receiver recognises by its key');
  });
});
