import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  audienceColumnsCheck,
  doctorCommand,
  formatChecks,
  probeWorker,
  REALTIME_POLICIES,
  runChecks,
} from '../src/cli/doctor/index.ts';
import { loadCore } from '../src/generator/sql/core.ts';
import { validateConfig } from '../src/index.ts';
import shop from './fixtures/shop.config.ts';
import { captureIo, makeProject } from './support/project.ts';

const config = validateConfig(shop);

/** A LIKE pattern (backslash escapes) as a RegExp that matches what PostgreSQL's LIKE matches. */
function likeRegExp(pattern: string): RegExp {
  const quote = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') source += quote(pattern[++i] ?? '');
    else source += c === '%' ? '.*' : c === '_' ? '.' : quote(c);
  }
  return new RegExp(`^${source}$`, 's');
}

/** A fake database: answers each doctor query from a state object. */
function fakeDb(state: {
  version?: string | null;
  triggers?: { name: string; tbl: string }[];
  /** dispatch.sources rows (exists: the processor function is there). */
  sources?: { source_table: string; processor: string; exists: boolean }[];
  /** Captured changes: failed processing / waiting > 5 min. */
  changesFailed?: number;
  changesWaiting?: number;
  /** Captured changes not processed yet (any age). */
  changesPending?: number;
  exts?: string[];
  cron?: number;
  /** Vault secrets by name (values as vault.decrypted_secrets returns them). */
  secrets?: Record<string, string>;
  /** Reading vault.decrypted_secrets fails with this message. */
  vaultError?: string;
  policies?: string[];
  /** realtime.messages: postgres may INSERT; today's partition exists. */
  realtimeInsert?: boolean;
  todayPartition?: boolean;
  overdue?: number;
  failed?: number;
  failedOcc?: number;
  drift?: Record<string, unknown>[];
  /** Counts from the WAL: tables live / waiting, the slot's status and retained bytes. */
  walCounts?: Record<string, unknown>;
  /** What has_column_privilege / RLS say about the audience filter columns, per `schema.table.column`. */
  columns?: Record<string, { can_update: boolean; can_insert: boolean; rls: boolean; policies: string[] }>;
}) {
  // the healthy shape: capture triggers on the source table, the strict event's own triggers
  const allTriggers: { name: string; tbl: string }[] = [
    ...['insert', 'update', 'delete'].map((op) => ({ name: `dispatch_capture_${op}`, tbl: 'public.orders' })),
    { name: 'dispatch_ev_order_cancelled_update', tbl: 'public.orders' },
    { name: 'dispatch_ev_order_cancelled_delete', tbl: 'public.orders' },
  ];
  const s = {
    version: '0.1.0',
    triggers: allTriggers,
    sources: [
      { source_table: 'public.orders', processor: 'dispatch.src_public_orders_process', exists: true },
    ],
    changesFailed: 0,
    changesWaiting: 0,
    changesPending: 0,
    exts: ['pg_cron', 'pg_net'],
    cron: 1,
    secrets: { dispatch_worker_url: worker.url, dispatch_worker_secret: SECRET } as Record<string, string>,
    policies: ['dispatch_read', 'dispatch_read_guard', 'dispatch_read_guard_public', 'dispatch_send_guard'],
    overdue: 0,
    failed: 0,
    failedOcc: 0,
    drift: [],
    ...state,
  };
  return async (sql: string, params?: unknown[]): Promise<Record<string, unknown>[]> => {
    if (sql.includes("to_regprocedure('dispatch.version()')")) return [{ installed: s.version !== null }];
    if (sql.includes('dispatch.version() as version')) return [{ version: s.version }];
    if (sql.includes('from pg_trigger')) {
      // as PostgreSQL answers: only the triggers whose names match the LIKE patterns doctor passes
      const [patterns] = params as [string[]];
      return s.triggers.filter((t) => patterns.some((p) => likeRegExp(p).test(t.name)));
    }
    if (sql.includes("to_regclass('dispatch.wal_count_sources')")) return [{ ok: true }];
    if (sql.includes('from dispatch.wal_count_sources')) return s.walCounts ? [s.walCounts] : [];
    if (sql.includes("to_regclass('dispatch.changes')")) return [{ hasChanges: true }];
    if (sql.includes('from dispatch.sources')) return s.sources;
    if (sql.includes('from dispatch.changes where error is null')) return [{ n: s.changesPending }];
    if (sql.includes('from dispatch.changes'))
      return [
        { failed: s.changesFailed, waiting: s.changesWaiting, first_failed: s.changesFailed ? '41' : null },
      ];
    if (sql.includes('from pg_extension')) return s.exts.map((extname) => ({ extname }));
    if (sql.includes("to_regnamespace('net')")) return [{ netSchema: s.exts.includes('pg_net') }];
    if (sql.includes('from cron.job')) return [{ n: s.cron }];
    if (sql.includes("to_regclass('vault.decrypted_secrets')")) return [{ vault: true }];
    if (sql.includes('from vault.decrypted_secrets')) {
      if (state.vaultError) throw new Error(state.vaultError);
      return Object.entries(s.secrets).map(([name, value]) => ({ name, value }));
    }
    if (sql.includes('from pg_policies')) return s.policies.map((policyname) => ({ policyname }));
    if (sql.includes("has_table_privilege('postgres', 'realtime.messages', 'INSERT')"))
      return [
        {
          exists: true,
          postgresInsert: state.realtimeInsert ?? true,
          partition: 'messages_2026_12_02',
          todayPartition: state.todayPartition ?? true,
        },
      ];
    if (sql.includes('from dispatch.receipts')) return [{ failed: s.failed, overdue: s.overdue }];
    if (sql.includes('from dispatch.occurrences')) return [{ n: s.failedOcc }];
    if (sql.includes('reconcile_counters')) return s.drift;
    if (sql.includes('from pg_roles')) return [{ role: true }];
    if (sql.includes('has_column_privilege')) {
      const [schema, tbl, col] = params as string[];
      const c = state.columns?.[`${schema}.${tbl}.${col}`];
      // healthy: the column exists, authenticated may not write it
      return [c ?? { can_update: false, can_insert: false, rls: true, policies: [] }];
    }
    throw new Error(`unexpected query: ${sql}`);
  };
}

