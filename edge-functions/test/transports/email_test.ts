// The email transport's requests (Resend API) against a local server.
import assert from 'node:assert/strict';
import { createEmailTransport } from '../../src/transports/email/index.ts';
import { batchIdempotencyKey } from '../../src/transports/email/resend.ts';
import { context, delivery, startServer } from './support.ts';

const settings = { provider: 'resend', from: 'Shop <noreply@shop.example>', apiKeySecret: 'RESEND_API_KEY' };
const email = createEmailTransport();

Deno.test('email: one message to Resend, with the key, Idempotency-Key, html and text', async () => {
  const server = startServer();
  try {
    server.answers.push(() => Response.json({ id: 'em_1' }));
    const ctx = context(server, settings, { RESEND_API_KEY: 're_test', RESEND_API_URL: `${server.url}/` });
    const outcome = await email.send(delivery(), ctx);
    assert.equal(outcome.status, 'sent');
    assert.equal(outcome.status === 'sent' && outcome.providerMessageId, 'em_1');
    assert.equal(server.requests.length, 1);
    const [request] = server.requests;
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/emails');
    assert.equal(request.headers.get('authorization'), 'Bearer re_test');
    assert.equal(request.headers.get('idempotency-key'), 'dispatch-11111111-2222-3333-4444-555555555555');
    assert.equal(request.headers.get('content-type'), 'application/json');
    assert.deepEqual(JSON.parse(request.body), {
      from: 'Shop <noreply@shop.example>',
      to: ['buyer@shop.example'],
      subject: 'Order #7 shipped',
      html: '<p>On its way</p>',
      text: 'On its way',
      tags: [{ name: 'event', value: 'order_shipped' }],
    });
    assert.equal(email.destination(delivery(), ctx), 'email:resend');
  } finally {
    await server.close();
  }
});

Deno.test('email: the event’s from and reply-to win over the transport’s; a test send is marked', async () => {
  const server = startServer();
  try {
    const ctx = context(
      server,
      { ...settings, replyTo: 'help@shop.example' },
      { RESEND_API_KEY: 'k', RESEND_API_URL: server.url },
    );
    await email.send(
      delivery({
        content: { subject: 'Hi', text: 'x', from: 'Ann <ann@shop.example>', replyTo: 'ann@shop.example' },
      }),
      ctx,
    );
    await email.send(delivery({ content: { subject: 'Hi', text: 'x', test: true } }), ctx);
    const [own, test] = server.requests.map((r) => JSON.parse(r.body));
    assert.equal(own.from, 'Ann <ann@shop.example>');
    assert.equal(own.reply_to, 'ann@shop.example');
    assert.equal(own.html, undefined);
    assert.equal(test.from, 'Shop <noreply@shop.example>');
    assert.equal(test.reply_to, 'help@shop.example');
    assert.equal(test.subject, '[Test] Hi');
    assert.deepEqual(test.headers, { 'X-Supadispatch-Test': 'true' });
  } finally {
    await server.close();
  }
});

Deno.test('email: what cannot be sent fails at once, naming what to fix; no request is made', async () => {
  const server = startServer();
  try {
    const ctx = (s: Record<string, unknown>, secrets: Record<string, string>) =>
      context(server, s, { RESEND_API_URL: server.url, ...secrets });
    const cases: [ReturnType<typeof ctx>, ReturnType<typeof delivery>, RegExp][] = [
      [ctx(settings, {}), delivery(), /secret RESEND_API_KEY is not set/],
      [ctx({ ...settings, from: undefined }, { RESEND_API_KEY: 'k' }), delivery(), /no sender/],
      [
        ctx({ ...settings, provider: 'postmark' }, { RESEND_API_KEY: 'k' }),
        delivery(),
        /unknown provider "postmark"/,
      ],
      [
        ctx(settings, { RESEND_API_KEY: 'k' }),
        delivery({ recipient: { userId: 'u', address: null } }),
        /no address/,
      ],
      [
        ctx(settings, { RESEND_API_KEY: 'k' }),
        delivery({ content: { subject: 's' } }),
        /no html, text or message/,
      ],
    ];
    for (const [c, d, error] of cases) {
      const outcome = await email.send(d, c);
      assert.equal(outcome.status, 'failed');
      assert.match(outcome.status === 'failed' ? outcome.error : '', error);
    }
    assert.equal(server.requests.length, 0);
  } finally {
    await server.close();
  }
});

