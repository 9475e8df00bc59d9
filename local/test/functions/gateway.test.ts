import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient, FunctionsHttpError } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { type Harness, startHarness } from './support.ts';

/** supabase-js's functions client against the service mounted on the stack's real gateway. */
describe('Edge Functions through the gateway with supabase-js', () => {
  let h: Harness;
  const client = () =>
    createClient(h.baseUrl, h.anonKey, {
      auth: { persistSession: false, autoRefreshToken: false },
      realtime: { transport: WebSocket as never },
    });

  before(async () => {
    h = await startHarness({ viaGateway: true, watch: false });
  });

  after(async () => {
    await h?.close();
  });

  test('invoke sends POST with a JSON body and the anon key as Bearer', async () => {
    const { data, error } = await client().functions.invoke('echo', { body: { hello: 'world' } });
    assert.equal(error, null);
    const echoed = data as {
      method: string;
      bodyText: string;
      pathname: string;
      headers: Record<string, string>;
    };
    assert.equal(echoed.method, 'POST');
    assert.deepEqual(JSON.parse(echoed.bodyText), { hello: 'world' });
    assert.equal(echoed.pathname, '/echo');
    assert.equal(echoed.headers.authorization, `Bearer ${h.anonKey}`);
    assert.equal(echoed.headers.apikey, h.anonKey);
  });

  test('query strings survive the gateway', async () => {
    const res = await fetch(`${h.baseUrl}/functions/v1/echo/sub?a=1&b=x%20y`, {
      headers: { authorization: `Bearer ${h.anonKey}` },
    });
    const body = (await res.json()) as { pathname: string; search: string };
    assert.equal(body.pathname, '/echo/sub');
    assert.equal(body.search, '?a=1&b=x%20y');
  });

  test('errors surface as FunctionsHttpError with the status in context', async () => {
    const thrown = await client().functions.invoke('throws');
    assert.ok(thrown.error instanceof FunctionsHttpError);
    assert.equal((thrown.error.context as Response).status, 500);
    const missing = await client().functions.invoke('does-not-exist');
    assert.ok(missing.error instanceof FunctionsHttpError);
    assert.equal((missing.error.context as Response).status, 404);
  });
});
