// Deno tests of content preparation (templates/prepare.ts), event modules (modules/) and sealing.
import assert from 'node:assert/strict';
import type { OccurrenceRow, WorkerDb } from '../src/delivery/db.ts';
import { ContentError, type OccurrenceRecord } from '../src/delivery/types.ts';
import { builtinAuthEvent, HOOK_SECRET_ENV } from '../src/modules/auth.ts';
import { allEvents, resolveEvent } from '../src/modules/events.ts';
import { expandModuleOccurrences } from '../src/modules/expand.ts';
import { seal, unseal } from '../src/modules/seal.ts';
import type { EventModule } from '../src/modules/types.ts';
import type { Registry, RegistryEvent } from '../src/registry.ts';
import { prepare, prepareContent } from '../src/templates/prepare.ts';

const email = { name: 'email:buyer', transport: 'email', audience: 'buyer', delaySeconds: 0 };
const occurrence: OccurrenceRecord = {
  id: '11111111-1111-4111-8111-111111111111',
  eventId: 'order.shipped',
  operation: 'UPDATE',
  newRecord: { id: 7, number: 42, status: 'shipped', note: '<b>fast</b>', customer: { name: 'Ada' } },
  oldRecord: { id: 7, number: 42, status: 'paid' },
  actor: '22222222-2222-4222-8222-222222222222',
  createdAt: '2026-12-02T08:00:00.000Z',
};
const recipient = { userId: '33333333-3333-4333-8333-333333333333', address: 'ada@example.test' };

function inlineEvent(content: Record<string, unknown>): RegistryEvent {
  return {
    id: 'order.shipped',
    table: 'public.orders',
    operations: ['UPDATE'],
    channels: [email],
    content,
    metadata: { type: 'success' },
    strict: false,
    module: null,
  };
}

Deno.test('prepare: inline content from the record, old, actor and event; html escaped, text raw', async () => {
  const event = inlineEvent({
    subject: 'Order #{{number}} {{status}} (was {{old.status}})',
    html: '<p>{{customer.name}}: {{note}}</p>',
    text: '{{customer.name}}: {{note}} by {{actor}} ({{event.operation}} {{event.id}})',
    payload: { order: '{{id}}', list: ['{{number}}', 3], nested: { who: '{{recipient.address}}' } },
  });
  const { content, secrets } = await prepareContent({
    event,
    channel: email,
    occurrence,
    recipient,
    mode: 'send',
  });
  assert.equal(content.subject, 'Order #42 shipped (was paid)');
  assert.equal(content.html, '<p>Ada: &lt;b&gt;fast&lt;/b&gt;</p>');
  assert.equal(content.text, `Ada: <b>fast</b> by ${occurrence.actor} (UPDATE order.shipped)`);
  assert.deepEqual(content.payload, { order: '7', list: ['42', 3], nested: { who: 'ada@example.test' } });
  assert.deepEqual(secrets, []);
});

Deno.test('prepare: a missing variable is empty (and logged) when sending, an error in preview', async () => {
  const event = inlineEvent({ subject: 'Hi {{customer.email}}' });
  const logged: string[] = [];
  const sent = await prepare(
    { event, channel: email, occurrence, recipient, mode: 'send' },
    { log: (m) => logged.push(m) },
  );
  assert.equal(sent.content.subject, 'Hi ');
  assert.match(logged[0], /subject: \{\{customer\.email\}\}/);
  await assert.rejects(
    prepare({ event, channel: email, occurrence, recipient, mode: 'preview' }),
    (e: unknown) =>
      e instanceof ContentError && /subject: template variable \{\{customer\.email\}\}/.test(e.message),
  );
});

function moduleEvent(module: EventModule): RegistryEvent {
  return {
    ...inlineEvent({ title: 'Reset for {{displayName}}' }),
    id: 'accounts.password_reset',
    channels: [],
    module,
  };
}

const resetModule = (calls: string[]): EventModule => ({
  id: 'accounts.password_reset',
  channels: () => [{ transport: 'email', audience: 'user' }],
  recipients: (ctx) => [{ userId: String(ctx.record.id), address: String(ctx.record.email) }],
  subject: () => 'Reset your password',
  from: 'Shop <noreply@shop.example>',
  prepareTemplateAssigns: (ctx) => ({
    displayName: String(ctx.record.name),
    resetUrl: `https://shop.example/reset?token=${ctx.variables.resetToken ?? 'sample-reset-token'}`,
  }),
  templates: { html: '<a href="{{resetUrl}}">Reset, {{displayName}}</a>', text: 'Reset: {{resetUrl}}' },
  sampleData: () => ({ record: { id: 'u1', name: 'Sample <User>', email: 'sample@example.test' } }),
  generateSendVariables: (_ctx, vars) => {
    calls.push('generateSendVariables');
    return { ...vars, resetToken: 'real-token-123' };
  },
  secret: ['resetToken', 'resetUrl'],
});