Deno.test('email: provider answers are classified (422 fails, 429 retries with Retry-After)', async () => {
  const server = startServer();
  try {
    const ctx = context(server, settings, { RESEND_API_KEY: 'k', RESEND_API_URL: server.url });
    server.answers.push(
      () =>
        Response.json(
          { statusCode: 422, name: 'validation_error', message: 'Invalid `to` field.' },
          { status: 422 },
        ),
      () => Response.json({ message: 'Too many requests' }, { status: 429, headers: { 'retry-after': '2' } }),
    );
    const invalid = await email.send(delivery(), ctx);
    assert.equal(invalid.status, 'failed');
    assert.match(invalid.status === 'failed' ? invalid.error : '', /^HTTP 422.*Invalid `to` field/);
    const limited = await email.send(delivery(), ctx);
    assert.deepEqual(limited.status === 'retry' && [limited.httpStatus, limited.retryAfterMs], [429, 2000]);
  } finally {
    await server.close();
  }
});

Deno.test('email: a batch is one request to /emails/batch, ids in order; unsendable ones fail alone', async () => {
  const server = startServer();
  try {
    const ctx = context(server, settings, { RESEND_API_KEY: 'k', RESEND_API_URL: server.url });
    server.answers.push(() => Response.json({ data: [{ id: 'a' }, { id: 'c' }] }));
    const deliveries = [
      delivery({ idempotencyKey: 'dispatch-a', recipient: { userId: null, address: 'a@x.example' } }),
      delivery({ idempotencyKey: 'dispatch-b', recipient: { userId: null, address: null } }),
      delivery({ idempotencyKey: 'dispatch-c', recipient: { userId: null, address: 'c@x.example' } }),
    ];
    const outcomes = await email.sendBatch!(deliveries, ctx);
    assert.deepEqual(
      outcomes.map((o) => [o.status, o.status === 'sent' ? o.providerMessageId : o.error]),
      [
        ['sent', 'a'],
        ['failed', 'email: the receipt has no address to send to'],
        ['sent', 'c'],
      ],
    );
    assert.equal(server.requests.length, 1);
    const [request] = server.requests;
    assert.equal(request.path, '/emails/batch');
    assert.deepEqual(
      JSON.parse(request.body).map((m: { to: string[] }) => m.to[0]),
      ['a@x.example', 'c@x.example'],
    );
    const key = request.headers.get('idempotency-key') ?? '';
    assert.match(key, /^dispatch-batch-[0-9a-f]{64}$/);
    assert.equal(
      key,
      await batchIdempotencyKey([
        { idempotencyKey: 'dispatch-a' },
        { idempotencyKey: 'dispatch-c' },
      ] as never),
    );

    server.answers.push(() => new Response('upstream down', { status: 502 }));
    const failed = await email.sendBatch!(deliveries.slice(0, 1).concat(deliveries.slice(2)), ctx);
    assert.deepEqual(
      failed.map((o) => o.status),
      ['retry', 'retry'],
    );
  } finally {
    await server.close();
  }
});

