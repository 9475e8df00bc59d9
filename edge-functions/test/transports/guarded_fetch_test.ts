// The guarded fetch over real sockets and the system resolver: the allowlist, a redirect from an
// allowed host to one that is not, names that resolve to loopback, and a server that never answers.
import assert from 'node:assert/strict';
import { createGuardedFetch } from '../../src/delivery/fetch.ts';
import { RefusedUrlError, systemResolver } from '../../src/delivery/ssrf.ts';
import { startServer } from './support.ts';

Deno.test('guarded fetch: only the allowlisted host:port of a local server is reachable', async () => {
  const allowed = startServer();
  const other = startServer();
  try {
    const guarded = createGuardedFetch({ allowedHosts: allowed.hostPort });
    assert.equal((await guarded(`${allowed.url}/x`)).status, 200);
    await assert.rejects(guarded(`${other.url}/x`), RefusedUrlError);
    await assert.rejects(
      guarded(`http://localhost:${new URL(allowed.url).port}/x`),
      /resolves to .*loopback/,
    );
    allowed.answers.push(
      () => new Response(null, { status: 302, headers: { location: `${other.url}/stolen` } }),
    );
    await assert.rejects(guarded(`${allowed.url}/redirect`), /refused 127\.0\.0\.1:\d+: loopback address/);
    assert.equal(other.requests.length, 0, 'the refused hop was never requested');
    allowed.answers.push(() => new Response(null, { status: 307, headers: { location: '/final' } }));
    const followed = await guarded(`${allowed.url}/hop`, { method: 'POST', body: 'b' });
    assert.equal(followed.status, 200);
    await followed.body?.cancel();
    assert.deepEqual(
      allowed.requests.slice(-2).map((r) => [r.method, r.path, r.body]),
      [
        ['POST', '/hop', 'b'],
        ['POST', '/final', 'b'],
      ],
    );
  } finally {
    await allowed.close();
    await other.close();
  }
});

Deno.test('guarded fetch: the system resolver reads what fetch would dial (localhost)', async () => {
  const addresses = await systemResolver('localhost');
  assert.ok(
    addresses.some((a) => a === '127.0.0.1' || a === '::1'),
    addresses.join(', '),
  );
});

Deno.test('guarded fetch: a server that never answers times out', async () => {
  const listener = Deno.listen({ hostname: '127.0.0.1', port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    const guarded = createGuardedFetch({ allowedHosts: `127.0.0.1:${port}` });
    await assert.rejects(guarded(`http://127.0.0.1:${port}/`, { timeoutMs: 100 }), { name: 'TimeoutError' });
  } finally {
    listener.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
  }
});
