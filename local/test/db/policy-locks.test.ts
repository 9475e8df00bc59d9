/**
 * Policy DDL on realtime.messages locks Auth on hosted (supautils' policy grants: ACCESS EXCLUSIVE
 * on auth.audit_log_entries, identities, refresh_tokens, sessions, users and realtime.messages until
 * commit). The local stack emulates that (local/src/db/bootstrap/700_supautils_policy_grants.sql);
 * this checks the core's install (issue 22, item 1):
 * - while a push that installs the core is open (its transaction not committed), it holds no lock on
 *   auth.*, and a sign-in goes through;
 * - when it commits with policies to change while something holds a lock on auth.users, it waits at
 *   most the lock timeout, commits with a warning instead of queueing sign-ins behind it, and a
 *   sign-in started meanwhile completes while that lock is still held;
 * - dispatch.tick() creates the policies afterwards.
 * Local stack only: it needs the superuser (SUPABASE_ADMIN_DB_URL) to hold the lock and read pg_locks.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { buildCore } from '../../../sql/build.ts';
import { testTarget } from '../support/env.ts';
import { adminDbUrlOrNull } from '../support/test-stack.ts';

const target = testTarget();
const adminUrl = adminDbUrlOrNull();

async function signIn(email: string, password: string): Promise<number> {
  if (!target) throw new Error('no target');
  const response = await fetch(`${target.url}/auth/v1/token?grant_type=password`, {
    method: 'POST',
    headers: { apikey: target.anonKey, 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  await response.arrayBuffer();
  return response.status;
}

async function authLocksOf(admin: pg.Client, pid: number): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    `select count(*)::int as n from pg_locks l join pg_class c on c.oid = l.relation
     where l.pid = $1 and c.relnamespace = 'auth'::regnamespace`,
    [pid],
  );
  return rows[0]?.n ?? 0;
}

test('a sign-in during a core install is not blocked past the lock timeout', {
  timeout: 120_000,
}, async (t) => {
  if (!target || !adminUrl) return t.skip('local stack only: needs SUPABASE_ADMIN_DB_URL and the stack URLs');
  const admin = new pg.Client({ connectionString: adminUrl });
  const push = new pg.Client({ connectionString: target.dbUrl });
  const holder = new pg.Client({ connectionString: adminUrl });
  await Promise.all([admin.connect(), push.connect(), holder.connect()]);
  const notices: string[] = [];
  push.on('notice', (n) => notices.push(n.message ?? ''));
  try {
    const emulated = await admin.query(`select to_regnamespace('_supautils') is not null as ok`);
    if (!emulated.rows[0].ok) return t.skip('no supautils policy-grant emulation on this database');
    const email = `locks-${randomUUID().slice(0, 8)}@example.test`;
    const password = 'locks-password-1';
    const created = await fetch(`${target.url}/auth/v1/admin/users`, {
      method: 'POST',
      headers: {
        apikey: target.serviceRoleKey,
        authorization: `Bearer ${target.serviceRoleKey}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ email, password, email_confirm: true }),
    });
    assert.equal(created.status, 200, await created.text());

    // Policies that differ from the core's: an obsolete 0.1.0 guard (restrictive, allows all, so it
    // changes nothing for the other suites running meanwhile) makes the install redo them.
    await push.query(`create policy dispatch_read_guard_anon on realtime.messages as restrictive for select
      to anon using (true)`);
    const pushPid = (await push.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid ?? 0;

    // The push: the core migration in one transaction, as `supabase db push` runs a file.
    await push.query('begin');
    await push.query(buildCore());
    assert.equal(await authLocksOf(admin, pushPid), 0, 'the open install holds no lock on auth.*');
    assert.equal(await signIn(email, password), 200, 'a sign-in while the install is open');

    // Something holds a lock on auth.users (a long Auth transaction): the policy step at commit
    // cannot get its ACCESS EXCLUSIVE.
    await holder.query('begin');
    await holder.query('select 1 from auth.users limit 1');
    const commit = push.query('commit');
    let waiting = false;
    for (let i = 0; i < 100 && !waiting; i++) {
      const { rows } = await admin.query(
        `select exists (select from pg_locks where pid = $1 and not granted) as w`,
        [pushPid],
      );
      waiting = rows[0].w;
      if (!waiting) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(waiting, 'the commit waits for the auth lock');
    const [signInStatus] = await Promise.all([signIn(email, password), commit]);
    assert.equal(signInStatus, 200, 'a sign-in queued behind the waiting commit completes (lock still held)');
    assert.ok(
      notices.some((m) => /realtime policies not installed: .*lock timeout/.test(m)),
      `the commit gave up on the policies with a warning: ${notices.join(' | ')}`,
    );
    await holder.query('rollback');

    const pending = await admin.query(
      `select dispatch.setting('realtime_policies_pending') is not null as p`,
    );
    assert.equal(pending.rows[0].p, true, 'the policy step is left for tick');
    const tick = await push.query<{ r: Record<string, unknown> }>('select dispatch.tick() as r');
    assert.equal(tick.rows[0]?.r.realtime_policies, 'installed', 'tick created the policies');
    const match = await push.query(`select dispatch.realtime_policies_match() as m`);
    assert.equal(match.rows[0].m, true);
  } finally {
    await holder.query('rollback').catch(() => {});
    await push.query('rollback').catch(() => {});
    await push.query(`select dispatch.install_realtime_policies()`).catch(() => {});
    await Promise.all([admin.end(), push.end(), holder.end()]);
  }
});
