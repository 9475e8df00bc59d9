/**
 * The transports under real Deno, from Node: the Deno tests that need sockets (each transport's
 * requests against a local server, the guarded fetch over real connections; deno.test.ts runs the
 * library's other Deno tests without network permission), and sending through the local stack's
 * mail catcher (Resend API, batch, Idempotency-Key) and webhook sink (which verifies the Standard
 * Webhooks signature with the stack's secret).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { resolveDenoBinary } from '../../local/src/functions/deno-binary.ts';

const here = dirname(fileURLToPath(import.meta.url));

function deno(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const result = spawnSync(resolveDenoBinary(), args, {
    cwd: join(here, '..'),
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, ...env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
  });
  assert.equal(result.status, 0, `deno ${args.join(' ')}:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

test('deno test: transports and the guarded fetch against local servers', () => {
  const tests = readdirSync(join(here, 'transports'))
    .filter((f) => f.endsWith('_test.ts'))
    .map((f) => join('test', 'transports', f));
  assert.ok(tests.length > 0);
  deno(['test', '--quiet', '--allow-env', '--allow-net', ...tests]);
});

interface Outcome {
  status: 'sent' | 'retry' | 'failed';
  providerMessageId?: string;
  httpStatus?: number;
  retryAfterMs?: number;
  error?: string;
}

interface CaughtMail {
  id: string;
  to: string[];
  from: string;
  subject: string;
  html: string | null;
  text: string | null;
  idempotencyKey: string | null;
}

interface SinkRequest {
  path: string;
  headers: Record<string, string>;
  json: unknown;
  signatureValid: boolean | null;
  signatureError: string | null;
}

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  assert.ok(response.ok, `${init?.method ?? 'GET'} ${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

test('through the local stack: mail catcher (Resend API, batch, Idempotency-Key) and webhook sink (signature valid)', async (t) => {
  const { MAIL_URL, WEBHOOK_SINK_URL, WEBHOOK_SECRET } = process.env;
  if (!MAIL_URL || !WEBHOOK_SINK_URL || !WEBHOOK_SECRET) {
    t.skip('needs the local stack: MAIL_URL, WEBHOOK_SINK_URL and WEBHOOK_SECRET (npm test sets them)');
    return;
  }
  const run = randomUUID().slice(0, 8);
  const sink = WEBHOOK_SINK_URL.replace(/\/+$/, '');
  await getJson(`${sink}/api/behaviours`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path: `/transports-${run}/limited`, mode: 'rate_limit', retryAfter: 7 }),
  });
  await getJson(`${sink}/api/behaviours`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path: `/transports-${run}/gone`, mode: 'gone' }),
  });
  // The stack's services are on loopback: allowed by configuration, as the local stack does for functions.
  const allowed = [MAIL_URL, WEBHOOK_SINK_URL].map((u) => new URL(u).host).join(',');
  const stdout = deno(
    ['run', '--allow-env', '--allow-net', join('test', 'transports', 'send-through-stack.ts')],
    {
      RUN_ID: run,
      DISPATCH_ALLOWED_HOSTS: allowed,
    },
  );
  const outcomes = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<
    string,
    Outcome & Outcome[]
  >;

  // Email: one message per idempotency key, whatever was repeated.
  assert.equal(outcomes.single.status, 'sent', JSON.stringify(outcomes.single));
  assert.equal(
    outcomes.singleAgain.providerMessageId,
    outcomes.single.providerMessageId,
    'replayed, not resent',
  );
  const singles = await getJson<CaughtMail[]>(`${MAIL_URL}/api/messages?to=single-${run}@shop.example`);
  assert.equal(singles.length, 1);
  assert.equal(singles[0].id, outcomes.single.providerMessageId);
  assert.equal(singles[0].idempotencyKey, `dispatch-${run}-single`);
  assert.equal(singles[0].from, 'Shop <noreply@shop.example>');
  assert.equal(singles[0].subject, 'Order single shipped');
  assert.equal(singles[0].html, '<p>Order <b>single</b></p>');
  assert.equal(singles[0].text, 'Order single');

  assert.deepEqual(
    outcomes.batch.map((o) => o.status),
    ['sent', 'sent'],
  );
  assert.deepEqual(
    outcomes.batchAgain.map((o) => o.providerMessageId),
    outcomes.batch.map((o) => o.providerMessageId),
  );
  for (const [i, outcome] of outcomes.batch.entries()) {
    const caught = await getJson<CaughtMail[]>(
      `${MAIL_URL}/api/messages?to=batch${i + 1}-${run}@shop.example`,
    );
    assert.equal(caught.length, 1, `batch message ${i + 1} caught once`);
    assert.equal(caught[0].id, outcome.providerMessageId);
    assert.match(caught[0].idempotencyKey ?? '', /^dispatch-batch-[0-9a-f]{64}$/);
  }

  // Webhook: the sink verified the signature with the stack's secret.
  assert.equal(outcomes.webhook.status, 'sent', JSON.stringify(outcomes.webhook));
  const received = await getJson<SinkRequest[]>(`${sink}/api/requests?path=/transports-${run}/ok`);
  assert.equal(received.length, 1);
  assert.equal(received[0].signatureValid, true, received[0].signatureError ?? '');
  assert.equal(received[0].headers['webhook-id'], `dispatch-${run}-hook`);
  assert.deepEqual(received[0].json, {
    type: 'order.shipped',
    timestamp: '2026-01-01T10:00:00.000Z',
    data: { orderId: 7 },
  });

  // The sink rate-limiting with Retry-After, and answering 410.
  assert.deepEqual(
    [outcomes.limited.status, outcomes.limited.httpStatus, outcomes.limited.retryAfterMs],
    ['retry', 429, 7000],
  );
  assert.deepEqual([outcomes.gone.status, outcomes.gone.httpStatus], ['failed', 410]);
  const limited = await getJson<SinkRequest[]>(`${sink}/api/requests?path=/transports-${run}/limited`);
  assert.equal(limited[0]?.signatureValid, true);
  await fetch(`${sink}/api/behaviours?path=/transports-${run}/gone`, { method: 'DELETE' });
});
