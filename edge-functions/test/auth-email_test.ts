// Deno tests of dispatch-auth-email (signature, mapping, sealed tokens) and of the admin gate of
// dispatch-preview / dispatch-trigger, with the database and the admin check injected.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHmac } from 'node:crypto';
import { serve as serveAuthEmail } from '../src/auth-email.ts';
import type { WorkerDb } from '../src/delivery/db.ts';
import type { Delivery } from '../src/delivery/types.ts';
import { unseal } from '../src/modules/seal.ts';
import { serve as servePreview } from '../src/preview.ts';
import type { Registry } from '../src/registry.ts';
import { serve as serveTrigger } from '../src/trigger.ts';

const secret = `v1,whsec_${Buffer.from('a-hook-secret-of-32-bytes-length!').toString('base64')}`;
const now = 1_790_000_000;

function signed(body: string, key = secret, timestamp = now): Headers {
  const raw = Buffer.from(key.replace(/^v1,whsec_/, ''), 'base64');
  const signature = createHmac('sha256', raw).update(`msg_1.${timestamp}.${body}`).digest('base64');
  return new Headers({
    'content-type': 'application/json',
    'webhook-id': 'msg_1',
    'webhook-timestamp': String(timestamp),
    'webhook-signature': `v1,${signature}`,
  });
}

function recordingDb() {
  const calls: unknown[][] = [];
  const db: WorkerDb = {
    query<T>(_sql: string, params: unknown[] = []) {
      calls.push(params);
      return Promise.resolve([] as T[]);
    },
  };
  return { db, calls };
}

const payload = (type: string, extra: Record<string, string> = {}) =>
  JSON.stringify({
    user: {
      id: '5a3b0d5e-55f1-4d7e-9b8f-1a2b3c4d5e6f',
      email: 'ada@example.test',
      new_email: 'ada2@example.test',
    },
    email_data: {
      token: '123456',
      token_hash: 'pkce_hash_abcdef',
      redirect_to: 'http://app.test/welcome',
      email_action_type: type,
      site_url: 'http://app.test',
      token_new: '',
      token_hash_new: '',
      ...extra,
    },
  });

const registry: Registry = { events: {} };

Deno.test('auth-email: a bad or missing signature gets 401 and sends nothing', async () => {
  const { db, calls } = recordingDb();
  const handler = serveAuthEmail(registry, {
    secret,
    db,
    now: () => now,
    authUrl: 'http://api.test/auth/v1',
  });
  const body = payload('signup');
  const attempts: Headers[] = [
    new Headers({ 'content-type': 'application/json' }),
    signed(body, `v1,whsec_${Buffer.from('another-secret-another-secret!!').toString('base64')}`),
    signed(body, secret, now - 3600),
    signed(`${body} `),
  ];
  for (const headers of attempts) {
    const response = await handler(new Request('http://fn.test/', { method: 'POST', headers, body }));
    assert.equal(response.status, 401);
    assert.match((await response.json()).error.message, /invalid hook signature/);
  }
  assert.equal(calls.length, 0);
});

Deno.test('auth-email: a signed signup makes one receipt; the link is sealed, never in clear', async () => {
  const { db, calls } = recordingDb();
  const handler = serveAuthEmail(registry, {
    secret,
    db,
    now: () => now,
    authUrl: 'http://api.test/auth/v1',
  });
  const body = payload('signup');
  const response = await handler(
    new Request('http://fn.test/', { method: 'POST', headers: signed(body), body }),
  );
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {});
  assert.equal(calls.length, 1);
  const [eventId, channel, userId, address, recordJson] = calls[0] as string[];
  assert.deepEqual(
    [eventId, channel, userId, address],
    ['auth.signup', 'email:user', '5a3b0d5e-55f1-4d7e-9b8f-1a2b3c4d5e6f', 'ada@example.test'],
  );
  assert.ok(!recordJson.includes('pkce_hash_abcdef') && !recordJson.includes('123456'));
  const record = JSON.parse(recordJson);
  assert.deepEqual(unseal(record.sealed, secret), {
    token: '123456',
    tokenHash: 'pkce_hash_abcdef',
    confirmationUrl:
      'http://api.test/auth/v1/verify?token=pkce_hash_abcdef&type=signup&redirect_to=http%3A%2F%2Fapp.test%2Fwelcome',
  });
});

Deno.test('auth-email: action types map to events; a secure email change mails both addresses', async () => {
  const expected: Record<string, string> = {
    recovery: 'auth.password_reset',
    magiclink: 'auth.magic_link',
    invite: 'auth.invite',
    reauthentication: 'auth.reauthentication',
  };
  for (const [type, eventId] of Object.entries(expected)) {
    const { db, calls } = recordingDb();
    const body = payload(type);
    const response = await serveAuthEmail(registry, { secret, db, now: () => now })(
      new Request('http://fn.test/', { method: 'POST', headers: signed(body), body }),
    );
    assert.equal(response.status, 200);
    assert.equal(calls[0][0], eventId);
  }
  const { db, calls } = recordingDb();
  const body = payload('email_change', { token_new: '654321', token_hash_new: 'pkce_current' });
  await serveAuthEmail(registry, { secret, db, now: () => now })(
    new Request('http://fn.test/', { method: 'POST', headers: signed(body), body }),
  );
  assert.deepEqual(
    calls.map((c) => c[3]),
    ['ada2@example.test', 'ada@example.test'],
  );
  const unknown = payload('sms_only');
  const refused = await serveAuthEmail(registry, { secret, db, now: () => now })(
    new Request('http://fn.test/', { method: 'POST', headers: signed(unknown), body: unknown }),
  );
  assert.equal(refused.status, 400);
});

