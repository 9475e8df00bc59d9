/**
 * dispatch-preview, dispatch-trigger and dispatch-auth-email under real Deno, through a test stack
 * (the real gateway with the functions, REST and Auth services) over the local stack's database:
 * - a temp project made with the generator (`gen`: registry and library copy) and init's entrypoints;
 * - its events registered by hand in SQL (a table, an expander, a module event) rather than with the
 *   generated migration, whose audience functions would be redefined for every other test sharing
 *   the database; everything is named after the run and removed afterwards;
 * - the test send goes to the local stack's mail catcher (MAIL_URL) through its Resend API.
 * Needs SUPABASE_ADMIN_DB_URL and MAIL_URL (npm test sets both).
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createAuthService } from '../../local/src/auth/index.ts';
import { createFunctionsService } from '../../local/src/functions/index.ts';
import { repoRoot } from '../../local/src/paths.ts';
import { createRestService } from '../../local/src/rest/index.ts';
import { startTestStack, type TestStack } from '../../local/test/support/test-stack.ts';
import { genCommand } from '../../sdk/src/cli/gen.ts';
import { captureIo } from '../../sdk/test/support/project.ts';

const adminDbUrl = process.env.SUPABASE_ADMIN_DB_URL;
const mailUrl = process.env.MAIL_URL;
const skip =
  !adminDbUrl || !mailUrl
    ? 'needs SUPABASE_ADMIN_DB_URL and MAIL_URL (the local stack; npm test sets them)'
    : false;

const run = `sdt${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const shipped = `${run}.shipped`;
const reset = `${run}.reset`;
const table = `public.${run}_orders`;
const hookSecret = `v1,whsec_${Buffer.from(`hook-secret-${run}-padding-padding`).toString('base64')}`;

const config = `import { defineDispatch } from 'supadispatch';
export default defineDispatch({
  transports: { in_app: {}, email: { provider: 'resend', from: 'Shop <noreply@shop.example>', apiKeySecret: 'RESEND_API_KEY' } },
  audiences: { buyer: { column: 'user_id' } },
  events: {
    '${shipped}': {
      table: '${table}', on: 'update',
      channels: [{ transport: 'email', audience: 'buyer' }],
      content: { subject: 'Order #{{number}} shipped', text: 'Order #{{number}} is on its way', html: '<p>Order #{{number}}: {{note}}</p>' },
    },
    '${reset}': { module: './events/reset.ts' },
  },
});
`;

// The module of the reset event: recipients from the record, real token only on the send path.
const resetModule = `export const id = '${reset}';
export function channels() { return [{ transport: 'email', audience: 'user' }]; }
export function recipients(ctx) { return [{ userId: ctx.record.user_id, address: ctx.record.email }]; }
export const subject = 'Reset your password';
export function prepareTemplateAssigns(ctx) {
  return { resetUrl: 'https://shop.example/reset?token=' + (ctx.variables.resetToken ?? 'sample-token') };
}
export const templates = { text: 'Hi {{name}}, reset here: {{resetUrl}}', html: '<a href="{{resetUrl}}">Reset, {{name}}</a>' };
export function sampleData() { return { record: { name: 'Sample <User>', email: 'sample@example.test' } }; }
export function generateSendVariables(_ctx, vars) { return { ...vars, resetToken: 'real-' + crypto.randomUUID() }; }
export const secret = ['resetToken', 'resetUrl'];
`;

// A test-only function doing the worker's render-and-store step for one receipt, without claiming it:
// the content as it is sent, and as dispatch.set_receipt_content would store it (dispatch.redact).
const probe = `import pg from 'npm:pg@8';
import * as registry from '../_generated/registry.ts';
import { resolveEvent } from '../_shared/supadispatch/modules/events.ts';
import { occurrenceRecord } from '../_shared/supadispatch/delivery/db.ts';
import { prepareContent } from '../_shared/supadispatch/templates/prepare.ts';
const pool = new pg.Pool({ connectionString: Deno.env.get('SUPABASE_DB_URL'), max: 1 });
Deno.serve(async (req) => {
  const { receiptId } = await req.json();
  const { rows: [r] } = await pool.query('select * from dispatch.receipts where id = $1', [receiptId]);
  const { rows: [o] } = await pool.query('select * from dispatch.occurrences where id = $1', [r.occurrence_id]);
  const event = resolveEvent(registry, r.event_id);
  const channel = event.channels.find((c) => c.name === r.channel) ?? event.channels[0];
  const prepared = await prepareContent({ event, channel, occurrence: occurrenceRecord(o),
    recipient: { userId: r.user_id, address: r.address }, mode: 'send' });
  const { rows: [s] } = await pool.query('select dispatch.redact($1::jsonb, $2::text[]) as stored',
    [JSON.stringify(prepared.content), prepared.secrets]);
  return Response.json({ sent: prepared.content, stored: s.stored });
});
`;

describe('dispatch-preview, dispatch-trigger, dispatch-auth-email (real Deno, test stack)', { skip }, () => {
  let stack: TestStack;
  let db: pg.Pool;
  let projectRoot: string;
  let adminToken: string;
  let userToken: string;
  const buyer = { id: randomUUID(), email: `${run}-buyer@example.test` };
  const admin = { id: randomUUID(), email: `${run}-admin@example.test` };

  const fn = (name: string, body: unknown, token?: string, headers: Record<string, string> = {}) =>
    fetch(`${stack.url}/functions/v1/${name}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        apikey: stack.anonKey,
        authorization: `Bearer ${token ?? stack.anonKey}`,
        ...headers,
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
  const counts = async () => {
    const { rows } = await db.query<{ o: string; r: string }>(
      `select (select count(*) from dispatch.occurrences where event_id like $1) as o,
              (select count(*) from dispatch.receipts where event_id like $1) as r`,
      [`${run}.%`],
    );
    return { occurrences: Number(rows[0].o), receipts: Number(rows[0].r) };
  };
  const mailTo = async (to: string) => {
    const res = await fetch(`${mailUrl}/api/messages?to=${encodeURIComponent(to)}`);
    return (await res.json()) as { subject: string; to: string[]; headers?: Record<string, string> }[];
  };

  before(async () => {
    projectRoot = join(repoRoot, '.supadispatch', `test-content-${run}`);
    const functions = join(projectRoot, 'supabase', 'functions');
    mkdirSync(join(projectRoot, 'supabase', 'migrations'), { recursive: true });
    mkdirSync(join(projectRoot, 'events'), { recursive: true });
    writeFileSync(
      join(projectRoot, 'supabase', 'config.toml'),
      `project_id = "${run}"\n\n[auth]\nsite_url = "http://127.0.0.1:3000"\nadditional_redirect_urls = ["http://127.0.0.1:3000/**"]\n\n[auth.email]\nenable_confirmations = true\n\n[functions.dispatch-auth-email]\nverify_jwt = false\n\n[functions.content-probe]\nverify_jwt = false\n`,
    );
    writeFileSync(
      join(projectRoot, 'dispatch.config.ts'),
      config.replace("from 'supadispatch'", `from '${join(repoRoot, 'sdk', 'src', 'index.ts')}'`),
    );
    writeFileSync(join(projectRoot, 'events', 'reset.ts'), resetModule);
    for (const name of ['preview', 'trigger', 'auth-email']) {
      mkdirSync(join(functions, `dispatch-${name}`), { recursive: true });
      cpSync(
        join(repoRoot, 'sdk', 'templates', 'functions', `dispatch-${name}.ts`),
        join(functions, `dispatch-${name}`, 'index.ts'),
      );
    }
    mkdirSync(join(functions, 'content-probe'), { recursive: true });
    writeFileSync(join(functions, 'content-probe', 'index.ts'), probe);
    writeFileSync(
      join(functions, '.env'),
      `SEND_EMAIL_HOOK_SECRET=${hookSecret}\nRESEND_API_URL=${mailUrl}\nRESEND_API_KEY=re_local_test_key\n`,
    );
    const io = captureIo(projectRoot);
    assert.equal(await genCommand([], io), 0, io.stderr);

    db = new pg.Pool({ connectionString: adminDbUrl, max: 2 });
    await db.query(`
      create table ${table} (id bigint primary key, user_id uuid, number int, note text);
      create function public.${run}_expand(p_occurrences dispatch.occurrences[]) returns void
      language plpgsql security definer set search_path = '' as $$
      begin
        perform dispatch.create_receipts('${shipped}', 'email:buyer', 'email', 'buyer', interval '0', array(
          select row(o.id, (o.new_record ->> 'user_id')::uuid, u.email, null)::dispatch.recipient
          from unnest(p_occurrences) o join auth.users u on u.id = (o.new_record ->> 'user_id')::uuid));
      end $$;
      select dispatch.register_event('${shipped}', 'public.${run}_expand', '${table}', p_transports => array['email']);
      select dispatch.register_event('${reset}', p_config => '{"module": "./events/reset.ts"}');
    `);
    for (const user of [buyer, admin]) {
      await db.query(
        `insert into auth.users (id, instance_id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
         values ($1, '00000000-0000-0000-0000-000000000000', 'authenticated', 'authenticated', $2, now(), '{}', '{}', now(), now())`,
        [user.id, user.email],
      );
    }
    await db.query('insert into dispatch.admins (user_id) values ($1)', [admin.id]);
    await db.query(`insert into ${table} (id, user_id, number, note) values (1, $1, 1001, '<fragile>')`, [
      buyer.id,
    ]);

    stack = await startTestStack({
      projectRoot,
      services: [
        createFunctionsService({ denoDir: join(repoRoot, '.supadispatch', 'test-deno-dir'), watch: false }),
        createRestService(),
        createAuthService({ settings: { maxFrequencySeconds: 0 }, hook: { timeoutMs: 30_000 } }),
      ],
    });
    stack.ctx.config.auth.sendEmailHook = {
      enabled: true,
      uri: `${stack.url}/functions/v1/dispatch-auth-email`,
      secrets: hookSecret,
    };
    adminToken = stack.signUserToken(admin.id, { email: admin.email });
    userToken = stack.signUserToken(buyer.id, { email: buyer.email });
  });

  after(async () => {
    await stack?.stop();
    if (db) {
      await db.query(`delete from dispatch.occurrences where event_id like $1`, [`${run}.%`]);
      await db.query(
        `delete from dispatch.occurrences where id in (select occurrence_id from dispatch.receipts where address like $1)`,
        [`${run}-%`],
      );
      await db.query(`delete from dispatch.manual_triggers where event_id like $1`, [`${run}.%`]);
      await db.query(`delete from dispatch.events where id like $1`, [`${run}.%`]);
      await db.query(`drop function if exists public.${run}_expand(dispatch.occurrences[])`);
      await db.query(`drop table if exists ${table}`);
      await db.query('delete from dispatch.admins where user_id = $1', [admin.id]);
      await db.query(`delete from auth.users where email like $1`, [`${run}-%`]);
      await db.end();
    }
    if (projectRoot) rmSync(projectRoot, { recursive: true, force: true });
  });

  test('non-admins are refused: anon 403, another user 403; nothing written', async () => {
    const before = await counts();
    for (const name of ['dispatch-preview', 'dispatch-trigger']) {
      const body = { eventId: shipped, recordId: 1 };
      const anon = await fn(name, body);
      assert.equal(anon.status, 403, `${name} anon`);
      assert.equal((await anon.json()).error.code, 'forbidden');
      const user = await fn(name, body, userToken);
      assert.equal(user.status, 403, `${name} user`);
      await user.body?.cancel();
    }
    assert.deepEqual(await counts(), before);
  });

  test('preview lists events with channels and templates, renders sample data and real records, writes and sends nothing', async () => {
    const before = await counts();
    const list = await fn('dispatch-preview', {}, adminToken);
    assert.equal(list.status, 200);
    const { events } = await list.json();
    const listed = events.find((e: { id: string }) => e.id === shipped);
    assert.deepEqual(
      listed.channels.map((c: { name: string }) => c.name),
      ['email:buyer'],
    );
    assert.equal(listed.templates.subject, 'Order #{{number}} shipped');
    assert.ok(events.some((e: { id: string; module: boolean }) => e.id === reset && e.module));

    const sample = await (await fn('dispatch-preview', { eventId: reset }, adminToken)).json();
    assert.equal(sample.source, 'sampleData');
    assert.equal(sample.channel.name, 'email:user');
    assert.equal(
      sample.content.text,
      'Hi Sample <User>, reset here: https://shop.example/reset?token=sample-token',
    );
    assert.equal(
      sample.content.html,
      '<a href="https://shop.example/reset?token=sample-token">Reset, Sample &lt;User&gt;</a>',
    );

    const real = await (await fn('dispatch-preview', { eventId: shipped, recordId: 1 }, adminToken)).json();
    assert.equal(real.source, 'record');
    assert.equal(real.content.subject, 'Order #1001 shipped');
    assert.equal(real.content.html, '<p>Order #1001: &lt;fragile&gt;</p>');

    const missing = await fn('dispatch-preview', { eventId: shipped, record: { number: 5 } }, adminToken);
    assert.equal(missing.status, 422);
    assert.match((await missing.json()).error.message, /\{\{note\}\}/);

    assert.deepEqual(await counts(), before, 'no occurrence, no receipt');
    assert.deepEqual(await mailTo(buyer.email), [], "nothing sent to the record's buyer");
  });

  test("a test send goes only to the admin's own address, marked as a test", async () => {
    const other = await fn(
      'dispatch-preview',
      { eventId: shipped, recordId: 1, testSendTo: `${run}-qa@example.test` },
      adminToken,
    );
    assert.equal(other.status, 403, 'another address is refused on the server');
    assert.match((await other.json()).error.message, /only to your own address/);
    assert.deepEqual(await mailTo(`${run}-qa@example.test`), []);
    const to = admin.email;
    const res = await fn('dispatch-preview', { eventId: shipped, recordId: 1, testSendTo: to }, adminToken);
    assert.equal(res.status, 200, await res.clone().text());
    const body = await res.json();
    assert.equal(body.testSend.to, to);
    assert.equal(body.testSend.test, true);
    const messages = await mailTo(to);
    assert.equal(messages.length, 1);
    assert.equal(messages[0].subject, '[Test] Order #1001 shipped');
    assert.deepEqual(await mailTo(buyer.email), []);
    const bad = await fn(
      'dispatch-preview',
      { eventId: shipped, recordId: 1, testSendTo: 'a@x.test, b@x.test' },
      adminToken,
    );
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
  });

  test('trigger: receipts for a real record; the same idempotency key fires once; dryRun writes nothing', async () => {
    const before = await counts();
    const dry = await fn('dispatch-trigger', { eventId: shipped, recordId: 1, dryRun: true }, adminToken);
    assert.equal(dry.status, 200);
    const plan = await dry.json();
    assert.equal(plan.dryRun, true);
    assert.deepEqual(
      plan.receipts.map((r: { channel: string; address: string }) => [r.channel, r.address]),
      [['email:buyer', buyer.email]],
    );
    assert.equal(plan.receipts[0].content.subject, 'Order #1001 shipped');
    assert.deepEqual(await counts(), before, 'a dry run writes nothing');

    const key = `${run}-key-1`;
    const first = await fn(
      'dispatch-trigger',
      { eventId: shipped, recordId: 1, idempotencyKey: key },
      adminToken,
    );
    assert.equal(first.status, 201);
    const fired = await first.json();
    assert.equal(fired.created, true);
    assert.equal(fired.receiptIds.length, 1);
    const second = await (
      await fn('dispatch-trigger', { eventId: shipped, recordId: 1, idempotencyKey: key }, adminToken)
    ).json();
    assert.equal(second.created, false);
    assert.deepEqual(second.receiptIds, fired.receiptIds);
    const after = await counts();
    assert.deepEqual(after, { occurrences: before.occurrences + 1, receipts: before.receipts + 1 });
    const { rows } = await db.query('select actor, operation from dispatch.occurrences where id = $1', [
      fired.occurrenceId,
    ]);
    assert.deepEqual(rows[0], { actor: admin.id, operation: 'MANUAL' });
  });

  test('trigger: a module event gets its receipts from the module, once', async () => {
    const record = { user_id: buyer.id, email: buyer.email, name: 'Ada' };
    const key = `${run}-key-2`;
    const first = await (
      await fn('dispatch-trigger', { eventId: reset, record, idempotencyKey: key }, adminToken)
    ).json();
    assert.equal(first.occurrence.status, 'expanded');
    assert.deepEqual(
      first.receipts.map((r: { channel: string; address: string }) => [r.channel, r.address]),
      [['email:user', buyer.email]],
    );
    const again = await (
      await fn('dispatch-trigger', { eventId: reset, record, idempotencyKey: key }, adminToken)
    ).json();
    assert.deepEqual(again.receiptIds, first.receiptIds);
    const { rows } = await db.query(
      'select count(*)::int as n from dispatch.module_queue where occurrence_id = $1',
      [first.occurrenceId],
    );
    assert.equal(rows[0].n, 0, 'expanded and off the queue');
  });

  test('auth-email: a bad signature is 401 and creates nothing', async () => {
    const before = await counts();
    const body = JSON.stringify({
      user: { email: `${run}-forged@example.test` },
      email_data: { email_action_type: 'signup' },
    });
    const res = await fetch(`${stack.url}/functions/v1/dispatch-auth-email`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': 'msg_x',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': `v1,${createHmac('sha256', 'wrong').update(body).digest('base64')}`,
      },
      body,
    });
    assert.equal(res.status, 401);
    await res.body?.cancel();
    const { rows } = await db.query(`select count(*)::int as n from dispatch.receipts where address = $1`, [
      `${run}-forged@example.test`,
    ]);
    assert.equal(rows[0].n, 0);
    assert.deepEqual(await counts(), before);
  });

  for (const flow of ['signup', 'recovery'] as const) {
    test(`auth-email: ${flow} through the local Auth hook makes a receipt; the link works and is stored redacted`, async () => {
      const email = `${run}-${flow}@example.test`;
      const auth = (path: string, body: unknown) =>
        fetch(`${stack.url}/auth/v1${path}`, {
          method: 'POST',
          headers: { apikey: stack.anonKey, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      if (flow === 'signup') {
        const res = await auth('/signup', { email, password: 'a-good-password-1' });
        assert.equal(res.status, 200, await res.clone().text());
        await res.body?.cancel();
      } else {
        await db.query(
          `insert into auth.users (id, instance_id, aud, role, email, encrypted_password, email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
           values (gen_random_uuid(), '00000000-0000-0000-0000-000000000000', 'authenticated', 'authenticated', $1, '', now(), '{}', '{}', now(), now())`,
          [email],
        );
        const res = await auth('/recover', { email });
        assert.equal(res.status, 200, await res.clone().text());
        await res.body?.cancel();
      }
      const eventId = flow === 'signup' ? 'auth.signup' : 'auth.password_reset';
      const { rows } = await db.query(
        `select r.id, r.status, r.transport, o.new_record::text as record from dispatch.receipts r
         join dispatch.occurrences o on o.id = r.occurrence_id where r.event_id = $1 and r.address = $2`,
        [eventId, email],
      );
      assert.equal(rows.length, 1, 'one receipt for the auth email');
      assert.equal(rows[0].transport, 'email');
      const { rows: tokens } = await db.query(
        `select token_hash from auth.one_time_tokens t join auth.users u on u.id = t.user_id where u.email = $1`,
        [email],
      );
      assert.ok(tokens.length > 0);
      assert.ok(!rows[0].record.includes(tokens[0].token_hash), 'the occurrence holds no token in clear');

      const probed = await (await fn('content-probe', { receiptId: rows[0].id })).json();
      const link = /(http\S+\/auth\/v1\/verify\?\S+)/.exec(String(probed.sent.text))?.[1];
      assert.ok(link, `a verify link in the email: ${probed.sent.text}`);
      assert.ok(link.includes(encodeURIComponent(tokens[0].token_hash)));
      const stored = JSON.stringify(probed.stored);
      assert.ok(stored.includes('[redacted]'));
      assert.ok(!stored.includes(tokens[0].token_hash), 'the stored content has the link redacted');

      const verified = await fetch(link, { redirect: 'manual' });
      assert.equal(verified.status, 303);
      assert.match(verified.headers.get('location') ?? '', /access_token=/, 'the link signs the user in');
    });
  }
});
