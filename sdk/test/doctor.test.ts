import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { doctorCommand, formatChecks, runChecks } from '../src/cli/doctor.ts';
import { validateConfig } from '../src/index.ts';
import shop from './fixtures/shop.config.ts';
import { captureIo, makeProject } from './support/project.ts';

const config = validateConfig(shop);

/** A fake database: answers each doctor query from a state object. */
function fakeDb(state: {
  version?: string | null;
  triggers?: { name: string; tbl: string }[];
  exts?: string[];
  cron?: number;
  secrets?: string[];
  policies?: string[];
  overdue?: number;
  failed?: number;
  failedOcc?: number;
  drift?: Record<string, unknown>[];
}) {
  const allTriggers: { name: string; tbl: string }[] = [];
  for (const e of config.events) {
    for (const op of e.on) allTriggers.push({ name: `dispatch_ev_${e.slug}_${op}`, tbl: 'public.orders' });
  }
  for (const k of config.counters) {
    for (const op of ['insert', 'update', 'delete'])
      allTriggers.push({ name: `dispatch_ct_${k.name}_${op}`, tbl: 'public.orders' });
  }
  const s = {
    version: '0.1.0',
    triggers: allTriggers,
    exts: ['pg_cron', 'pg_net'],
    cron: 1,
    secrets: ['dispatch_worker_url', 'dispatch_worker_secret'],
    policies: ['dispatch_read', 'dispatch_read_guard'],
    overdue: 0,
    failed: 0,
    failedOcc: 0,
    drift: [],
    ...state,
  };
  return async (sql: string): Promise<Record<string, unknown>[]> => {
    if (sql.includes("to_regprocedure('dispatch.version()')")) return [{ installed: s.version !== null }];
    if (sql.includes('dispatch.version() as version')) return [{ version: s.version }];
    if (sql.includes('from pg_trigger')) return s.triggers;
    if (sql.includes('from pg_extension')) return s.exts.map((extname) => ({ extname }));
    if (sql.includes("to_regnamespace('net')")) return [{ netSchema: s.exts.includes('pg_net') }];
    if (sql.includes('from cron.job')) return [{ n: s.cron }];
    if (sql.includes("to_regclass('vault.decrypted_secrets')")) return [{ vault: true }];
    if (sql.includes('from vault.decrypted_secrets')) return s.secrets.map((name) => ({ name }));
    if (sql.includes('from pg_policies')) return s.policies.map((policyname) => ({ policyname }));
    if (sql.includes('from dispatch.receipts')) return [{ failed: s.failed, overdue: s.overdue }];
    if (sql.includes('from dispatch.occurrences')) return [{ n: s.failedOcc }];
    if (sql.includes('reconcile_counters')) return s.drift;
    throw new Error(`unexpected query: ${sql}`);
  };
}

describe('supadispatch doctor', () => {
  it('a healthy install passes every check', async () => {
    const { text, failed } = formatChecks(await runChecks(fakeDb({}), config, '0.1.0'));
    assert.equal(failed, 0, text);
    assert.doesNotMatch(text, /✗/);
    assert.match(text, /✓ triggers match the config/);
  });

  it('a broken install lists each failure with its fix', async () => {
    const db = fakeDb({
      version: '0.0.9',
      triggers: [{ name: 'dispatch_ev_gone_insert', tbl: 'public.orders' }],
      exts: ['pg_net'],
      secrets: ['dispatch_worker_url'],
      policies: [],
      overdue: 3,
      failed: 2,
      drift: [{ name: 'pending_orders', scope: 'u1', expected: 2, actual: 3 }],
    });
    const { text, failed } = formatChecks(await runChecks(db, config, '0.1.0'));
    assert.equal(failed, 7, text);
    assert.match(text, /✗ core version 0\.1\.0 — installed 0\.0\.9\n {4}fix: run `npx supadispatch gen`/);
    assert.match(
      text,
      /✗ triggers match the config — missing: dispatch_ct_admin_open_orders_delete on public\.orders, .*; not in config: dispatch_ev_gone_insert on public\.orders/,
    );
    assert.match(text, /✗ pg_cron present\n {4}fix: enable pg_cron/);
    assert.match(text, /✗ Vault secret dispatch_worker_secret/);
    assert.match(
      text,
      /✗ Realtime policies on realtime\.messages — none\n {4}fix: as the owner of realtime\.messages: select dispatch\.install_realtime_policies\(\);/,
    );
    assert.match(text, /✗ no receipts overdue \(pending past due > 5 min\) — 3 overdue/);
    assert.match(text, /! no failed receipts — 2 failed/);
    assert.match(text, /✗ counters match reconcile — pending_orders\[u1\] 3 ≠ 2/);
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

  it('runs against a real database', {
    skip: !process.env.SUPABASE_DB_URL && 'SUPABASE_DB_URL is not set',
  }, async () => {
    const io = captureIo(makeProject());
    const code = await doctorCommand(['--db-url', process.env.SUPABASE_DB_URL!], io);
    assert.ok(code === 0 || code === 1);
    assert.match(io.stdout, /[✓✗] core version \d+\.\d+\.\d+ — installed /);
    assert.match(io.stdout, /[✓✗] triggers match the config/);
    assert.match(io.stdout, /(all checks passed|\d+ checks? failed)\n$/);
  });
});
