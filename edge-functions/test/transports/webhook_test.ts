// The webhook transport's requests (Standard Webhooks) against a local server.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createWebhookTransport } from '../../src/transports/webhook/index.ts';
import { context, delivery, startServer } from './support.ts';

const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const now = Date.parse('2026-01-01T10:00:05Z');
const webhook = createWebhookTransport(() => now);

Deno.test('webhook: a signed POST of { type, timestamp, data }, webhook-id = the idempotency key', async () => {
  const server = startServer();
  try {
    const ctx = context(
      server,
      { signingSecret: 'DISPATCH_WEBHOOK_SECRET' },
      { DISPATCH_WEBHOOK_SECRET: secret },
    );
    const d = delivery({
      transport: 'webhook',
      recipient: { userId: null, address: `${server.url}/hooks/orders?x=1` },
      content: { payload: { orderId: 7, status: 'shipped' } },
    });
    const outcome = await webhook.send(d, ctx);
    assert.equal(outcome.status, 'sent');
    const [request] = server.requests;
    assert.equal(request.method, 'POST');
    assert.equal(`${request.path}${request.search}`, '/hooks/orders?x=1');
    assert.equal(request.headers.get('content-type'), 'application/json');
    assert.deepEqual(JSON.parse(request.body), {
      type: 'order.shipped',
      timestamp: '2026-01-01T10:00:00.000Z',
      data: { orderId: 7, status: 'shipped' },
    });
    const id = request.headers.get('webhook-id');
    const timestamp = request.headers.get('webhook-timestamp');
    assert.equal(id, d.idempotencyKey);
    assert.equal(timestamp, String(Math.floor(now / 1000)));
    // Verified independently of the signing code, with node:crypto.
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${request.body}`).digest('base64');
    assert.equal(request.headers.get('webhook-signature'), `v1,${expected}`);
    assert.equal(webhook.destination(d, ctx), `webhook:${server.url}`);
  } finally {
    await server.close();
  }
});

Deno.test('webhook: secret:<NAME> addresses, the default signing secret, data without a payload', async () => {
  const server = startServer();
  try {
    const ctx = context(server, {}, { DISPATCH_WEBHOOK_SECRET: secret, OPS_HOOK: `${server.url}/ops` });
    const d = delivery({
      recipient: { userId: null, address: 'secret:OPS_HOOK' },
      content: { title: 'Shipped', message: 'Order #7', actionUrl: '/orders/7', test: true },
    });
    assert.equal((await webhook.send(d, ctx)).status, 'sent');
    const [request] = server.requests;
    assert.equal(request.path, '/ops');
    assert.equal(request.headers.get('x-supadispatch-test'), 'true');
    assert.deepEqual(JSON.parse(request.body).data, {
      title: 'Shipped',
      message: 'Order #7',
      actionUrl: '/orders/7',
    });
  } finally {
    await server.close();
  }
});

Deno.test('webhook: missing secrets, bad URLs and refused hosts fail without a request', async () => {
  const server = startServer();
  try {
    const cases: [Record<string, string>, string, RegExp][] = [
      [{}, `${server.url}/x`, /secret DISPATCH_WEBHOOK_SECRET is not set/],
      [{ DISPATCH_WEBHOOK_SECRET: 'whsec_%%%' }, `${server.url}/x`, /DISPATCH_WEBHOOK_SECRET: .*not base64/],
      [{ DISPATCH_WEBHOOK_SECRET: secret }, 'secret:NOPE', /secret NOPE is not set/],
      [{ DISPATCH_WEBHOOK_SECRET: secret }, 'not a url', /"not a url" is not a URL/],
      [{ DISPATCH_WEBHOOK_SECRET: secret }, 'ftp://files.example/x', /not an http\(s\) URL/],
      [
        { DISPATCH_WEBHOOK_SECRET: secret },
        'http://127.0.0.1:1/x',
        /refused 127\.0\.0\.1:1: loopback address/,
      ],
      [{ DISPATCH_WEBHOOK_SECRET: secret }, 'http://10.0.0.8/x', /private address/],
    ];
    for (const [secrets, address, error] of cases) {
      const outcome = await webhook.send(
        delivery({ recipient: { userId: null, address } }),
        context(server, {}, secrets),
      );
      assert.equal(outcome.status, 'failed', address);
      assert.match(outcome.status === 'failed' ? outcome.error : '', error);
    }
    assert.equal(server.requests.length, 0);
  } finally {
    await server.close();
  }
});

Deno.test('webhook: 410 is permanent, 500 and 429 retry', async () => {
  const server = startServer();
  try {
    const ctx = context(server, {}, { DISPATCH_WEBHOOK_SECRET: secret });
    const d = delivery({ recipient: { userId: null, address: `${server.url}/h` } });
    server.answers.push(
      () => new Response('gone', { status: 410 }),
      () => new Response('oops', { status: 500 }),
      () => new Response('slow down', { status: 429, headers: { 'retry-after': '3' } }),
    );
    assert.equal((await webhook.send(d, ctx)).status, 'failed');
    assert.equal((await webhook.send(d, ctx)).status, 'retry');
    const limited = await webhook.send(d, ctx);
    assert.equal(limited.status === 'retry' && limited.retryAfterMs, 3000);
  } finally {
    await server.close();
  }
});

Deno.test('webhook: the setting timeoutMs bounds each request; a timeout retries', async () => {
  const server = startServer();
  try {
    server.answers.push(() => new Promise((resolve) => setTimeout(() => resolve(new Response('late')), 300)));
    const ctx = context(server, { timeoutMs: 50 }, { DISPATCH_WEBHOOK_SECRET: secret });
    const outcome = await webhook.send(
      delivery({ recipient: { userId: null, address: `${server.url}/slow` } }),
      ctx,
    );
    assert.equal(outcome.status, 'retry');
    assert.match(outcome.status === 'retry' ? outcome.error : '', /^timed out after \d+ ms$/);
  } finally {
    await server.close();
  }
});

Deno.test('webhook: the body is the same bytes whatever the order of the content keys (a retry reads jsonb)', async () => {
  const server = startServer();
  try {
    const ctx = context(server, {}, { DISPATCH_WEBHOOK_SECRET: secret });
    const address = `${server.url}/hooks`;
    // as rendered on the first attempt, and as jsonb gives it back on a retry
    const first = { payload: { id: '49', n: '59', nested: { zeta: 1, alpha: [{ b: 2, a: 1 }] } } };
    const again = { payload: { n: '59', id: '49', nested: { alpha: [{ a: 1, b: 2 }], zeta: 1 } } };
    for (const content of [first, again]) {
      const outcome = await webhook.send(
        delivery({ transport: 'webhook', recipient: { userId: null, address }, content }),
        ctx,
      );
      assert.equal(outcome.status, 'sent');
    }
    assert.equal(server.requests.length, 2);
    assert.equal(server.requests[0].body, server.requests[1].body);
    assert.deepEqual(JSON.parse(server.requests[0].body).data, first.payload);
  } finally {
    await server.close();
  }
});
