// Regression (issue 21, attack suite): request bodies are bounded (MAX_BODY_BYTES), read as a
// stream and refused with 413 once over the limit, whatever the content-length header says.
import assert from 'node:assert/strict';
import { MAX_BODY_BYTES, readBodyText, readJsonBody } from '../src/http.ts';

function streamOf(bytes: number, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const n = Math.min(chunk, bytes - sent);
      sent += n;
      controller.enqueue(new Uint8Array(n).fill(0x61));
    },
  });
}

Deno.test('http: a body over MAX_BODY_BYTES is a 413, streamed or declared; one at the limit is read', async () => {
  const over = await readBodyText(
    new Request('http://fn.test/', { method: 'POST', body: streamOf(MAX_BODY_BYTES + 1) }),
  );
  assert.ok('response' in over);
  assert.equal(over.response.status, 413);
  assert.match((await over.response.json()).error.message, /larger than 1048576 bytes/);

  const declared = await readJsonBody(
    new Request('http://fn.test/', {
      method: 'POST',
      headers: { 'content-length': String(50 * MAX_BODY_BYTES) },
      body: '{}',
    }),
  );
  assert.ok('response' in declared);
  assert.equal(declared.response.status, 413);

  const atLimit = await readBodyText(
    new Request('http://fn.test/', { method: 'POST', body: streamOf(MAX_BODY_BYTES) }),
  );
  assert.ok('text' in atLimit);
  assert.equal(atLimit.text.length, MAX_BODY_BYTES);

  const small = await readJsonBody(new Request('http://fn.test/', { method: 'POST', body: '{"a":"é"}' }));
  assert.deepEqual(small, { body: { a: 'é' } });
  assert.deepEqual(await readJsonBody(new Request('http://fn.test/', { method: 'POST' })), { body: {} });
});
