// Deno tests of the Edge Functions library (run by deno.test.ts through the repository's Deno).
import assert from 'node:assert/strict';
import { secretsEqual } from '../src/secret.ts';
import { serve } from '../src/worker.ts';

const registry = {
  events: {
    'task.created': {
      id: 'task.created',
      table: 'public.tasks',
      operations: ['INSERT'],
      channels: [
        { name: 'email:user', transport: 'email', audience: 'user', delaySeconds: 0 },
        { name: 'webhook:hooks', transport: 'webhook', audience: 'hooks', delaySeconds: 0 },
      ],
      content: {},
      metadata: {},
      strict: false,
      module: null,
    },
  },
  transports: { webhook: { signingSecret: 'TASKS_WEBHOOK_SECRET' } },
};
const secret = 'test-secret';
const handler = serve(registry, { secret });

function call(init: { headers?: Record<string, string>; body?: string }): Promise<Response> {
  return handler(new Request('http://functions.test/dispatch-worker', { method: 'POST', ...init }));
}

Deno.test('the worker answers a probe with the secret, and does no work', async () => {
  Deno.env.set('RESEND_API_KEY', 're_test');
  Deno.env.delete('TASKS_WEBHOOK_SECRET');
  Deno.env.delete('SUPABASE_DB_URL');
  const response = await call({ headers: { 'x-dispatch-secret': secret }, body: '{"probe":true}' });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {
    probe: true,
    events: 1,
    missingEnv: ['SUPABASE_DB_URL', 'TASKS_WEBHOOK_SECRET'],
  });
  Deno.env.delete('RESEND_API_KEY');
});

Deno.test('the worker refuses a missing or wrong secret with 401, naming the header', async () => {
  const attempts: Record<string, string>[] = [
    {},
    { 'x-dispatch-secret': 'wrong' },
    { 'x-dispatch-secret': '' },
  ];
  for (const headers of attempts) {
    const response = await call({ headers, body: '{"probe":true}' });
    assert.equal(response.status, 401);
    const body = await response.json();
    assert.equal(body.error.code, 'unauthorized');
    assert.match(body.error.message, /x-dispatch-secret/);
  }
});

Deno.test('the worker names a body that is not JSON, and a method that is not POST', async () => {
  const bad = await call({ headers: { 'x-dispatch-secret': secret }, body: '{probe' });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /request body: not JSON/);
  const get = await handler(
    new Request('http://functions.test/dispatch-worker', { headers: { 'x-dispatch-secret': secret } }),
  );
  assert.equal(get.status, 405);
  await get.body?.cancel();
});

Deno.test('without a configured secret the worker says which secret to set', async () => {
  Deno.env.delete('DISPATCH_WORKER_SECRET');
  const response = await serve(registry)(
    new Request('http://functions.test/', { method: 'POST', body: '{}' }),
  );
  assert.equal(response.status, 500);
  assert.match((await response.json()).error.message, /DISPATCH_WORKER_SECRET/);
});

Deno.test('secretsEqual: equal only for the same non-empty secret, whatever the lengths', () => {
  assert.equal(secretsEqual('abc', 'abc'), true);
  assert.equal(secretsEqual('abd', 'abc'), false);
  assert.equal(secretsEqual('abcd', 'abc'), false);
  assert.equal(secretsEqual('', ''), false);
});

Deno.test('a run that cannot reach its database is named in the answer of a waiting call', async () => {
  const failing = serve(registry, {
    secret,
    db: { query: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')) },
    transports: {},
    prepareContent: () => Promise.reject(new Error('unused')),
    expandModuleOccurrences: () => Promise.resolve(0),
    fetch: () => Promise.reject(new Error('unused')),
  });
  const response = await failing(
    new Request('http://functions.test/', {
      method: 'POST',
      headers: { 'x-dispatch-secret': secret },
      body: '{"wait":true}',
    }),
  );
  assert.equal(response.status, 500);
  const body = await response.json();
  assert.equal(body.error.code, 'worker_run_failed');
  assert.match(body.error.message, /ECONNREFUSED/);
});
