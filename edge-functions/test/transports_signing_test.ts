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
