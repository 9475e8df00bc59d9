/**
 * Who may call what: every `public.dispatch_*` function the database has (read from pg_proc, so a
 * new RPC without a row here fails the suite) called through supabase-js as anon, as another
 * signed-in user (mallory) and with forged tokens. Worker RPCs refuse every client role; admin RPCs
 * refuse non-admins on the server; user RPCs answer mallory only about mallory. After each batch,
 * the victim's and the run's rows are unchanged (fingerprint).
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { missingTargetMessage, testTarget } from '../../local/test/support/env.ts';
import { type Cast, createCast } from './cast.ts';
import { fingerprint, publicDispatchFunctions, Scoreboard } from './support.ts';

const target = testTarget();
const board = new Scoreboard('rpc-matrix');

type Kind = 'user' | 'admin' | 'worker';

/** Every client RPC with its kind; `dispatch_worker_*` are worker RPCs by name. */
const KINDS: Record<string, Kind> = {
  dispatch_initial_state: 'user',
  dispatch_notifications: 'user',
  dispatch_mark_read: 'user',
  dispatch_mark_all_read: 'user',
  dispatch_preferences: 'user',
  dispatch_set_preference: 'user',
  dispatch_is_admin: 'user',
  dispatch_receipts: 'admin',
  dispatch_occurrences: 'admin',
  dispatch_replay: 'admin',
  dispatch_changes: 'admin',
  dispatch_replay_change: 'admin',
  dispatch_failed_receipts: 'admin',
  dispatch_requeue_receipts: 'admin',
};

function kindOf(name: string): Kind | undefined {
  return name.startsWith('dispatch_worker_') ? 'worker' : KINDS[name];
}

/** The hostile value of each argument name: always aimed at the victim's rows. */
function hostileArgs(cast: Cast, args: { name: string; type: string }[]): Record<string, unknown> {
  const values: Record<string, unknown> = {
    ids: cast.victimNotificationIds,
    receipt_ids: [cast.victimReceiptId],
    id: cast.victimReceiptId,
    occurrence_id: cast.victimOccurrenceId,
    change_id: 1,
    event_id: cast.eventId,
    recipient: cast.victim.id,
    transport: 'email',
    enabled: true,
    lease_token: 0,
    content: { subject: 'pwned' },
    error: 'pwned',
    worker: 'mallory',
    max_count: 100,
    max_changes: 100,
    transports: [`${cast.run}_mail`],
    // the worker's batched calls: the victim's receipt with a guessed lease token
    items: [{ id: cast.victimReceiptId, lease_token: 0, content: { subject: 'pwned' } }],
    outcomes: [{ id: cast.victimReceiptId, lease_token: 0, status: 'sent' }],
  };
  return Object.fromEntries(args.filter((a) => a.name in values).map((a) => [a.name, values[a.name]]));
}