const shop: Registry = {
  events: {
    'order.shipped': {
      id: 'order.shipped',
      table: 'public.orders',
      operations: ['UPDATE'],
      channels: [{ name: 'email:buyer', transport: 'email', audience: 'buyer', delaySeconds: 0 }],
      content: { subject: 'Order #{{number}} shipped', text: 'Hi {{customer.name}}' },
      metadata: { type: 'info' },
      strict: false,
      module: null,
    },
  },
  transports: { email: { from: 'Shop <noreply@shop.example>' } },
};

Deno.test('preview and trigger: non-admins get 403, no token 401, and nothing is read', async () => {
  const { db, calls } = recordingDb();
  for (const serve of [servePreview, serveTrigger]) {
    const handler = serve(shop, { isAdmin: () => Promise.resolve(false), db });
    const denied = await handler(
      new Request('http://fn.test/', {
        method: 'POST',
        headers: { authorization: 'Bearer x.y.z' },
        body: '{"eventId":"order.shipped","record":{}}',
      }),
    );
    assert.equal(denied.status, 403);
    const anonymous = await handler(new Request('http://fn.test/', { method: 'POST', body: '{}' }));
    assert.equal(anonymous.status, 401);
  }
  assert.equal(calls.length, 0);
});

Deno.test('preview: placeholders stand in for inline events; a test send goes to that one address, marked', async () => {
  const sent: Delivery[] = [];
  const handler = servePreview(shop, {
    isAdmin: () => Promise.resolve(true),
    callerEmail: () => 'qa@example.test',
    send: (m) => {
      sent.push(m);
      return Promise.resolve({ id: 'm1' });
    },
  });
  const auth = { authorization: 'Bearer admin' };
  const list = await (await handler(new Request('http://fn.test/', { headers: auth }))).json();
  assert.ok(list.events.some((e: { id: string }) => e.id === 'order.shipped'));
  assert.ok(list.events.some((e: { id: string }) => e.id === 'auth.password_reset'));
  const response = await handler(
    new Request('http://fn.test/', {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ eventId: 'order.shipped', testSendTo: 'qa@example.test' }),
    }),
  );
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.content.subject, 'Order #‹number› shipped');
  assert.equal(body.source, 'placeholders');
  assert.deepEqual(body.testSend, { to: 'qa@example.test', test: true, id: 'm1' });
  assert.equal(sent.length, 1);
  assert.deepEqual(sent[0].recipient, { userId: null, address: 'qa@example.test' });
  assert.equal(sent[0].transport, 'email');
  assert.equal(sent[0].content.test, true);
  assert.equal(sent[0].content.subject, 'Order #‹number› shipped');
  assert.match(sent[0].idempotencyKey, /^dispatch-test-/);
  const authPreview = await (
    await handler(
      new Request('http://fn.test/', {
        method: 'POST',
        headers: { authorization: 'Bearer admin' },
        body: JSON.stringify({ eventId: 'auth.password_reset' }),
      }),
    )
  ).json();
  assert.equal(authPreview.content.subject, 'Reset your password');
  assert.match(
    authPreview.content.text,
    /https:\/\/example\.test\/auth\/v1\/verify\?token=sample-token-hash/,
  );
  const missing = await handler(
    new Request('http://fn.test/', {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ eventId: 'order.shipped', record: { number: 1 } }),
    }),
  );
  assert.equal(missing.status, 422);
  assert.match((await missing.json()).error.message, /customer\.name/);
});

// Regression (issue 21, attack suite): a signed payload of the wrong shape crashed the function (500).
Deno.test('auth-email: a signed payload of the wrong shape is a 400 naming what is wrong, never a crash', async () => {
  const { db, calls } = recordingDb();
  const handler = serveAuthEmail(registry, {
    secret,
    db,
    now: () => now,
    authUrl: 'http://api.test/auth/v1',
  });
  const bodies: [string, RegExp][] = [
    ['null', /not a JSON object/],
    ['[1, 2]', /not a JSON object/],
    ['"signup"', /not a JSON object/],
    ['{"user": null, "email_data": null}', /email_action_type/],
    [
      '{"user": {"email": "a@b.test"}, "email_data": {"email_action_type": "constructor"}}',
      /email_action_type "constructor"/,
    ],
    [
      '{"user": {"email": "a@b.test"}, "email_data": {"email_action_type": "__proto__"}}',
      /email_action_type "__proto__"/,
    ],
    ['{"user": {"email": 5}, "email_data": {"email_action_type": "signup"}}', /user\.email: not a string/],
    // found by the attack suite: a blank address was answered 200 with nothing sent
    [
      '{"user": {"email": " ", "id": ""}, "email_data": {"email_action_type": "signup"}}',
      /user\.email: not an email address/,
    ],
    [
      '{"user": {"email": "a@b.test", "new_email": "x, y@z.test"}, "email_data": {"email_action_type": "email_change"}}',
      /user\.new_email: not an email address/,
    ],
    [
      '{"user": {"email": "a@b.test"}, "email_data": {"email_action_type": ["signup"]}}',
      /email_action_type ""/,
    ],
  ];
  for (const [body, message] of bodies) {
    const response = await handler(
      new Request('http://fn.test/', { method: 'POST', headers: signed(body), body }),
    );
    assert.equal(response.status, 400, body);
    assert.match((await response.json()).error.message, message, body);
  }
  assert.equal(calls.length, 0);
});