const SECRET = 'probe-secret-value-1234';

interface SeenRequest {
  method: string;
  path: string;
  secret: string | undefined;
  body: string;
}

/** A tiny stand-in for the deployed worker: answers by path (see below) and records each call. */
const worker = {
  url: '',
  base: '',
  seen: [] as SeenRequest[],
  server: http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      const path = req.url ?? '';
      worker.seen.push({
        method: req.method ?? '',
        path,
        secret: req.headers['x-dispatch-secret'] as string,
        body,
      });
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      if (path === '/functions/v1/dispatch-worker') {
        if (req.headers['x-dispatch-secret'] !== SECRET) return send(401, { error: 'bad secret' });
        return send(200, { ok: true, probe: true });
      }
      if (path === '/jwt/functions/v1/dispatch-worker')
        return send(401, { code: 401, message: 'Missing authorization header' });
      if (path === '/boom/functions/v1/dispatch-worker')
        return send(500, { error: 'worker crashed: ReferenceError' });
      if (path === '/moved') {
        res.writeHead(301, { location: '/functions/v1/dispatch-worker' });
        return res.end();
      }
      if (path === '/silent') return; // never answers (the probe's timeout ends it)
      send(404, { code: 'NOT_FOUND', message: 'Requested function was not found' });
    });
  }),
};

/** A URL on a port nothing listens on (bound, then released). */
async function closedPortUrl(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}/functions/v1/dispatch-worker`;
}

before(async () => {
  await new Promise<void>((r) => worker.server.listen(0, '127.0.0.1', r));
  worker.base = `http://127.0.0.1:${(worker.server.address() as AddressInfo).port}`;
  worker.url = `${worker.base}/functions/v1/dispatch-worker`;
});

