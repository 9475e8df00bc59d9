// The isolate's 'beforeunload' (the Edge runtime ends it: wall clock, CPU or memory): pokes are
// refused with 503 from then on, so a hand-over does not land on an isolate that is going away.
import assert from 'node:assert/strict';
import { serve } from '../src/worker.ts';

Deno.test('after beforeunload the worker refuses pokes with 503 (a hand-over goes elsewhere)', async () => {
  const handler = serve({ events: {} }, { secret: 's3cret' });
  globalThis.dispatchEvent(new Event('beforeunload'));
  const response = await handler(
    new Request('http://functions.test/dispatch-worker', {
      method: 'POST',
      headers: { 'x-dispatch-secret': 's3cret' },
      body: '{"reason":"handover","alarm":"chain-1"}',
    }),
  );
  assert.equal(response.status, 503);
  assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'worker_unloading');
});