const userOccurrence: OccurrenceRecord = {
  ...occurrence,
  eventId: 'accounts.password_reset',
  operation: 'MANUAL',
  newRecord: { id: 'u9', name: 'Ada <L>', email: 'ada@example.test' },
  oldRecord: null,
};

Deno.test('module: the send path makes real tokens, marks them secret, renders the templates', async () => {
  const calls: string[] = [];
  const event = moduleEvent(resetModule(calls));
  const channel = { name: 'email:user', transport: 'email', audience: 'user', delaySeconds: 0 };
  const { content, secrets } = await prepareContent({
    event,
    channel,
    occurrence: userOccurrence,
    recipient,
    mode: 'send',
  });
  assert.deepEqual(calls, ['generateSendVariables']);
  assert.equal(content.subject, 'Reset your password');
  assert.equal(content.from, 'Shop <noreply@shop.example>');
  assert.equal(content.title, 'Reset for Ada <L>');
  assert.equal(
    content.html,
    '<a href="https://shop.example/reset?token=real-token-123">Reset, Ada &lt;L&gt;</a>',
  );
  assert.equal(content.text, 'Reset: https://shop.example/reset?token=real-token-123');
  assert.ok(secrets.includes('real-token-123'));
  assert.ok(secrets.includes('https://shop.example/reset?token=real-token-123'));
  // longest first, so a token inside a secret URL does not break the URL's redaction
  assert.ok(secrets[0].length >= secrets[secrets.length - 1].length);
});

Deno.test('module: the preview path never calls generateSendVariables', async () => {
  const calls: string[] = [];
  const event = moduleEvent(resetModule(calls));
  const channel = { name: 'email:user', transport: 'email', audience: 'user', delaySeconds: 0 };
  const { content } = await prepareContent({
    event,
    channel,
    occurrence: userOccurrence,
    recipient,
    mode: 'preview',
  });
  assert.deepEqual(calls, []);
  assert.equal(content.text, 'Reset: https://shop.example/reset?token=sample-reset-token');
});

Deno.test('module: a failing generateSendVariables fails the content, never falls back to sample data', async () => {
  for (const failing of [
    () => {
      throw new Error('token service down');
    },
    () => new Error('token service down'),
    () => Promise.reject(new Error('token service down')),
  ]) {
    const module = { ...resetModule([]), generateSendVariables: failing } as EventModule;
    const channel = { name: 'email:user', transport: 'email', audience: 'user', delaySeconds: 0 };
    await assert.rejects(
      prepareContent({
        event: moduleEvent(module),
        channel,
        occurrence: userOccurrence,
        recipient,
        mode: 'send',
      }),
      (e: unknown) => e instanceof ContentError && e.message === 'generateSendVariables: token service down',
    );
  }
});

Deno.test('module: templates may be files beside the module (URL, read once)', async () => {
  const url = new URL('./templates/reset.html', 'file:///project/supabase/dispatch/reset.ts');
  const reads: string[] = [];
  const readTemplate = (u: URL) => {
    reads.push(u.href);
    return Promise.resolve('<p>{{displayName}}</p>');
  };
  const module = { ...resetModule([]), templates: { html: url } };
  const channel = { name: 'email:user', transport: 'email', audience: 'user', delaySeconds: 0 };
  for (let i = 0; i < 2; i++) {
    const { content } = await prepare(
      { event: moduleEvent(module), channel, occurrence: userOccurrence, recipient, mode: 'preview' },
      { readTemplate },
    );
    assert.equal(content.html, '<p>Ada &lt;L&gt;</p>');
  }
  assert.deepEqual(reads, ['file:///project/supabase/dispatch/templates/reset.html']);
});

/** A fake of the two SQL calls expand makes, keeping receipts unique like receipts_unique_recipient. */
function fakeDb(queued: OccurrenceRow[]) {
  const receipts = new Set<string>();
  const finished: [string, string | null][] = [];
  const db: WorkerDb = {
    query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
      if (sql.includes('module_occurrences_due')) {
        return Promise.resolve(queued.filter((q) => !finished.some(([id]) => id === q.id)) as T[]);
      }
      if (sql.includes('create_receipts')) {
        let created = 0;
        for (const r of JSON.parse(String(params[5])) as Record<string, string>[]) {
          const key = `${r.occurrence_id}|${params[1]}|${r.user_id ?? ''}|${r.address ?? ''}`;
          if (!receipts.has(key)) created++;
          receipts.add(key);
        }
        return Promise.resolve([{ created }] as T[]);
      }
      if (sql.includes('finish_module_occurrence')) {
        finished.push([String(params[0]), (params[1] as string | null) ?? null]);
        return Promise.resolve([]);
      }
      throw new Error(`unexpected SQL: ${sql}`);
    },
  };
  return { db, receipts, finished };
}

const row = (id: string, eventId: string): OccurrenceRow => ({
  id,
  event_id: eventId,
  operation: 'INSERT',
  new_record: { id: 'u9', name: 'Ada', email: 'ada@example.test' },
  old_record: null,
  actor: null,
  created_at: new Date('2026-12-02T08:00:00Z'),
});

