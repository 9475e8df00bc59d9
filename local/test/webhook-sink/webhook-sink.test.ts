import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { standardWebhookHeaders } from '../../src/standard-webhooks.ts';
import { createWebhookSink, type RecordedRequest, type WebhookSink } from '../../src/webhook-sink/index.ts';
import { minimalContext } from '../support/minimal-context.ts';
import { requestWithHost } from '../support/raw-request.ts';

const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
let sink: WebhookSink;

before(async () => {
  sink = createWebhookSink();
  await sink.start(minimalContext({ webhookSecret: secret }));
});

after(async () => {
  await sink.stop();
});

beforeEach(async () => {
  const res = await fetch(`${sink.url}/api/requests`, { method: 'DELETE' });
  assert.equal(res.status, 200);
});

const post = (path: string, body: string, headers: Record<string, string> = {}, signal?: AbortSignal) =>
  fetch(`${sink.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    signal,
  });

const behave = async (behaviour: Record<string, unknown>) => {
  const res = await fetch(`${sink.url}/api/behaviours`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(behaviour),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const requests = async (query = ''): Promise<RecordedRequest[]> =>
  (await (await fetch(`${sink.url}/api/requests${query}`)).json()) as RecordedRequest[];

/** Polls (bounded) until `check` holds; for state the server settles after answering. */
async function eventually(check: () => Promise<boolean>, attempts = 100): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail('condition not reached');
}

describe('webhook sink', () => {
  test('its control API refuses a Host that is not loopback; sink paths take any Host', async () => {
    assert.equal((await requestWithHost(`${sink.url}/api/requests`, 'attacker.example')).status, 403);
    assert.equal((await requestWithHost(`${sink.url}/api/requests`, `localhost:${sink.port}`)).status, 200);
    assert.equal((await requestWithHost(`${sink.url}/hooks/any-host`, 'hooks.example.test')).status, 200);
  });

  test('binds port 0 to a free port and records any request with body, query and headers', async () => {
    assert.ok(sink.port > 0);
    const res = await post('/hooks/orders?attempt=1&tag=a&tag=b', '{"hello":"world"}', { 'x-custom': 'yes' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
    const [recorded] = await requests();
    assert.equal(recorded.method, 'POST');
    assert.equal(recorded.path, '/hooks/orders');
    assert.deepEqual(recorded.query, { attempt: '1', tag: ['a', 'b'] });
    assert.equal(recorded.headers['x-custom'], 'yes');
    assert.equal(recorded.body, '{"hello":"world"}');
    assert.deepEqual(recorded.json, { hello: 'world' });
    assert.equal(recorded.signatureValid, null);
    assert.equal(recorded.response?.status, 200);
    assert.equal(recorded.aborted, false);
    assert.ok(!Number.isNaN(Date.parse(recorded.receivedAt)));

    const get = await fetch(`${sink.url}/plain`);
    assert.equal(get.status, 200);
    const plain = (await requests('?path=/plain'))[0];
    assert.equal(plain.method, 'GET');
    assert.equal(plain.json, null);
    assert.equal((await fetch(`${sink.url}/api/requests/${plain.id}`)).status, 200);
  });

  test('Standard Webhooks signatures: valid, invalid and absent', async () => {
    const body = JSON.stringify({ type: 'order.shipped', data: { id: 1 } });
    const now = Math.floor(Date.now() / 1000);
    await post('/signed', body, standardWebhookHeaders(secret, 'msg_1', now, body));
    await post(
      '/signed',
      body,
      standardWebhookHeaders('whsec_dGhpcyBpcyBhbm90aGVyIGtleQ==', 'msg_2', now, body),
    );
    await post('/signed', `${body} `, standardWebhookHeaders(secret, 'msg_3', now, body));
    await post('/signed', body, standardWebhookHeaders(secret, 'msg_4', now - 3600, body));
    await post('/signed', body);
    const recorded = await requests('?path=/signed');
    assert.deepEqual(
      recorded.map((r) => [r.headers['webhook-id'] ?? null, r.signatureValid]),
      [
        ['msg_1', true],
        ['msg_2', false],
        ['msg_3', false],
        ['msg_4', false],
        [null, null],
      ],
    );
    assert.equal(recorded[0].signatureError, null);
    assert.match(recorded[3].signatureError ?? '', /too old/);
  });

  test('fail: the next N requests get the status, then the default 200', async () => {
    const set = await behave({ path: '/flaky', mode: 'fail', count: 2, status: 503 });
    assert.equal(set.status, 201);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await post('/flaky', '{}')).status);
    assert.deepEqual(statuses, [503, 503, 200]);
    assert.deepEqual(
      (await requests('?path=/flaky')).map((r) => [r.behaviour, r.response?.status]),
      [
        ['fail', 503],
        ['fail', 503],
        [null, 200],
      ],
    );
    // Other paths are not affected; default status is 500.
    await behave({ path: '/flaky', mode: 'fail' });
    assert.equal((await post('/other', '{}')).status, 200);
    assert.equal((await post('/flaky', '{}')).status, 500);
    assert.equal((await post('/flaky', '{}')).status, 200);
  });

  test('rate_limit: 429 with Retry-After in seconds, then 200', async () => {
    await behave({ path: '/limited', mode: 'rate_limit', retryAfter: 7 });
    const limited = await post('/limited', '{}');
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '7');
    assert.equal((await post('/limited', '{}')).status, 200);
    const [first] = await requests('?path=/limited');
    assert.equal(first.response?.headers['retry-after'], '7');
  });

  test('gone: 410 until the behaviour is cleared', async () => {
    await behave({ path: '/gone', mode: 'gone', count: 1 });
    for (let i = 0; i < 3; i++) assert.equal((await post('/gone', '{}')).status, 410);
    const listed = (await (await fetch(`${sink.url}/api/behaviours`)).json()) as {
      mode: string;
      remaining: unknown;
    }[];
    assert.deepEqual(
      listed.map((b) => [b.mode, b.remaining]),
      [['gone', null]],
    );
    const cleared = await fetch(`${sink.url}/api/behaviours?path=/gone`, { method: 'DELETE' });
    assert.equal(cleared.status, 200);
    assert.equal((await post('/gone', '{}')).status, 200);
  });

  test('behaviours queue per path and "*" applies to paths without their own', async () => {
    await behave({ path: '/seq', mode: 'fail', count: 1, status: 502 });
    await behave({ path: '/seq', mode: 'rate_limit', count: 1 });
    await behave({ path: '*', mode: 'fail', count: 1, status: 500 });
    assert.equal((await post('/seq', '{}')).status, 502);
    assert.equal((await post('/seq', '{}')).status, 429);
    assert.equal((await post('/seq', '{}')).status, 500, 'the wildcard answers once the path queue is empty');
    assert.equal((await post('/seq', '{}')).status, 200);
  });

  test('hang: holds the request; a client timing out sees it, and the hang is recorded', async () => {
    const set = await behave({ path: '/slow', mode: 'hang', delayMs: 10 ** 9 });
    assert.equal(set.body.delayMs, 60_000, 'delayMs is bounded');
    await assert.rejects(post('/slow', '{"n":1}', {}, AbortSignal.timeout(150)), (error: Error) => {
      assert.match(error.name, /TimeoutError|AbortError/);
      return true;
    });
    await eventually(async () => (await requests('?path=/slow'))[0]?.aborted === true);
    const [held] = await requests('?path=/slow');
    assert.equal(held.response, null, 'nothing was answered before the client left');
    assert.equal(held.behaviour, 'hang');
    // The hang took its one use: the next request is answered at once.
    assert.equal((await post('/slow', '{"n":2}')).status, 200);

    // A short hang answers 200 after the delay and records the response.
    await behave({ path: '/slow', mode: 'hang', delayMs: 30 });
    const res = await post('/slow', '{"n":3}');
    assert.equal(res.status, 200);
    const third = (await requests('?path=/slow')).find((r) => (r.json as { n: number }).n === 3);
    assert.equal(third?.response?.status, 200);
    assert.equal(third?.aborted, false);
  });

  test('GET /api/requests?wait= long-polls for a matching path, and times out with []', async () => {
    const waiting = requests('?path=/later&wait=10000');
    await post('/not-this', '{}');
    await post('/later', '{"late":true}');
    const found = await waiting;
    assert.equal(found.length, 1);
    assert.deepEqual(found[0].json, { late: true });
    assert.deepEqual(await requests('?path=/never&wait=20'), []);
  });

  test('DELETE /api/requests clears requests and behaviours', async () => {
    await behave({ path: '/x', mode: 'gone' });
    await post('/x', '{}');
    const res = await fetch(`${sink.url}/api/requests`, { method: 'DELETE' });
    assert.deepEqual(await res.json(), { cleared: 1 });
    assert.deepEqual(await requests(), []);
    assert.deepEqual(await (await fetch(`${sink.url}/api/behaviours`)).json(), []);
    assert.equal((await post('/x', '{}')).status, 200);
  });

  test('invalid behaviours are rejected with 400 naming the problem', async () => {
    for (const [behaviour, message] of [
      [{ path: '/a', mode: 'explode' }, /mode/],
      [{ path: 'a', mode: 'fail' }, /path/],
      [{ path: '/api/requests', mode: 'gone' }, /control API/],
      [{ path: '/a', mode: 'fail', count: 0 }, /count/],
      [{ path: '/a', mode: 'fail', status: 200 }, /status/],
      [{ path: '/a', mode: 'rate_limit', retryAfter: -1 }, /retryAfter/],
    ] as const) {
      const res = await behave(behaviour);
      assert.equal(res.status, 400, JSON.stringify(behaviour));
      assert.match(String(res.body.error), message);
    }
    assert.equal((await fetch(`${sink.url}/api/nothing`)).status, 404);
  });
});

describe('webhook sink limits', () => {
  test('keeps only the newest maxRequests requests; stop() closes the port', async () => {
    const small = createWebhookSink({ maxRequests: 2 });
    await small.start(minimalContext());
    const url = small.url;
    try {
      for (let i = 1; i <= 4; i++) await fetch(`${url}/n${i}`);
      assert.deepEqual(
        small.requests().map((r) => r.path),
        ['/n3', '/n4'],
      );
    } finally {
      await small.stop();
    }
    await assert.rejects(fetch(`${url}/n5`));
  });
});