Deno.test('email: batches larger than the provider takes are split', async () => {
  const server = startServer();
  try {
    const ctx = context(server, settings, { RESEND_API_KEY: 'k', RESEND_API_URL: server.url });
    const many = Array.from({ length: 101 }, (_, i) =>
      delivery({ idempotencyKey: `dispatch-${String(i).padStart(3, '0')}` }),
    );
    server.answers.push(
      () => Response.json({ data: many.slice(0, 100).map((_, i) => ({ id: `m${i}` })) }),
      () => Response.json({ id: 'm100' }),
    );
    const outcomes = await email.sendBatch!(many, ctx);
    assert.deepEqual(
      server.requests.map((r) => r.path),
      ['/emails/batch', '/emails'],
    );
    assert.equal(outcomes.length, 101);
    assert.equal(outcomes[99].status === 'sent' && outcomes[99].providerMessageId, 'm99');
    assert.equal(outcomes[100].status === 'sent' && outcomes[100].providerMessageId, 'm100');
  } finally {
    await server.close();
  }
});

Deno.test('email: the same receipts make the same batch whatever their order (key and payload)', async () => {
  const server = startServer();
  try {
    const ctx = context(server, settings, { RESEND_API_KEY: 'k', RESEND_API_URL: server.url });
    const a = delivery({ idempotencyKey: 'dispatch-a', recipient: { userId: null, address: 'a@x.example' } });
    const b = delivery({ idempotencyKey: 'dispatch-b', recipient: { userId: null, address: 'b@x.example' } });
    server.answers.push(
      () => Response.json({ data: [{ id: 'id-a' }, { id: 'id-b' }] }),
      () => Response.json({ data: [{ id: 'id-a' }, { id: 'id-b' }] }),
    );
    const first = await email.sendBatch!([b, a], ctx);
    await email.sendBatch!([a, b], ctx);
    assert.deepEqual(
      first.map((o) => o.status === 'sent' && o.providerMessageId),
      ['id-b', 'id-a'],
      'outcomes in the order given',
    );
    const [one, two] = server.requests;
    assert.equal(one.body, two.body);
    assert.equal(one.headers.get('idempotency-key'), two.headers.get('idempotency-key'));
    assert.deepEqual(
      JSON.parse(one.body).map((m: { to: string[] }) => m.to[0]),
      ['a@x.example', 'b@x.example'],
    );
  } finally {
    await server.close();
  }
});

Deno.test('email: a batch refused for one bad message is sent one by one; only the bad one fails', async () => {
  const server = startServer();
  try {
    const ctx = context(server, settings, { RESEND_API_KEY: 'k', RESEND_API_URL: server.url });
    const invalid = () =>
      Response.json(
        { statusCode: 422, name: 'validation_error', message: 'Invalid `to` field.' },
        { status: 422 },
      );
    server.answers.push(invalid, () => Response.json({ id: 'ok-1' }), invalid);
    const outcomes = await email.sendBatch!(
      [
        delivery({ idempotencyKey: 'dispatch-1', recipient: { userId: null, address: 'fine@x.example' } }),
        delivery({ idempotencyKey: 'dispatch-2', recipient: { userId: null, address: 'not an address' } }),
      ],
      ctx,
    );
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['sent', 'failed'],
    );
    assert.deepEqual(
      server.requests.map((r) => [r.path, r.headers.get('idempotency-key')]),
      [
        ['/emails/batch', server.requests[0].headers.get('idempotency-key')],
        ['/emails', 'dispatch-1'],
        ['/emails', 'dispatch-2'],
      ],
    );
  } finally {
    await server.close();
  }
});

Deno.test('email: Resend’s 409 for a key reused with another payload is permanent; in progress retries', async () => {
  const server = startServer();
  try {
    const ctx = context(server, settings, { RESEND_API_KEY: 'k', RESEND_API_URL: server.url });
    server.answers.push(
      () =>
        Response.json(
          {
            statusCode: 409,
            name: 'invalid_idempotent_request',
            message: 'Same idempotency key used with a different request payload.',
          },
          { status: 409 },
        ),
      () =>
        Response.json(
          { statusCode: 409, name: 'concurrent_idempotent_requests', message: 'still in progress' },
          { status: 409 },
        ),
    );
    assert.equal((await email.send(delivery(), ctx)).status, 'failed');
    assert.equal((await email.send(delivery(), ctx)).status, 'retry');
  } finally {
    await server.close();
  }
});