Deno.test('expand: module recipients become receipts; twice creates nothing new; errors fail the occurrence', async () => {
  const registry: Registry = {
    events: {
      'accounts.password_reset': moduleEvent(resetModule([])),
      'broken.module': {
        ...moduleEvent({
          channels: () => [{ transport: 'email' }],
          recipients: () => {
            throw new Error('no users table');
          },
        }),
        id: 'broken.module',
      },
    },
  };
  const { db, receipts, finished } = fakeDb([
    row('o1', 'accounts.password_reset'),
    row('o2', 'broken.module'),
  ]);
  assert.equal(await expandModuleOccurrences(db, registry), 1);
  assert.deepEqual([...receipts], ['o1|email:user|u9|ada@example.test']);
  assert.deepEqual(finished, [
    ['o1', null],
    ['o2', 'module: no users table'],
  ]);
  finished.length = 0;
  const again = fakeDb([row('o1', 'accounts.password_reset')]);
  for (const key of receipts) again.receipts.add(key);
  assert.equal(await expandModuleOccurrences(again.db, registry), 0);
});

Deno.test('auth events: built in unless the config restyles them; tokens sealed, opened only to send', async () => {
  const registry: Registry = {
    events: {
      'auth.password_reset': {
        ...builtinAuthEvent('auth.password_reset'),
        module: null,
        channels: [],
        content: { subject: 'Shop: reset {{user.email}}' },
      },
    },
  };
  assert.ok(allEvents(registry).some((e) => e.id === 'auth.signup'));
  const restyled = resolveEvent(registry, 'auth.password_reset')!;
  assert.equal(restyled.content.subject, 'Shop: reset {{user.email}}');
  assert.match(String(restyled.content.html), /confirmationUrl/);
  assert.equal(resolveEvent(registry, 'nope.event'), null);

  const secret = 'v1,whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=';
  const url =
    'http://127.0.0.1:54321/auth/v1/verify?token=pkce_abc123&type=recovery&redirect_to=http%3A%2F%2Fx';
  const sealed = seal({ token: '654321', tokenHash: 'pkce_abc123', confirmationUrl: url }, secret);
  assert.deepEqual(unseal(sealed, secret), {
    token: '654321',
    tokenHash: 'pkce_abc123',
    confirmationUrl: url,
  });
  assert.throws(() => unseal(sealed, 'v1,whsec_b3RoZXI='));
  assert.throws(() => unseal(`${sealed.slice(0, -2)}AA`, secret));

  const authOccurrence: OccurrenceRecord = {
    ...occurrence,
    eventId: 'auth.password_reset',
    operation: 'AUTH',
    newRecord: { user: { email: 'ada@example.test' }, sealed },
    oldRecord: null,
  };
  const channel = restyled.channels[0];
  Deno.env.set(HOOK_SECRET_ENV, secret);
  try {
    const sent = await prepareContent({
      event: restyled,
      channel,
      occurrence: authOccurrence,
      recipient,
      mode: 'send',
    });
    assert.equal(sent.content.subject, 'Shop: reset ada@example.test');
    assert.ok(String(sent.content.text).includes(url));
    assert.ok(String(sent.content.html).includes(url.replaceAll('&', '&amp;')));
    assert.ok(sent.secrets.includes(url) && sent.secrets.includes('pkce_abc123'));
    const preview = await prepare(
      { event: restyled, channel, occurrence: authOccurrence, recipient, mode: 'preview' },
      { sampleVariables: { confirmationUrl: 'https://example.test/sample', token: '000000' } },
    );
    assert.ok(!String(preview.content.text).includes('pkce_abc123'));
    Deno.env.delete(HOOK_SECRET_ENV);
    await assert.rejects(
      prepareContent({ event: restyled, channel, occurrence: authOccurrence, recipient, mode: 'send' }),
      (e: unknown) => e instanceof ContentError && /SEND_EMAIL_HOOK_SECRET/.test(e.message),
    );
  } finally {
    Deno.env.delete(HOOK_SECRET_ENV);
  }
});

Deno.test('expand: a database error on one occurrence fails it and the round goes on', async () => {
  const registry: Registry = { events: { 'accounts.password_reset': moduleEvent(resetModule([])) } };
  const { db, finished } = fakeDb([
    row('o1', 'accounts.password_reset'),
    row('o2', 'accounts.password_reset'),
  ]);
  const failing: WorkerDb = {
    query<T>(sql: string, params: unknown[] = []) {
      if (sql.includes('create_receipts') && String(params[5]).includes('"o1"')) {
        return Promise.reject(new Error('dispatch: receipts need a user or an address'));
      }
      return db.query<T>(sql, params);
    },
  };
  assert.equal(await expandModuleOccurrences(failing, registry), 1);
  assert.deepEqual(finished, [
    ['o1', 'expansion: dispatch: receipts need a user or an address'],
    ['o2', null],
  ]);
});