/** A token for `sub` the attacker made without the project's key. */
function forgedToken(sub: string, alg: 'none' | 'HS256'): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ alg, typ: 'JWT' })}.${b64({ sub, role: 'authenticated', aud: 'authenticated', exp: now + 3600, iat: now })}`;
  if (alg === 'none') return `${head}.`;
  return `${head}.${createHmac('sha256', 'not-the-project-secret').update(head).digest('base64url')}`;
}

describe('RPC matrix: anon, another user, forged tokens', { skip: !target && missingTargetMessage }, () => {
  let cast: Cast;
  let rpcs: Awaited<ReturnType<typeof publicDispatchFunctions>>;
  const snapshot = () => fingerprint(cast.db, [cast.victim.id, cast.admin.id], `${cast.run}.`);

  before(async () => {
    cast = await createCast(target!);
    rpcs = await publicDispatchFunctions(cast.db);
  });
  after(async () => {
    await cast?.cleanup();
    board.write();
  });

  test('every public.dispatch_* function of the database has a row in the matrix', async () => {
    assert.ok(rpcs.length >= 20, `found ${rpcs.length} functions`);
    const unclassified = rpcs.filter((f) => !kindOf(f.name)).map((f) => f.signature);
    await board.attack('a dispatch RPC outside the matrix', () =>
      assert.deepEqual(unclassified, [], 'classify these in e2e/attacks/rpc-matrix.test.ts KINDS'),
    );
  });

  test('anon: every RPC is refused (permission denied), nothing changes', async () => {
    const before = await snapshot();
    for (const fn of rpcs) {
      await board.attack(`anon calls ${fn.name}`, async () => {
        const { data, error } = await cast.anon.rpc(fn.name, hostileArgs(cast, fn.args));
        assert.ok(error, `${fn.name} answered anon: ${JSON.stringify(data)}`);
        assert.equal(error.code, '42501', `${fn.name}: ${error.code} ${error.message}`);
      });
    }
    assert.equal(await snapshot(), before);
  });

  test('another signed-in user: worker RPCs are refused by grant, admin RPCs by the server', async () => {
    const before = await snapshot();
    for (const fn of rpcs) {
      const kind = kindOf(fn.name);
      if (kind === 'user') continue;
      await board.attack(`mallory calls ${fn.name}`, async () => {
        const { data, error } = await cast.mallory.client.rpc(fn.name, hostileArgs(cast, fn.args));
        assert.ok(error, `${fn.name} answered mallory: ${JSON.stringify(data)}`);
        assert.equal(error.code, '42501', `${fn.name}: ${error.code} ${error.message}`);
        if (kind === 'admin') assert.match(error.message, /admins only/);
      });
    }
    assert.equal(await snapshot(), before);
  });

  test("another signed-in user: user RPCs aimed at the victim's rows touch and return only mallory's", async () => {
    const before = await snapshot();
    for (const fn of rpcs.filter((f) => kindOf(f.name) === 'user')) {
      await board.attack(`mallory calls ${fn.name} with the victim's ids`, async () => {
        const { data, error } = await cast.mallory.client.rpc(fn.name, hostileArgs(cast, fn.args));
        const answer = JSON.stringify(data ?? error);
        assert.ok(!answer.includes(cast.victimMarker), `${fn.name} leaked the victim's content: ${answer}`);
        assert.ok(!answer.includes(cast.victim.id), `${fn.name} named the victim: ${answer}`);
        for (const id of cast.victimNotificationIds)
          assert.ok(!answer.includes(id), `${fn.name} listed ${id}`);
        if (fn.name === 'dispatch_mark_read')
          assert.equal(data, 0, 'no notification of the victim is marked');
        if (fn.name === 'dispatch_is_admin') assert.equal(data, false);
      });
    }
    assert.equal(
      await snapshot(),
      before,
      "the victim's notifications, preferences and counters are unchanged",
    );
    // the same calls work for the victim (the matrix is not vacuous)
    const mine = await cast.victim.client.rpc('dispatch_notifications', {});
    assert.equal(mine.error, null);
    assert.equal((mine.data as unknown[]).length, 3);
  });

  test('user metadata claiming admin does not make an admin (only app_metadata, set by the server, does)', async () => {
    const updated = await cast.mallory.client.auth.updateUser({ data: { role: 'admin', is_admin: true } });
    assert.equal(updated.error, null);
    await cast.mallory.client.auth.refreshSession();
    for (const name of ['dispatch_failed_receipts', 'dispatch_is_admin']) {
      await board.attack(`mallory with user_metadata.role=admin calls ${name}`, async () => {
        const { data, error } = await cast.mallory.client.rpc(name, {});
        if (name === 'dispatch_is_admin') assert.equal(data, false);
        else assert.equal(error?.code, '42501', JSON.stringify(data));
      });
    }
    const refused = await cast.mallory.client.auth.updateUser({ data: {} });
    assert.equal(refused.error, null);
  });

  test('forged tokens (alg none, a key not the project) are refused before any RPC runs', async () => {
    const before = await snapshot();
    for (const alg of ['none', 'HS256'] as const) {
      for (const [sub, name] of [
        [cast.victim.id, 'dispatch_notifications'],
        [cast.admin.id, 'dispatch_receipts'],
      ]) {
        await board.attack(
          `forged ${alg} token as ${sub === cast.admin.id ? 'admin' : 'victim'}`,
          async () => {
            const res = await fetch(`${target!.url}/rest/v1/rpc/${name}`, {
              method: 'POST',
              headers: {
                apikey: target!.anonKey,
                authorization: `Bearer ${forgedToken(sub, alg)}`,
                'content-type': 'application/json',
              },
              body: '{}',
            });
            const body = await res.text();
            assert.ok(res.status === 401 || res.status === 403, `${res.status}: ${body}`);
            assert.ok(!body.includes(cast.victimMarker));
          },
        );
      }
    }
    assert.equal(await snapshot(), before);
  });

  test('the admin paths work for the admin (the refusals above are about who, not what)', async () => {
    const { data, error } = await cast.admin.client.rpc('dispatch_receipts', { event_id: cast.eventId });
    assert.equal(error, null);
    assert.equal((data as unknown[]).length, 1);
  });
});