after(async () => {
  worker.server.closeAllConnections();
  await new Promise<void>((r) => worker.server.close(() => r()));
});

describe('supadispatch doctor', () => {
  it('a healthy install passes every check (the worker answers the probe)', async () => {
    worker.seen.length = 0;
    const { text, failed } = formatChecks(await runChecks(fakeDb({}), config, '0.1.0'));
    assert.equal(failed, 0, text);
    assert.doesNotMatch(text, /✗/);
    assert.match(text, /✓ triggers match the config/);
    assert.match(text, /✓ change processors registered for the source tables — 1 source table\n/);
    assert.match(text, /✓ no captured changes stuck with an error/);
    assert.match(text, /✓ audience filters read no column users can write — 1 column checked/);
    assert.match(text, new RegExp(`✓ dispatch-worker answers — HTTP 200 from ${worker.url}\n`));
    // the probe is the core's poke with a harmless body
    assert.deepEqual(worker.seen, [
      { method: 'POST', path: '/functions/v1/dispatch-worker', secret: SECRET, body: '{"probe":true}' },
    ]);
    assert.doesNotMatch(text, new RegExp(SECRET));
  });

  it('a broken install lists each failure with its fix', async () => {
    const closed = await closedPortUrl();
    const db = fakeDb({
      version: '0.0.9',
      triggers: [
        { name: 'dispatch_ev_gone_insert', tbl: 'public.orders' },
        { name: 'dispatch_capture_insert', tbl: 'public.orders' },
        // an old per-counter trigger left behind would count twice
        { name: 'dispatch_ct_pending_orders_insert', tbl: 'public.orders' },
        // the app's own triggers are none of doctor's business, even when they look alike
        { name: 'dispatchXev_audit', tbl: 'public.orders' },
        { name: 'orders_touch_updated_at', tbl: 'public.orders' },
      ],
      sources: [
        { source_table: 'public.orders', processor: 'dispatch.src_public_orders_process', exists: false },
        { source_table: 'public.gone', processor: 'dispatch.src_public_gone_process', exists: true },
      ],
      changesFailed: 3,
      changesWaiting: 7,
      exts: ['pg_net'],
      secrets: { dispatch_worker_url: closed },
      policies: [],
      overdue: 3,
      failed: 2,
      drift: [{ name: 'pending_orders', scope: 'u1', expected: 2, actual: 3 }],
    });
    const { text, failed } = formatChecks(await runChecks(db, config, '0.1.0'));
    assert.equal(failed, 11, text);
    assert.match(text, /✗ core version 0\.1\.0 — installed 0\.0\.9\n {4}fix: run `npx supadispatch gen`/);
    assert.match(
      text,
      /✗ triggers match the config — missing: dispatch_capture_delete on public\.orders, dispatch_capture_update on public\.orders, dispatch_ev_order_cancelled_delete on public\.orders, dispatch_ev_order_cancelled_update on public\.orders; not in config: dispatch_ct_pending_orders_insert on public\.orders, dispatch_ev_gone_insert on public\.orders\n/,
    );
    assert.match(
      text,
      /✗ change processors registered for the source tables — public\.orders → dispatch\.src_public_orders_process\(dispatch\.changes\[\]\) does not exist; public\.gone not in config\n {4}fix: run `npx supadispatch gen` then `supabase db push`/,
    );
    assert.match(
      text,
      /✗ no captured changes waiting \(> 5 min unprocessed\) — 7 waiting\n {4}fix: .*select dispatch\.drain\(\);/,
    );
    assert.match(
      text,
      /✗ no captured changes stuck with an error — 3 changes failed processing \(their events did not fire and their counters did not move\), first #41\n {4}fix: inspect: select id, source_table, operation, attempts, error from dispatch\.changes where error is not null order by id; .* select dispatch\.replay_change\(id\);/,
    );
    assert.match(text, /✗ pg_cron present\n {4}fix: enable pg_cron/);
    assert.match(text, /✗ Vault secret dispatch_worker_secret/);
    assert.match(
      text,
      new RegExp(
        `✗ dispatch-worker answers — no answer from ${closed} \\(ECONNREFUSED\\)\n {4}fix: deploy the worker: \`supabase functions deploy dispatch-worker --no-verify-jwt\`; if it is deployed, correct the URL in Vault: select vault\\.update_secret`,
      ),
    );
    assert.match(
      text,
      /✗ Realtime policies on realtime\.messages — none\n {4}fix: as the owner of realtime\.messages: select dispatch\.install_realtime_policies\(\);/,
    );
    assert.match(text, /✗ no receipts overdue \(pending past due > 5 min\) — 3 overdue/);
    assert.match(text, /! no failed receipts — 2 failed/);
    assert.match(text, /✗ counters match reconcile — pending_orders\[u1\] 3 ≠ 2/);
  });

  it('counter drift while captured changes wait is a warning that says so, with drain as the fix', async () => {
    const db = fakeDb({
      changesPending: 4,
      drift: [{ name: 'pending_orders', scope: 'u1', expected: 2, actual: 1 }],
    });
    const { text } = formatChecks(await runChecks(db, config, '0.1.0'));
    assert.match(
      text,
      /! counters match reconcile — pending_orders\[u1\] 1 ≠ 2 \(4 captured changes not processed yet: the difference may be them\)\n {4}fix: select dispatch\.drain\(\); then run doctor again/,
    );
  });

  it('realtime.messages: a revoked INSERT for postgres fails, a missing partition for today warns', async () => {
    const healthy = formatChecks(await runChecks(fakeDb({}), config, '0.1.0'));
    assert.match(healthy.text, /✓ postgres can INSERT into realtime\.messages — yes\n/);
    assert.match(
      healthy.text,
      /✓ realtime\.messages partition for today \(UTC\) — realtime\.messages_2026_12_02\n/,
    );
    const db = fakeDb({ realtimeInsert: false, todayPartition: false });
    const { text, failed } = formatChecks(await runChecks(db, config, '0.1.0'));
    assert.equal(failed, 1, text);
    assert.match(
      text,
      /✗ postgres can INSERT into realtime\.messages — no: every broadcast of the core fails \(a WARNING each\)\n {4}fix: as supabase_admin .*grant select, insert, update on realtime\.messages to postgres;/,
    );
    assert.match(
      text,
      /! realtime\.messages partition for today \(UTC\) — no realtime\.messages_2026_12_02: broadcasts are dropped .* until a Realtime client connects\n {4}fix: open the app/,
    );
  });

  it('reports counts from the WAL: a missing slot fails, a table waiting for tick and retained WAL warn', async () => {
    const healthy = formatChecks(await runChecks(fakeDb({}), config, '0.1.0'));
    assert.doesNotMatch(healthy.text, /WAL/, 'nothing is said when no table counts from the WAL');
    const live = { live: 2, waiting: 0, available: true, wal_level: 'logical', published_ago: 1 };
    const ok = formatChecks(
      await runChecks(
        fakeDb({ walCounts: { ...live, wal_status: 'reserved', retained: 5 * 1024 ** 2 } }),
        config,
        '0.1.0',
      ),
    );
    assert.match(
      ok.text,
      /✓ WAL-count slot — 2 tables counted from the WAL; the slot holds 5 MiB of WAL; last publish 1 s ago\n/,
    );
    const lost = formatChecks(
      await runChecks(fakeDb({ walCounts: { ...live, wal_status: 'lost', retained: 0 } }), config, '0.1.0'),
    );
    assert.equal(lost.failed, 1, lost.text);
    assert.match(
      lost.text,
      /✗ counts from the WAL — 2 tables counted from the WAL, but the slot supadispatch_counts is lost/,
    );
    assert.match(lost.text, /fix: select dispatch\.tick\(\);/);
    const waiting = formatChecks(
      await runChecks(
        fakeDb({
          walCounts: {
            live: 0,
            waiting: 1,
            available: true,
            wal_level: 'logical',
            last_error: 'all replication slots are in use',
          },
        }),
        config,
        '0.1.0',
      ),
    );
    assert.equal(waiting.failed, 0, waiting.text);
    assert.match(
      waiting.text,
      /! counts from the WAL — 1 table counted by the writers until dispatch\.tick\(\) creates the slot \(last try: all replication slots are in use\)/,
    );
    const full = formatChecks(
      await runChecks(
        fakeDb({ walCounts: { ...live, wal_status: 'extended', retained: 3 * 1024 ** 3 } }),
        config,
        '0.1.0',
      ),
    );
    assert.match(
      full.text,
      /! WAL-count slot — 2 tables counted from the WAL; the slot holds 3072 MiB of WAL/,
    );
  });

  it('names the realtime guard policies that are missing (the read policy alone is not enough)', async () => {
    const db = fakeDb({ policies: ['dispatch_read'] });
    const { text } = formatChecks(await runChecks(db, config, '0.1.0'));
    assert.match(
      text,
      /✗ Realtime policies on realtime\.messages — found dispatch_read; missing dispatch_read_guard, dispatch_read_guard_public, dispatch_send_guard\n/,
    );
  });

  it('flags an admin audience over a column users may update (own-row policy), with the fix', async () => {
    const db = fakeDb({
      columns: {
        'public.profiles.is_admin': {
          can_update: true,
          can_insert: false,
          rls: true,
          policies: ['profiles_update_own'],
        },
      },
    });
    const { text, failed } = formatChecks(await runChecks(db, config, '0.1.0'));
    assert.equal(failed, 1, text);
    assert.match(
      text,
      /✗ audience filters read no column users can write — public\.profiles\.is_admin \(admin audience "admin"\): authenticated has UPDATE, allowed by policy profiles_update_own\n {4}fix: revoke insert, update on "public"\."profiles" from anon, authenticated; grant update \(<the columns users may edit, not "is_admin">\) on "public"\."profiles" to authenticated;.* omit `admin` in dispatch\.config\.ts/,
    );
    // the privilege alone, held back by RLS without an update policy, is a warning
    const guarded = formatChecks(
      await runChecks(
        fakeDb({
          columns: {
            'public.profiles.is_admin': { can_update: true, can_insert: false, rls: true, policies: [] },
          },
        }),
        config,
        '0.1.0',
      ),
    );
    assert.equal(guarded.failed, 0, guarded.text);
    assert.match(guarded.text, /! audience filters read no column users can write — .*only RLS/);
    // without an admin / topic filter audience there is nothing to check
    const plain = validateConfig({
      ...shop,
      admin: undefined,
      audiences: { buyer: { column: 'user_id' } },
      events: {},
      counters: {},
    });
    const none = await runChecks(fakeDb({}), plain, '0.1.0');
    assert.equal(none.filter((c) => c.name.startsWith('audience filters')).length, 0);
  });

  const probeOnly = async (url: string, probeTimeoutMs?: number) => {
    const checks = await runChecks(
      fakeDb({ secrets: { dispatch_worker_url: url, dispatch_worker_secret: SECRET } }),
      config,
      '0.1.0',
      { probeTimeoutMs },
    );
    const c = checks.find((x) => x.name === 'dispatch-worker answers');
    assert.ok(c, 'the worker check is reported');
    return formatChecks([c]);
  };

  it('a 404 (the function is not deployed) fails with the deploy command', async () => {
    const { text, failed } = await probeOnly(`${worker.base}/functions/v1/nope`);
    assert.equal(failed, 1);
    assert.match(
      text,
      /✗ dispatch-worker answers — HTTP 404 from http:\/\/127\.0\.0\.1:\d+\/functions\/v1\/nope — no function there\n {4}fix: deploy the worker: `supabase functions deploy dispatch-worker --no-verify-jwt`/,
    );
  });

  it('a refused secret and a gateway asking for a JWT get different fixes', async () => {
    const wrong = await runChecks(
      fakeDb({ secrets: { dispatch_worker_url: worker.url, dispatch_worker_secret: 'not-the-one' } }),
      config,
      '0.1.0',
    );
    const w = formatChecks(wrong.filter((c) => c.name === 'dispatch-worker answers')).text;
    assert.match(
      w,
      /✗ dispatch-worker answers — HTTP 401 from .* — the secret was refused\n {4}fix: give the function the Vault secret's value: `supabase secrets set DISPATCH_WORKER_SECRET=/,
    );
    assert.doesNotMatch(w, /not-the-one/);
    const { text } = await probeOnly(`${worker.base}/jwt/functions/v1/dispatch-worker`);
    assert.match(
      text,
      /✗ dispatch-worker answers — HTTP 401 from .* — the gateway wants a JWT\n {4}fix: pg_net calls the worker without a JWT: `supabase functions deploy dispatch-worker --no-verify-jwt`/,
    );
  });

  it('a 5xx shows the status and body; a redirect is not followed', async () => {
    const boom = await probeOnly(`${worker.base}/boom/functions/v1/dispatch-worker`);
    assert.match(
      boom.text,
      /✗ dispatch-worker answers — HTTP 500 from .*: \{"error":"worker crashed: ReferenceError"\}\n {4}fix: read the worker's logs/,
    );
    const moved = await probeOnly(`${worker.base}/moved`);
    assert.match(
      moved.text,
      /✗ dispatch-worker answers — HTTP 301 from .* — a redirect \(pg_net does not follow it\)/,
    );
  });

  it('a worker that never answers is cut off by the probe timeout', async () => {
    const { text } = await probeOnly(`${worker.base}/silent`, 300);
    assert.match(text, /✗ dispatch-worker answers — no answer from .*\/silent \(no answer within 300 ms\)/);
  });

  it('the printed URL drops credentials and query parameters', async () => {
    const u = new URL(`${worker.base}/functions/v1/nope`);
    u.username = 'user';
    u.password = 'hunter2';
    u.search = '?token=abc';
    const { text } = await probeOnly(u.toString());
    assert.doesNotMatch(text, /hunter2|token=abc|user@/);
  });

  it('without a worker URL in Vault there is no probe; an unreadable Vault is a failure, not a crash', async () => {
    const none = await runChecks(fakeDb({ secrets: {} }), config, '0.1.0', {
      probe: () => assert.fail('no probe without a URL'),
    });
    assert.equal(none.filter((c) => c.name === 'dispatch-worker answers').length, 0);
    const denied = formatChecks(
      await runChecks(
        fakeDb({ vaultError: 'permission denied for view decrypted_secrets' }),
        config,
        '0.1.0',
      ),
    ).text;
    assert.match(
      denied,
      /✗ Vault readable — permission denied for view decrypted_secrets\n {4}fix: run doctor as the postgres role/,
    );
  });

  it('probeWorker reports the status and the start of the body', async () => {
    assert.deepEqual(await probeWorker(worker.url, SECRET, 2000), {
      status: 200,
      body: '{"ok":true,"probe":true}',
    });
    assert.deepEqual(await probeWorker(await closedPortUrl(), SECRET, 2000), { error: 'ECONNREFUSED' });
  });

  it('looks for the realtime policies the core creates on realtime.messages, no more, no fewer', async () => {
    const { sql } = await loadCore();
    // dispatch.realtime_policy_defs(): one `('<name>', <permissive>, '<command>', ...)` row per policy
    const created = new Set(
      [...sql.matchAll(/\('(dispatch_\w+)', (?:true|false), '(?:select|insert)'/g)].map((m) => m[1]),
    );
    assert.deepEqual([...created].sort(), [...REALTIME_POLICIES].sort());
  });

  it('an uninstalled core stops early with the fix', async () => {
    const { text, failed } = formatChecks(await runChecks(fakeDb({ version: null }), config, '0.1.0'));
    assert.equal(failed, 1);
    assert.match(
      text,
      /✗ core installed — schema dispatch \/ dispatch\.version\(\) not found\n {4}fix: run `npx supadispatch gen` then `supabase db push`/,
    );
  });

  it('needs a database URL', async () => {
    const saved = process.env.SUPABASE_DB_URL;
    delete process.env.SUPABASE_DB_URL;
    try {
      const io = captureIo(makeProject());
      assert.equal(await doctorCommand([], io), 2);
      assert.match(io.stderr, /pass --db-url <postgres url> or set SUPABASE_DB_URL/);
    } finally {
      if (saved !== undefined) process.env.SUPABASE_DB_URL = saved;
    }
  });

  it('the writable-column check against a real database: healthy, then UPDATE on is_admin for authenticated', {
    skip: !process.env.SUPABASE_DB_URL && 'SUPABASE_DB_URL is not set',
  }, async () => {
    const client = new pg.Client({ connectionString: process.env.SUPABASE_DB_URL });
    await client.connect();
    const schema = `sd_doctor_${process.pid}`;
    const q = async (sql: string, params?: unknown[]) => (await client.query(sql, params)).rows;
    try {
      await q(`drop schema if exists ${schema} cascade`);
      await q(`create schema ${schema}`);
      await q(
        `create table ${schema}.profiles (id uuid primary key, name text, is_admin boolean not null default false)`,
      );
      await q(`alter table ${schema}.profiles enable row level security`);
      await q(`grant usage on schema ${schema} to authenticated`);
      await q(`grant select on ${schema}.profiles to authenticated`);
      await q(`grant update (name) on ${schema}.profiles to authenticated`);
      await q(`create policy own_row on ${schema}.profiles for update to authenticated using (true)`);
      const cfg = validateConfig({
        users: { table: `${schema}.profiles`, id: 'id' },
        transports: { in_app: {} },
        audiences: { staff: { where: { is_admin: true } } },
        admin: 'staff',
        events: {},
      });
      const [healthy] = await audienceColumnsCheck(q, cfg, { expectedVersion: '0.1.0' });
      assert.equal(healthy?.ok, true, JSON.stringify(healthy));
      await q(`grant update (is_admin) on ${schema}.profiles to authenticated`);
      const [bad] = await audienceColumnsCheck(q, cfg, { expectedVersion: '0.1.0' });
      assert.equal(bad?.ok, false);
      assert.equal(bad?.level, undefined);
      assert.match(
        bad?.detail ?? '',
        new RegExp(
          `${schema}\\.profiles\\.is_admin \\(admin audience "staff"\\): authenticated has UPDATE, allowed by policy own_row`,
        ),
      );
      assert.match(bad?.fix ?? '', /revoke insert, update on/);
    } finally {
      await q(`drop schema if exists ${schema} cascade`);
      await client.end();
    }
  });

  it('runs against a real database', {
    skip: !process.env.SUPABASE_DB_URL && 'SUPABASE_DB_URL is not set',
  }, async () => {
    const io = captureIo(makeProject());
    const code = await doctorCommand(['--db-url', process.env.SUPABASE_DB_URL!], io);
    assert.ok(code === 0 || code === 1);
    if (/✗ core installed — /.test(io.stdout)) {
      // a database without the core: one failure, with the way to install it
      assert.equal(code, 1);
      assert.match(io.stdout, /fix: run `npx supadispatch gen` then `supabase db push`/);
    } else {
      assert.match(io.stdout, /[✓✗] core version \d+\.\d+\.\d+ — installed /);
      assert.match(io.stdout, /[✓✗] triggers match the config/);
    }
    assert.match(io.stdout, /(all checks passed|\d+ checks? failed)\n$/);
  });
});
