// Response classification (delivery/classify.ts): every status class, Retry-After forms, errors.
import assert from 'node:assert/strict';
import { classifyError, classifyResponse, parseRetryAfter } from '../src/delivery/classify.ts';
import { RefusedUrlError } from '../src/delivery/ssrf.ts';

const now = Date.parse('2026-01-01T00:00:00Z');
const respond = (status: number, body = '', headers: Record<string, string> = {}) =>
  classifyResponse(new Response([204, 205, 304].includes(status) ? null : body, { status, headers }), 12, {
    now,
    messageId: (b) => (b as { id?: string }).id,
  });

Deno.test('classify: every status class', async () => {
  const table: [number, 'sent' | 'retry' | 'failed'][] = [
    [200, 'sent'],
    [201, 'sent'],
    [202, 'sent'],
    [204, 'sent'],
    [299, 'sent'],
    [300, 'failed'],
    [304, 'failed'],
    [400, 'failed'],
    [401, 'failed'],
    [403, 'failed'],
    [404, 'failed'],
    [408, 'retry'],
    [409, 'retry'],
    [410, 'failed'],
    [413, 'failed'],
    [422, 'failed'],
    [425, 'retry'],
    [429, 'retry'],
    [451, 'failed'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
    [504, 'retry'],
    [599, 'retry'],
  ];
  for (const [status, expected] of table) {
    const outcome = await respond(status, 'x');
    assert.equal(outcome.status, expected, `HTTP ${status}`);
    assert.equal(outcome.httpStatus, status);
    assert.equal(outcome.durationMs, 12);
  }
});

Deno.test('classify: 2xx keeps the provider message id and the small JSON body', async () => {
  const outcome = await respond(200, '{"id":"msg_1"}', { 'content-type': 'application/json' });
  assert.deepEqual(outcome, {
    status: 'sent',
    httpStatus: 200,
    durationMs: 12,
    providerMessageId: 'msg_1',
    response: { id: 'msg_1' },
  });
  const text = await respond(200, 'ok');
  assert.equal(text.status === 'sent' && text.response, 'ok');
  assert.equal(text.status === 'sent' && text.providerMessageId, undefined);
  const big = await respond(200, JSON.stringify({ id: 'm', pad: 'x'.repeat(5000) }));
  assert.equal(big.status === 'sent' && big.response, undefined);
  assert.equal(big.status === 'sent' && big.providerMessageId, 'm');
});

Deno.test('classify: the error names the status and a short excerpt of the body', async () => {
  const outcome = await classifyResponse(
    new Response(`{"message":  "boom"}\n${'y'.repeat(500)}`, {
      status: 503,
      statusText: 'Service Unavailable',
    }),
    5,
  );
  assert.equal(outcome.status, 'retry');
  const error = outcome.status === 'retry' ? outcome.error : '';
  assert.match(error, /^HTTP 503 Service Unavailable: \{"message": "boom"\} y+…$/);
  assert.ok(error.length < 260);
  const empty = await classifyResponse(new Response(null, { status: 404 }), 5);
  assert.equal(empty.status === 'failed' && empty.error, 'HTTP 404');
});

Deno.test('classify: Retry-After in seconds or as an HTTP date', async () => {
  const seconds = await respond(429, '', { 'retry-after': '120' });
  assert.equal(seconds.status === 'retry' && seconds.retryAfterMs, 120_000);
  const date = await respond(503, '', { 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' });
  assert.equal(date.status === 'retry' && date.retryAfterMs, 30_000);
  const none = await respond(503);
  assert.equal(none.status === 'retry' && 'retryAfterMs' in none, false);
  const permanent = await respond(410, '', { 'retry-after': '60' });
  assert.equal(permanent.status, 'failed');
  assert.equal(parseRetryAfter('0', now), 0);
  assert.equal(parseRetryAfter(' 7 ', now), 7000);
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0, 'a date in the past is now');
  assert.equal(parseRetryAfter('-5', now), undefined);
  assert.equal(parseRetryAfter('1.5', now), undefined);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter('', now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});

Deno.test('classify: network errors and timeouts retry, refused URLs fail for good', () => {
  const network = classifyError(new TypeError('error sending request: connection refused'), 3);
  assert.deepEqual(network, {
    status: 'retry',
    error: 'network error: error sending request: connection refused',
    durationMs: 3,
  });
  const timeout = classifyError(new DOMException('Signal timed out.', 'TimeoutError'), 10_000);
  assert.deepEqual(timeout, { status: 'retry', error: 'timed out after 10000 ms', durationMs: 10_000 });
  const refused = classifyError(new RefusedUrlError('refused 127.0.0.1: loopback address'), 1);
  assert.deepEqual(refused, {
    status: 'failed',
    error: 'refused 127.0.0.1: loopback address',
    durationMs: 1,
  });
});
