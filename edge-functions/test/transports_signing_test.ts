// Standard Webhooks signing (transports/webhook/signature.ts) against the spec's published vector.
import assert from 'node:assert/strict';
import { signWebhook, webhookHeaders, webhookSecretKey } from '../src/transports/webhook/signature.ts';

// The test vector published with the Standard Webhooks reference libraries.
const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const timestamp = 1614265330;
const body = '{"test": 2432232314}';
const expected = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

Deno.test('webhook signing reproduces the Standard Webhooks test vector', async () => {
  assert.equal(await signWebhook(secret, id, timestamp, body), expected);
  assert.equal(await signWebhook(secret.slice('whsec_'.length), id, timestamp, body), expected);
  assert.equal(await signWebhook(`v1,${secret}`, id, timestamp, body), expected);
  assert.deepEqual(await webhookHeaders(secret, id, timestamp, body), {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': expected,
  });
  assert.equal(webhookSecretKey(secret).length, 24);
});

Deno.test('webhook signing: another body, id or timestamp signs differently; a bad secret is named', async () => {
  assert.notEqual(await signWebhook(secret, id, timestamp, '{"test": 2432232315}'), expected);
  assert.notEqual(await signWebhook(secret, `${id}x`, timestamp, body), expected);
  assert.notEqual(await signWebhook(secret, id, timestamp + 1, body), expected);
  await assert.rejects(signWebhook('whsec_not base64!', id, timestamp, body), /not base64/);
  assert.throws(() => webhookSecretKey('whsec_'), /not base64/);
});

Deno.test('webhook signing: keys are imported once per secret, and each secret keeps its own', async () => {
  const other = `whsec_${btoa('another key of the same worker')}`;
  const first = await signWebhook(other, id, timestamp, body);
  assert.notEqual(first, expected);
  // interleaved, many more secrets than the cache holds: every signature is still its secret's
  for (let i = 0; i < 40; i++) {
    const secretI = `whsec_${btoa(`key ${i}`)}`;
    assert.notEqual(await signWebhook(secretI, id, timestamp, body), expected);
    assert.equal(await signWebhook(secret, id, timestamp, body), expected);
    assert.equal(await signWebhook(other, id, timestamp, body), first);
  }
  // a malformed secret is refused every time (nothing of it is kept)
  await assert.rejects(signWebhook('whsec_not base64!', id, timestamp, body), /not base64/);
  await assert.rejects(signWebhook('whsec_not base64!', id, timestamp, body), /not base64/);
});
