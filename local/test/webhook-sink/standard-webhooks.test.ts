import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeWebhookSecret,
  signStandardWebhook,
  standardWebhookHeaders,
  verifyStandardWebhook,
} from '../../src/standard-webhooks.ts';

// The test vector published with the Standard Webhooks reference libraries.
const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const timestamp = 1614265330;
const body = '{"test": 2432232314}';
const expected = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

const headers = (signature: string, ts: number | string = timestamp) => ({
  'webhook-id': id,
  'webhook-timestamp': String(ts),
  'webhook-signature': signature,
});

describe('Standard Webhooks', () => {
  test('signing reproduces the published test vector', () => {
    assert.equal(signStandardWebhook(secret, id, timestamp, body), expected);
    assert.equal(signStandardWebhook(secret, id, timestamp, Buffer.from(body)), expected);
    assert.deepEqual(standardWebhookHeaders(secret, id, timestamp, body)['webhook-signature'], expected);
  });

  test('the published vector verifies, with the secret as whsec_…, v1,whsec_… or bare base64', () => {
    for (const form of [secret, `v1,${secret}`, secret.slice('whsec_'.length)]) {
      assert.deepEqual(verifyStandardWebhook(form, headers(expected), body, { now: timestamp }), {
        valid: true,
        id,
        timestamp,
      });
    }
    assert.equal(decodeWebhookSecret(secret).length, 24);
  });

  test('a Headers object works as well as a plain record', () => {
    const h = new Headers(headers(expected));
    assert.equal(verifyStandardWebhook(secret, h, body, { now: timestamp }).valid, true);
    const upper = { 'Webhook-Id': id, 'Webhook-Timestamp': String(timestamp), 'Webhook-Signature': expected };
    assert.equal(verifyStandardWebhook(secret, upper, body, { now: timestamp }).valid, true);
  });

  test('any one matching v1 entry among several is enough; other versions are ignored', () => {
    const many = `v1a,${expected.slice(3)} v1,bm9wZQ== ${expected}`;
    assert.equal(verifyStandardWebhook(secret, headers(many), body, { now: timestamp }).valid, true);
    assert.equal(
      verifyStandardWebhook(secret, headers(`v2,${expected.slice(3)}`), body, { now: timestamp }).valid,
      false,
    );
  });

  test('a changed body, id, timestamp or secret does not verify', () => {
    const now = { now: timestamp };
    assert.equal(verifyStandardWebhook(secret, headers(expected), '{"test": 2432232315}', now).valid, false);
    assert.equal(
      verifyStandardWebhook(secret, { ...headers(expected), 'webhook-id': 'msg_other' }, body, now).valid,
      false,
    );
    assert.equal(verifyStandardWebhook(secret, headers(expected, timestamp + 1), body, now).valid, false);
    assert.equal(
      verifyStandardWebhook('whsec_dGhpcyBpcyBhbm90aGVyIGtleQ==', headers(expected), body, now).valid,
      false,
    );
  });

  test('timestamps outside the tolerance (default 5 minutes, both ways) are rejected', () => {
    const late = verifyStandardWebhook(secret, headers(expected), body, { now: timestamp + 301 });
    assert.deepEqual(late, { valid: false, reason: 'webhook-timestamp is too old' });
    const early = verifyStandardWebhook(secret, headers(expected), body, { now: timestamp - 301 });
    assert.deepEqual(early, { valid: false, reason: 'webhook-timestamp is in the future' });
    assert.equal(
      verifyStandardWebhook(secret, headers(expected), body, { now: timestamp + 300 }).valid,
      true,
    );
    // With the real clock the 2021 vector is far too old.
    assert.equal(verifyStandardWebhook(secret, headers(expected), body).valid, false);
  });

  test('no signature headers → null; some but not all → false', () => {
    assert.equal(verifyStandardWebhook(secret, {}, body).valid, null);
    assert.equal(verifyStandardWebhook(secret, { 'webhook-id': id }, body, { now: timestamp }).valid, false);
    const { 'webhook-signature': _omit, ...noSignature } = headers(expected);
    const result = verifyStandardWebhook(secret, noSignature, body, { now: timestamp });
    assert.deepEqual(result, { valid: false, reason: 'missing webhook-signature header' });
    assert.equal(
      verifyStandardWebhook(secret, headers(expected, '16142x'), body, { now: timestamp }).valid,
      false,
    );
  });
});
