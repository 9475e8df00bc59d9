/**
 * The four Edge Functions under real Deno through a test stack (gateway + Functions + REST + Auth
 * over the local stack's database), in a temp project made by `supadispatch gen` with init's
 * entrypoints:
 * - dispatch-worker refuses a missing or wrong `x-dispatch-secret` (wrong value of the right length,
 *   shorter, longer, other case, the anon and service keys as bearer) and claims nothing;
 * - dispatch-preview and dispatch-trigger refuse anon, another user, forged, expired and
 *   wrong-audience tokens, and a user whose user_metadata says admin (403/401 on the server);
 * - malformed bodies (fast-check): the admin's calls to preview and trigger, and hook payloads to
 *   dispatch-auth-email (signed and unsigned) get a clear 4xx error and change no row.
 * Needs SUPABASE_ADMIN_DB_URL (npm test sets it).
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { createAuthService } from '../../local/src/auth/index.ts';
import { createFunctionsService } from '../../local/src/functions/index.ts';
import { signJwt } from '../../local/src/jwt.ts';
import { repoRoot } from '../../local/src/paths.ts';
import { createRestService } from '../../local/src/rest/index.ts';
import { startTestStack, type TestStack } from '../../local/test/support/test-stack.ts';
import { genCommand } from '../../sdk/src/cli/gen.ts';
import { captureIo } from '../../sdk/test/support/project.ts';
import { Scoreboard } from './support.ts';

const adminDbUrl = process.env.SUPABASE_ADMIN_DB_URL;
const skip = !adminDbUrl ? 'needs SUPABASE_ADMIN_DB_URL (the local stack; npm test sets it)' : false;
const board = new Scoreboard('functions');
const RUNS = Number(process.env.SUPADISPATCH_ATTACK_RUNS ?? 12);

const run = `atkf${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const eventId = `${run}.shipped`;
const table = `public.${run}_orders`;
const workerSecret = `worker-${randomUUID()}`;
const hookSecretRaw = Buffer.from(`hook-secret-${run}-padding-padding`);
const hookSecret = `v1,whsec_${hookSecretRaw.toString('base64')}`;

const config = `import { defineDispatch } from '${join(repoRoot, 'sdk', 'src', 'index.ts')}';
export default defineDispatch({
  transports: { in_app: {}, email: { provider: 'resend', from: 'Shop <noreply@shop.example>', apiKeySecret: 'RESEND_API_KEY' } },
  audiences: { buyer: { column: 'user_id' } },
  events: {
    '${eventId}': {
      table: '${table}', on: 'update',
      channels: [{ transport: 'email', audience: 'buyer' }],
      content: { subject: 'Order #{{number}} shipped', text: 'Order #{{number}}', html: '<p>{{note}}</p>' },
    },
  },
});
`;

describe('Edge Functions: who may call them, and what they do with bad bodies', { skip }, () => {
  let stack: TestStack;
  let db: pg.Pool;
  let projectRoot: string;
  const admin = { id: randomUUID(), email: `${run}-admin@example.test` };
  const mallory = { id: randomUUID(), email: `${run}-mallory@example.test` };
  let adminToken = '';
  let malloryToken = '';

  const send = (name: string, body: string, headers: Record<string, string>) =>
    fetch(`${stack.url}/functions/v1/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', apikey: stack.anonKey, ...headers },
      body,
      signal: AbortSignal.timeout(60_000),
    });
  /**
   * One request; sent again once when the pooled connection was reset before any answer. A reset is
   * the client reusing a keep-alive socket the gateway closed (the 2 MiB bodies above are answered
   * 413 unread, which ends their connection), not the function: a function that crashes is a 500
   * from the functions proxy, and that is never retried.
   */
  const post = async (name: string, body: string, headers: Record<string, string> = {}) => {
    try {
      return await send(name, body, headers);
    } catch (error) {
      const code = ((error as Error).cause as { code?: string } | undefined)?.code;
      if (code !== 'ECONNRESET' && code !== 'UND_ERR_SOCKET') throw error;
      return send(name, body, headers);
    }
  };
  /** Rows any of these calls could create or move. */
  const rows = async () => {
    const { rows } = await db.query<{ digest: string }>(
      `select md5(concat_ws('|',
         (select count(*) from dispatch.occurrences), (select count(*) from dispatch.receipts),
         (select string_agg(r.status || r.attempt_count, ',' order by r.id) from dispatch.receipts r where r.event_id like $1),
         (select count(*) from dispatch.manual_triggers), (select count(*) from auth.users),
         (select count(*) from auth.one_time_tokens))) as digest`,
      [`${run}.%`],
    );
    return rows[0].digest;
  };

  before(async () => {
    projectRoot = join(repoRoot, '.supadispatch', `test-attacks-${run}`);
    const functions = join(projectRoot, 'supabase', 'functions');
    mkdirSync(join(projectRoot, 'supabase', 'migrations'), { recursive: true });
    writeFileSync(
      join(projectRoot, 'supabase', 'config.toml'),
      `project_id = "${run}"\n\n[auth]\nsite_url = "http://127.0.0.1:3000"\n\n[functions.dispatch-worker]\nverify_jwt = false\n\n[functions.dispatch-auth-email]\nverify_jwt = false\n`,
    );
    writeFileSync(join(projectRoot, 'dispatch.config.ts'), config);
    for (const name of ['worker', 'preview', 'trigger', 'auth-email']) {
      mkdirSync(join(functions, `dispatch-${name}`), { recursive: true });
      cpSync(
        join(repoRoot, 'sdk', 'templates', 'functions', `dispatch-${name}.ts`),
        join(functions, `dispatch-${name}`, 'index.ts'),
      );
    }
    writeFileSync(
      join(functions, '.env'),
      `DISPATCH_WORKER_SECRET=${workerSecret}\nSEND_EMAIL_HOOK_SECRET=${hookSecret}\nRESEND_API_KEY=re_local_test_key\nRESEND_API_URL=http://127.0.0.1:9/\n`,
    );
    const io = captureIo(projectRoot);
    assert.equal(await genCommand([], io), 0, io.stderr);

    db = new pg.Pool({ connectionString: adminDbUrl, max: 2 });
    await db.query(`create table ${table} (id bigint primary key, user_id uuid, number int, note text)`);
    await db.query(`select dispatch.register_event($1, null, $2, p_transports => array['email'])`, [
      eventId,
      table,
    ]);
    for (const user of [admin, mallory]) {
      await db.query(
        `insert into auth.users (id, instance_id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
         values ($1, '00000000-0000-0000-0000-000000000000', 'authenticated', 'authenticated', $2, now(), '{}', $3, now(), now())`,
        [user.id, user.email, user === mallory ? '{"role":"admin","is_admin":true}' : '{}'],
      );
    }
    await db.query('insert into dispatch.admins (user_id) values ($1)', [admin.id]);
    await db.query(`insert into ${table} values (1, $1, 7, '<b>note</b>')`, [mallory.id]);

    stack = await startTestStack({
      projectRoot,
      services: [
        createFunctionsService({ denoDir: join(repoRoot, '.supadispatch', 'test-deno-dir'), watch: false }),
        createRestService(),
        createAuthService({ settings: { maxFrequencySeconds: 0 } }),
      ],
    });
    adminToken = stack.signUserToken(admin.id, { email: admin.email });
    malloryToken = stack.signUserToken(mallory.id, {
      email: mallory.email,
      user_metadata: { role: 'admin', is_admin: true },
    });
  });

  after(async () => {
    await stack?.stop();
    if (db) {
      await db.query('delete from dispatch.occurrences where event_id like $1', [`${run}.%`]);
      await db.query('delete from dispatch.manual_triggers where event_id like $1', [`${run}.%`]);
      await db.query('delete from dispatch.events where id like $1', [`${run}.%`]);
      await db.query(`drop table if exists ${table}`);
      await db.query('delete from dispatch.admins where user_id = $1', [admin.id]);
      await db.query('delete from auth.users where email like $1', [`${run}-%`]);
      await db.end();
    }
    if (projectRoot) rmSync(projectRoot, { recursive: true, force: true });
    board.write();
  });

  test('dispatch-worker: a missing or wrong secret is 401 whatever its length; nothing is claimed', async () => {
    const before = await rows();
    const flip = (s: string) => s.slice(0, -1) + (s.endsWith('a') ? 'b' : 'a');
    const attempts: [string, Record<string, string>][] = [
      ['no secret', {}],
      ['empty secret', { 'x-dispatch-secret': '' }],
      ['right length, last character wrong', { 'x-dispatch-secret': flip(workerSecret) }],
      ['right length, all wrong', { 'x-dispatch-secret': 'x'.repeat(workerSecret.length) }],
      ['a prefix of the secret', { 'x-dispatch-secret': workerSecret.slice(0, -1) }],
      ['the secret and more', { 'x-dispatch-secret': `${workerSecret}x` }],
      ['other case', { 'x-dispatch-secret': workerSecret.toUpperCase() }],
      ['1 MB secret', { 'x-dispatch-secret': 'a'.repeat(1_000_000) }],
      ['service key as bearer, no secret', { authorization: `Bearer ${stack.serviceRoleKey}` }],
      ['a signed-in user as bearer, no secret', { authorization: `Bearer ${malloryToken}` }],
      ['the admin as bearer, no secret', { authorization: `Bearer ${adminToken}` }],
      ['the secret in another header', { authorization: `Bearer ${workerSecret}` }],
    ];
    for (const [what, headers] of attempts) {
      await board.attack(`dispatch-worker with ${what}`, async () => {
        const res = await post('dispatch-worker', '{}', headers).catch((e: Error) => ({
          status: 0,
          text: () => e.message,
        }));
        const body = await res.text();
        // 431: the gateway refuses headers that large before the function runs (also a refusal)
        assert.ok([401, 431].includes(res.status), `${what}: ${res.status} ${body.slice(0, 200)}`);
      });
    }
    assert.equal(await rows(), before);
    // not vacuous: the right secret opens the probe (which does no work)
    const ok = await post('dispatch-worker', '{"probe":true}', { 'x-dispatch-secret': workerSecret });
    assert.equal(ok.status, 200, await ok.clone().text());
    await ok.body?.cancel();
  });

  test('dispatch-worker compares the secret in constant time (the code path)', async () => {
    const { readFileSync } = await import('node:fs');
    const worker = readFileSync(join(repoRoot, 'edge-functions', 'src', 'worker.ts'), 'utf8');
    const secret = readFileSync(join(repoRoot, 'edge-functions', 'src', 'secret.ts'), 'utf8');
    await board.attack('the worker compares the secret with === or a non-constant-time function', () => {
      assert.match(worker, /secretsEqual\(req\.headers\.get\('x-dispatch-secret'\) \?\? '', secret\)/);
      assert.doesNotMatch(worker, /x-dispatch-secret'\)\s*[!=]==/);
      assert.match(secret, /timingSafeEqual\(digest\(presented\), digest\(expected\)\)/);
    });
    const { secretsEqual } = await import('../../edge-functions/src/secret.ts');
    for (const [a, b, want] of [
      [workerSecret, workerSecret, true],
      [workerSecret.slice(0, -1), workerSecret, false],
      [`${workerSecret}x`, workerSecret, false],
      ['', '', false],
    ] as const) {
      await board.attack(`secretsEqual(${a.length} chars, ${b.length} chars)`, () =>
        assert.equal(secretsEqual(a, b), want),
      );
    }
  });

  test('dispatch-auth-email takes no user token in place of the hook signature (anon, a user, the admin)', async () => {
    const before = await rows();
    const body = JSON.stringify({
      user: { id: mallory.id, email: mallory.email },
      email_data: { email_action_type: 'recovery', token_hash: 'x', token: '1' },
    });
    for (const [who, token] of [
      ['anon', stack.anonKey],
      ['another user', malloryToken],
      ['the admin', adminToken],
      ['the service key', stack.serviceRoleKey],
    ] as const) {
      await board.attack(`dispatch-auth-email as ${who} without a signature`, async () => {
        const res = await post('dispatch-auth-email', body, { authorization: `Bearer ${token}` });
        const answer = await res.text();
        assert.equal(res.status, 401, `${who}: ${res.status} ${answer.slice(0, 200)}`);
      });
    }
    assert.equal(await rows(), before);
  });

  test('dispatch-preview and dispatch-trigger refuse every token that is not an admin', async () => {
    const before = await rows();
    const now = Math.floor(Date.now() / 1000);
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: admin.id, role: 'authenticated', aud: 'authenticated', exp: now + 600 })}.`;
    const tokens: [string, string | null][] = [
      ['anon key', null],
      ['another user (user_metadata says admin)', malloryToken],
      ['admin id, alg none', unsigned],
      [
        'admin id, signed with another key',
        signJwt(
          { sub: admin.id, role: 'authenticated', aud: 'authenticated', exp: now + 600 },
          'not-the-project-secret-at-all-0123456789',
        ),
      ],
      ['admin, expired', stack.signUserToken(admin.id, { exp: now - 60, iat: now - 3600 })],
      ['admin id with role anon', stack.signUserToken(admin.id, { role: 'anon' })],
      ['a token without sub', stack.signUserToken('', { sub: undefined })],
    ];
    for (const name of ['dispatch-preview', 'dispatch-trigger']) {
      for (const [what, token] of tokens) {
        await board.attack(`${name} as ${what}`, async () => {
          const res = await post(name, JSON.stringify({ eventId, recordId: 1 }), {
            authorization: `Bearer ${token ?? stack.anonKey}`,
          });
          const body = await res.text();
          assert.ok(
            [401, 403].includes(res.status),
            `${name} as ${what}: ${res.status} ${body.slice(0, 200)}`,
          );
        });
      }
    }
    assert.equal(await rows(), before);
    const ok = await post('dispatch-preview', JSON.stringify({ eventId, recordId: 1 }), {
      authorization: `Bearer ${adminToken}`,
    });
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal(
      (await ok.json()).content.html,
      '<p>&lt;b&gt;note&lt;/b&gt;</p>',
      'record html is escaped in email html',
    );
  });

  test('malformed bodies to preview and trigger (fast-check, as the admin): a clear 4xx, no row changes', async () => {
    const before = await rows();
    const body = fc.oneof(
      fc.constantFrom(
        'null',
        '[]',
        '"x"',
        '5',
        '{"eventId":"constructor"}',
        '{"eventId":"__proto__","dryRun":true}',
        '{"eventId":null}',
      ),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 200 }),
      fc
        .record(
          {
            eventId: fc.oneof(
              fc.string({ maxLength: 50 }),
              fc.constant(eventId),
              fc.jsonValue({ maxDepth: 1 }),
            ),
            recordId: fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constant(999_999)),
            record: fc.jsonValue({ maxDepth: 2 }),
            testSendTo: fc.oneof(fc.string({ maxLength: 30 }), fc.constant('a@x.test, b@x.test')),
            idempotencyKey: fc.jsonValue({ maxDepth: 1 }),
            dryRun: fc.constant(true),
          },
          { requiredKeys: ['dryRun'] },
        )
        .map((v) => JSON.stringify(v)),
    );
    for (const name of ['dispatch-preview', 'dispatch-trigger']) {
      let breached = false;
      try {
        await fc.assert(
          fc.asyncProperty(body, async (text) => {
            const res = await post(name, text, { authorization: `Bearer ${adminToken}` });
            const answer = await res.text();
            if (res.status < 400) return; // a valid request (e.g. a preview of the real event)
            assert.ok(
              res.status < 500,
              `${name} ${res.status} on ${text.slice(0, 120)}: ${answer.slice(0, 200)}`,
            );
            const parsed = JSON.parse(answer) as { error?: { code?: string; message?: string } };
            assert.ok(parsed.error?.message, `no error message: ${answer.slice(0, 200)}`);
          }),
          { numRuns: RUNS },
        );
      } catch (error) {
        breached = true;
        throw error;
      } finally {
        board.count(`malformed bodies to ${name}`, RUNS, breached);
      }
    }
    assert.equal(await rows(), before);
  });

  test('oversized bodies (2 MiB) are a 413 with a clear error, for every function; no row changes', async () => {
    const before = await rows();
    const big = JSON.stringify({ eventId, recordId: 1, record: { note: 'x'.repeat(2 * 1024 * 1024) } });
    const id = `msg_${randomUUID()}`;
    const ts = String(Math.floor(Date.now() / 1000));
    const hookSignature = `v1,${createHmac('sha256', hookSecretRaw).update(`${id}.${ts}.${big}`).digest('base64')}`;
    const calls: [string, Record<string, string>][] = [
      ['dispatch-preview', { authorization: `Bearer ${adminToken}` }],
      ['dispatch-trigger', { authorization: `Bearer ${adminToken}` }],
      [
        'dispatch-auth-email',
        { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': hookSignature },
      ],
      ['dispatch-worker', { 'x-dispatch-secret': workerSecret }],
    ];
    for (const [name, headers] of calls) {
      await board.attack(`2 MiB body to ${name}`, async () => {
        const res = await post(name, big, headers);
        const answer = await res.text();
        assert.equal(res.status, 413, `${name}: ${res.status} ${answer.slice(0, 200)}`);
        assert.match(answer, /larger than 1048576 bytes/);
      });
    }
    assert.equal(await rows(), before);
  });

  test('hook payloads to dispatch-auth-email (fast-check): unsigned or forged are 401, signed but malformed are a clear 4xx; no row changes', async () => {
    const before = await rows();
    const sign = (id: string, ts: string, text: string, key: Buffer) =>
      `v1,${createHmac('sha256', key).update(`${id}.${ts}.${text}`).digest('base64')}`;
    const payload = fc.oneof(
      fc.constantFrom(
        'null',
        '[]',
        '"x"',
        '5',
        '{"user":null,"email_data":{"email_action_type":"constructor"}}',
      ),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 200 }),
      fc
        .record({
          user: fc.oneof(
            fc.record({ email: fc.string({ maxLength: 40 }), id: fc.string() }),
            fc.jsonValue({ maxDepth: 1 }),
          ),
          email_data: fc.oneof(
            fc.record({
              email_action_type: fc.oneof(
                fc.constantFrom('signup', 'recovery', 'magic_link', 'nope'),
                fc.string(),
              ),
              token_hash: fc.string(),
            }),
            fc.jsonValue({ maxDepth: 1 }),
          ),
        })
        .map((v) => JSON.stringify(v)),
    );
    let breached = false;
    try {
      await fc.assert(
        fc.asyncProperty(
          payload,
          fc.boolean(),
          fc.constantFrom('none', 'forged', 'stale'),
          async (text, signed, forgery) => {
            const id = `msg_${randomUUID()}`;
            const now = Math.floor(Date.now() / 1000);
            const ts = String(forgery === 'stale' && !signed ? now - 3600 : now);
            const headers: Record<string, string> = { 'webhook-id': id, 'webhook-timestamp': ts };
            if (signed) headers['webhook-signature'] = sign(id, ts, text, hookSecretRaw);
            else if (forgery !== 'none')
              headers['webhook-signature'] = sign(id, ts, text, Buffer.from('forged-key'));
            const res = await post('dispatch-auth-email', text, headers);
            const answer = await res.text();
            if (!signed)
              assert.equal(res.status, 401, `unsigned hook accepted: ${res.status} ${answer.slice(0, 200)}`);
            else {
              assert.ok(
                res.status >= 400 && res.status < 500,
                `${res.status} on ${text.slice(0, 120)}: ${answer.slice(0, 200)}`,
              );
              assert.ok(answer.length > 0);
            }
          },
        ),
        { numRuns: RUNS * 2 },
      );
    } catch (error) {
      breached = true;
      throw error;
    } finally {
      board.count('hook payloads to dispatch-auth-email', RUNS * 2, breached);
    }
    assert.equal(await rows(), before);
  });
});
