import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { verifyWebhook, WebhookVerificationError } from 'supadispatch/webhooks';
import { signStandardWebhook } from '../../local/src/standard-webhooks.ts';

// The test vector published with the Standard Webhooks reference libraries.
const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const timestamp = 1614265330;
const body = '{"test": 2432232314}';
const signature = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
const at = { now: timestamp };

const headers = (overrides: Record<string, string | undefined> = {}) => {
  const all: Record<string, string | undefined> = {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signature,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as Record<string, string>;
};

function code(result: ReturnType<typeof verifyWebhook>): string | null {
  if (result.error) {
    assert.ok(result.error instanceof WebhookVerificationError);
    assert.equal(result.data, null);
    return result.error.code;
  }
  return null;
}

describe('verifyWebhook (supadispatch/webhooks)', () => {
  test('the published test vector verifies: { data: { id, timestamp, payload }, error: null }', () => {
    assert.deepEqual(verifyWebhook(body, headers(), secret, at), {
      data: { id, timestamp, payload: { test: 2432232314 } },
      error: null,
    });
    assert.equal(
      code(verifyWebhook(Buffer.from(body), headers(), secret, at)),
      null,
      'bytes as well as text',
    );
    assert.equal(code(verifyWebhook(body, new Headers(headers()), secret, at)), null, 'a Headers object');
    assert.equal(
      code(verifyWebhook(body, headers(), secret.slice('whsec_'.length), at)),
      null,
      'a bare base64 secret',
    );
    const upper = {
      'Webhook-Id': id,
      'Webhook-Timestamp': String(timestamp),
      'Webhook-Signature': signature,
    };
    assert.equal(code(verifyWebhook(body, upper, secret, at)), null, 'header names in any case');
    assert.equal(code(verifyWebhook(body, headers(), secret, { now: new Date(timestamp * 1000) })), null);
  });

  test('tampering: body, id, timestamp, signature or secret changed', () => {
    assert.equal(code(verifyWebhook('{"test": 2432232315}', headers(), secret, at)), 'invalid_signature');
    assert.equal(code(verifyWebhook(`${body} `, headers(), secret, at)), 'invalid_signature');
    assert.equal(
      code(verifyWebhook(body, headers({ 'webhook-id': `${id}x` }), secret, at)),
      'invalid_signature',
    );
    assert.equal(
      code(verifyWebhook(body, headers({ 'webhook-timestamp': String(timestamp + 1) }), secret, at)),
      'invalid_signature',
    );
    const flipped = `v1,${signature.slice(3, -2)}A=`;
    assert.equal(
      code(verifyWebhook(body, headers({ 'webhook-signature': flipped }), secret, at)),
      'invalid_signature',
    );
    assert.equal(
      code(verifyWebhook(body, headers({ 'webhook-signature': signature.slice(3) }), secret, at)),
      'invalid_signature',
      'an entry without its version',
    );
    const other = `whsec_${Buffer.from('another secret').toString('base64')}`;
    const result = verifyWebhook(body, headers(), other, at);
    assert.equal(code(result), 'invalid_signature');
    assert.equal(result.error?.header, 'webhook-signature');
  });

  test('several signatures: any v1 entry that matches is enough; other versions are ignored', () => {
    const many = `v1,bm9wZQ== v1a,${signature.slice(3)} ${signature}`;
    assert.equal(code(verifyWebhook(body, headers({ 'webhook-signature': many }), secret, at)), null);
    const v2Only = `v2,${signature.slice(3)}`;
    assert.equal(
      code(verifyWebhook(body, headers({ 'webhook-signature': v2Only }), secret, at)),
      'invalid_signature',
    );
    const repeated = { ...headers(), 'webhook-signature': ['v1,bm9wZQ==', signature] };
    assert.equal(code(verifyWebhook(body, repeated, secret, at)), null, 'repeated header lines');
  });

  test('secret rotation: a list of secrets, any of which may have signed', () => {
    const old = `whsec_${Buffer.from('the old secret!!').toString('base64')}`;
    assert.equal(code(verifyWebhook(body, headers(), [old, secret], at)), null);
    assert.equal(code(verifyWebhook(body, headers(), [old], at)), 'invalid_signature');
    assert.equal(code(verifyWebhook(body, headers(), [], at)), 'invalid_secret');
    assert.equal(code(verifyWebhook(body, headers(), 'whsec_not base64!', at)), 'invalid_secret');
    assert.equal(code(verifyWebhook(body, headers(), 'whsec_', at)), 'invalid_secret');
  });

  test('the tolerance window, both ways (default 5 minutes)', () => {
    assert.equal(code(verifyWebhook(body, headers(), secret, { now: timestamp + 300 })), null);
    assert.equal(code(verifyWebhook(body, headers(), secret, { now: timestamp - 300 })), null);
    const old = verifyWebhook(body, headers(), secret, { now: timestamp + 301 });
    assert.equal(code(old), 'timestamp_too_old');
    assert.equal(old.error?.header, 'webhook-timestamp');
    assert.equal(code(verifyWebhook(body, headers(), secret, { now: timestamp - 301 })), 'timestamp_too_new');
    assert.equal(
      code(verifyWebhook(body, headers(), secret, { now: timestamp + 3600, toleranceSeconds: 3600 })),
      null,
    );
    assert.equal(code(verifyWebhook(body, headers(), secret)), 'timestamp_too_old', 'the clock by default');
    for (const bad of ['1614265330.5', '-1', 'soon', '']) {
      const result = verifyWebhook(body, headers({ 'webhook-timestamp': bad }), secret, at);
      assert.equal(code(result), bad === '' ? 'missing_header' : 'invalid_timestamp', bad);
    }
  });

  test('missing headers are named', () => {
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
      const result = verifyWebhook(body, headers({ [name]: undefined }), secret, at);
      assert.equal(code(result), 'missing_header');
      assert.equal(result.error?.header, name);
      assert.match(result.error?.message ?? '', new RegExp(name));
    }
    assert.equal(code(verifyWebhook(body, {}, secret, at)), 'missing_header');
  });

  test('the payload: raw body only, and JSON once verified', () => {
    assert.equal(code(verifyWebhook({ test: 1 } as never, headers(), secret, at)), 'invalid_payload');
    const notJson = 'not json';
    const signed = signStandardWebhook(secret, id, timestamp, notJson);
    assert.equal(
      code(verifyWebhook(notJson, headers({ 'webhook-signature': signed }), secret, at)),
      'invalid_payload',
    );
  });

  test('what the webhook transport sends verifies, typed as { type, timestamp, data }', () => {
    const now = Math.floor(Date.now() / 1000);
    const payload = JSON.stringify({
      type: 'order.shipped',
      timestamp: '2026-01-01T10:00:00.000Z',
      data: { id: 7 },
    });
    const sent = {
      'webhook-id': 'dispatch-0b1c',
      'webhook-timestamp': String(now),
      'webhook-signature': signStandardWebhook(secret, 'dispatch-0b1c', now, payload),
    };
    const { data, error } = verifyWebhook(payload, sent, secret);
    assert.equal(error, null);
    assert.equal(data?.id, 'dispatch-0b1c');
    assert.equal(data?.payload.type, 'order.shipped');
    assert.deepEqual(data?.payload.data, { id: 7 });
  });
});
