/**
 * Fault 1, app writes from concurrent clients while things crash: the worker's Deno process is
 * SIGKILLed at random points every few seconds, a drain backend is terminated
 * (pg_terminate_backend) in the middle of a batch, and Postgres is stopped once with
 * `pg_ctl -m immediate` (a crash: recovery on restart) and started again, mid-run. Writes are
 * inserts (a few flagged: their event goes to a sink path told to answer 410 Gone), status updates
 * (the counter moves) and rolled-back transactions. 50,000 writes in the full run.
 *
 * Afterwards: every committed row fired its event exactly once and no change is left; every
 * receipt is `sent`, or `failed` with the 410 recorded where the sink was told to refuse it; the
 * sink saw every idempotency key and no key as two different messages; every counter equals
 * dispatch.reconcile_counters().
 *
 * Postgres is a cluster of this test's own (port: the stack's DB port + 18, in the helper's range),
 * so stopping it disturbs no other suite. It runs with synchronous_commit on, as hosted Supabase
 * does (the local stack turns it off for speed: an immediate stop could then lose commits the
 * clients were told about). fsync stays off: an immediate stop kills processes, not the machine,
 * so what was written to the OS survives it. The tick runs every two seconds on pg_cron's behalf.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { applyBootstrap } from '../../local/src/db/bootstrap.ts';
import {
  ensureCluster,
  localPassword,
  serverLogFile,
  startCluster,
  stopCluster,
} from '../../local/src/db/cluster.ts';
import { midRunPort, midRunSlots } from '../../local/test/support/mid-run-ports.ts';
import {
  type ChaosStack,
  fullScale,
  skipReason,
  sleep,
  startChaosStack,
  until,
} from './support/chaos-stack.ts';
import { recordFigures } from './support/figures.ts';

const WRITES = fullScale ? 50_000 : 1_500;
const CLIENTS = fullScale ? 8 : 4;
const USERS = Array.from(
  { length: 16 },
  (_, i) => `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`,
);
const dbPort = midRunPort(midRunSlots.crashStormDb);
const stateDir = `/tmp/chaos-crash-${dbPort}`;
const cluster = {
  dataDir: `${stateDir}/db`,
  runDir: `${stateDir}/run`,
  logFile: serverLogFile(`${stateDir}/run`),
  port: dbPort,
  log: () => {},
};
const clusterAdminUrl = `postgresql://supabase_admin:${localPassword}@127.0.0.1:${dbPort}/postgres`;

const appSql = `
create table public.profiles (id uuid primary key);
insert into public.profiles (id) values ${USERS.map((u) => `('${u}')`).join(', ')};
create table public.chaos_items (
  id bigint generated always as identity primary key,
  user_id uuid not null references public.profiles (id),
  n integer not null,
  status text not null,
  flagged boolean not null default false
);
`;

describe('chaos: writes while the worker, a drain and Postgres crash', { skip: skipReason() }, () => {
  let c: ChaosStack;
  before(async () => {
    // a run cut short (e.g. by the runner's timeout) leaves its cluster running
    if (existsSync(cluster.dataDir)) stopCluster(cluster, 'immediate');
    rmSync(stateDir, { recursive: true, force: true });
    ensureCluster(cluster);
    startCluster(cluster);
    await applyBootstrap(clusterAdminUrl, () => {});
    const admin = new pg.Client({ connectionString: clusterAdminUrl });
    await admin.connect();
    await admin.query('alter system set synchronous_commit = on');
    await admin.query('select pg_reload_conf()');
    await admin.end();
    c = await startChaosStack({
      name: 'crash',
      sinkPortOffset: 1,
      adminUrl: clusterAdminUrl,
      appSql,
      config: (sink) => `{
        users: { table: 'public.profiles', id: 'id' },
        transports: { webhook: {} },
        audiences: {
          owner: { column: 'user_id' },
          hooks: { system: [{ webhook: '${sink}/hooks' }] },
          refusing: { system: [{ webhook: '${sink}/gone' }] },
        },
        events: {
          'item.created': { table: 'chaos_items', on: 'insert', channels: [{ transport: 'webhook', audience: 'hooks' }],
                            content: { payload: { id: '{{id}}', n: '{{n}}', user: '{{user_id}}' } } },
          'item.flagged': { table: 'chaos_items', on: 'insert', when: sql\`new.flagged\`,
                            channels: [{ transport: 'webhook', audience: 'refusing' }], content: { payload: { id: '{{id}}' } } },
        },
        counters: {
          chaos_open: { table: 'chaos_items', where: { status: 'open' }, scope: { user: 'user_id' } },
        },
      }`,
      // a killed worker's receipts come back after 10 s (the default lease is the run's budget + 30 s)
      serveOptions: 'leaseSeconds: 10,',
      webhookRetrySchedule: [0, 1, 2, 4, 8, 16, 32, 64],
      sinkRequests: Math.ceil(WRITES * 1.5) + 1000,
    });
    await c.behave('/gone', 'gone');
  });
  after(async () => {
    await c?.stop();
    try {
      stopCluster(cluster);
    } catch {}
    rmSync(stateDir, { recursive: true, force: true });
  });

  test('exactly once, nothing lost, counters reconcile', async () => {
    const started = Date.now();
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const figures = {
      writes: 0,
      inserts: 0,
      updates: 0,
      rolledBack: 0,
      writeErrors: 0,
      reconnects: 0,
      kills: 0,
      drainsTerminated: 0,
      postgresRestarts: 0,
      ticks: 0,
    };
    let issued = 0;
    let writing = true;

    async function connect(): Promise<pg.Client> {
      for (let i = 0; i < 240; i++) {
        const client = new pg.Client({ connectionString: c.dbUrl });
        client.on('error', () => {});
        try {
          await client.connect();
          return client;
        } catch {
          await client.end().catch(() => {});
          await sleep(250);
        }
      }
      throw new Error('could not reconnect to Postgres');
    }

    async function writer(): Promise<void> {
      let client = await connect();
      try {
        while (issued < WRITES) {
          issued++;
          if (issued % Math.ceil(WRITES / 10) === 0)
            process.stdout.write(
              `[chaos] crash-storm: ${issued}/${WRITES} writes issued, ${JSON.stringify(figures)}\n`,
            );
          const r = random();
          const user = USERS[Math.floor(random() * USERS.length)];
          try {
            if (r < 0.8) {
              await client.query(
                'insert into public.chaos_items (user_id, n, status, flagged) values ($1, $2, $3, $4)',
                [user, issued, random() < 0.5 ? 'open' : 'closed', random() < 0.03],
              );
              figures.inserts++;
            } else if (r < 0.95) {
              await client.query(
                `update public.chaos_items set status = case status when 'open' then 'closed' else 'open' end
                 where id = (select max(id) - floor(random() * 50)::bigint from public.chaos_items)`,
              );
              figures.updates++;
            } else {
              await client.query('begin');
              await client.query(
                "insert into public.chaos_items (user_id, n, status) values ($1, $2, 'open')",
                [user, issued],
              );
              await client.query('rollback');
              figures.rolledBack++;
            }
            figures.writes++;
          } catch {
            // the crash: the write's outcome is whatever Postgres recovered (the table tells)
            figures.writeErrors++;
            await client.end().catch(() => {});
            client = await connect();
            figures.reconnects++;
          }
        }
      } finally {
        await client.end().catch(() => {});
      }
    }

    const killer = (async () => {
      for (let i = 0; i < 100_000 && writing; i++) {
        await sleep(2000 + Math.floor(random() * 3000));
        if (writing && c.killWorker()) figures.kills++;
      }
      // A short run can end its writes before the first kill: then the worker is killed once while
      // it works off the backlog (poked by the tick, as pg_cron would), so every run has a kill.
      for (let i = 0; i < 40 && figures.kills === 0; i++) {
        await c.tick();
        await sleep(250);
        if (c.killWorker()) figures.kills++;
      }
    })();
    const ticker = (async () => {
      for (let i = 0; i < 100_000 && writing; i++) {
        if (await c.tick()) figures.ticks++;
        await sleep(2000);
      }
    })();
    const faults = (async () => {
      // a drain backend terminated mid-batch, once past 30 % of the writes
      while (writing && issued < WRITES * 0.3) await sleep(100);
      const watcher = new pg.Client({ connectionString: c.adminDbUrl });
      await watcher.connect();
      try {
        // not bounded by the writes: the worker keeps draining while it delivers the backlog
        for (let i = 0; i < 6000 && figures.drainsTerminated === 0; i++) {
          const { rows } = await watcher.query(
            `select pg_terminate_backend(pid) as done from pg_stat_activity
             where state = 'active' and query like '%dispatch_worker_drain%' and pid <> pg_backend_pid()`,
          );
          figures.drainsTerminated += rows.filter((r) => r.done).length;
          if (figures.drainsTerminated === 0) await sleep(10);
        }
      } finally {
        await watcher.end();
      }
      // Postgres crashes once past 60 % of the writes, and comes back
      while (writing && issued < WRITES * 0.6) await sleep(100);
      stopCluster(cluster, 'immediate');
      await sleep(1000);
      startCluster(cluster);
      figures.postgresRestarts++;
    })();

    try {
      await Promise.all(Array.from({ length: CLIENTS }, writer));
      await faults;
    } finally {
      writing = false;
      await Promise.all([killer, ticker]);
    }
    const writtenMs = Date.now() - started;

    // settle: the tick on pg_cron's behalf until nothing is left to do
    const settled = async () => {
      const { rows } = await c.admin.query(
        `select (select count(*)::int from dispatch.changes where error is null) as changes,
                (select count(*)::int from dispatch.receipts where status in ('pending', 'scheduled', 'sending')) as open`,
      );
      return rows[0].changes === 0 && rows[0].open === 0;
    };
    await until('every change and receipt settled', 2400, 500, settled, async () => {
      if (await c.tick()) figures.ticks++;
    });
    const elapsedMs = Date.now() - started;

    const q = async (sql: string) => (await c.admin.query(sql)).rows;
    const [{ failed_changes }] = await q('select count(*)::int as failed_changes from dispatch.changes');
    assert.equal(failed_changes, 0, 'no change left or failed');
    const [{ rows: committed, flagged }] = await q(
      'select count(*)::int as rows, count(*) filter (where flagged)::int as flagged from public.chaos_items',
    );
    const notOnce = await q(
      `select i.id, count(o.id)::int as fired from public.chaos_items i
       left join dispatch.occurrences o on o.event_id = 'item.created' and (o.new_record ->> 'id')::bigint = i.id
       group by i.id having count(o.id) <> 1 limit 5`,
    );
    assert.deepEqual(notOnce, [], 'every committed row fired item.created exactly once');
    const [{ orphans }] = await q(
      `select count(*)::int as orphans from dispatch.occurrences o
       where not exists (select from public.chaos_items i where i.id = (o.new_record ->> 'id')::bigint)`,
    );
    assert.equal(orphans, 0, 'no event for a write that did not commit');
    const [{ flagged_fired }] = await q(
      "select count(*)::int as flagged_fired from dispatch.occurrences where event_id = 'item.flagged'",
    );
    assert.equal(flagged_fired, flagged);

    const receipts = await q('select event_id, status, last_error, idempotency_key from dispatch.receipts');
    const wrong = receipts.filter((r) =>
      r.event_id === 'item.created'
        ? r.status !== 'sent'
        : !(r.status === 'failed' && /HTTP 410/.test(r.last_error)),
    );
    assert.deepEqual(wrong.slice(0, 5), [], 'sent, or failed with the 410 where the sink refused');
    assert.equal(receipts.length, committed + flagged);

    const bodies = new Map<string, Set<string>>();
    let requests = 0;
    for (const r of c.sink.requests()) {
      const key = r.headers['webhook-id'];
      if (!key) continue;
      requests++;
      bodies.set(key, (bodies.get(key) ?? new Set()).add(r.body));
    }
    const missing = receipts.filter((r) => !bodies.has(r.idempotency_key));
    assert.deepEqual(missing.slice(0, 5), [], 'the sink saw every idempotency key');
    const keys = new Set(receipts.map((r) => r.idempotency_key as string));
    const unknown = [...bodies.keys()].filter((k) => !keys.has(k));
    assert.deepEqual(unknown.slice(0, 5), [], 'and no key of a receipt that does not exist');
    const differing = [...bodies.values()].filter((b) => b.size > 1).length;
    assert.equal(
      differing,
      0,
      `no key arrived as two different messages: ${JSON.stringify([...bodies.values()].find((b) => b.size > 1) ? [...[...bodies.values()].find((b) => b.size > 1)!] : [])}`,
    );

    const mismatches = await q(
      'select name, scope, expected, actual from dispatch.reconcile_counters(null, false) where expected <> actual',
    );
    assert.deepEqual(mismatches, [], 'every counter equals reconcile_counters()');
    const [{ total_open }] = await q(
      "select coalesce(sum(value), 0)::int as total_open from dispatch.counter_state where name = 'chaos_open'",
    );
    assert.ok(figures.kills >= 1 && figures.drainsTerminated >= 1 && figures.postgresRestarts === 1);

    recordFigures('crash-storm', {
      ...figures,
      clients: CLIENTS,
      committedRows: committed,
      events: committed + flagged_fired,
      receipts: receipts.length,
      sent: receipts.filter((r) => r.status === 'sent').length,
      failedAsTold: receipts.filter((r) => r.status === 'failed').length,
      sinkRequests: requests,
      redeliveredSameMessage: requests - bodies.size,
      lost: missing.length,
      duplicates: differing,
      counterMismatches: mismatches.length,
      chaosOpen: total_open,
      writtenMs,
      elapsedMs,
    });
  });
});
