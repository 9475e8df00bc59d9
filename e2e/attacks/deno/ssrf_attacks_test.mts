// .mts: outside the root tsconfig's include (e2e/**/*.ts), so Deno checks it with its own types.
// SSRF attacks on the guarded fetch every transport sends with (edge-functions/src/delivery/fetch.ts),
// with real sockets and Deno's real fetch: an allowed host (on the allowlist, as the local stack's
// webhook sink is) redirects to loopback, private, link-local and metadata addresses in every
// spelling, and to names whose DNS answers are private (an injected resolver: the DNS stub).
// A second local server stands in for the internal service: it must never be hit. Run by
// e2e/attacks/ssrf.test.ts, which reads the counts this file writes to ATTACK_COUNT_FILE.
import assert from 'node:assert/strict';
import { createGuardedFetch } from '../../../edge-functions/src/delivery/fetch.ts';
import { RefusedUrlError, systemResolver } from '../../../edge-functions/src/delivery/ssrf.ts';

const counts = { tried: 0, breaches: [] as string[] };

/** The DNS stub: names an attacker controls, answering what an attacker would. */
const answers: Record<string, string[]> = {
  'public.attacker.example': ['93.184.216.34'],
  'rebind.attacker.example': ['93.184.216.34', '127.0.0.1'],
  'metadata.attacker.example': ['169.254.169.254'],
  'mapped.attacker.example': ['::ffff:10.0.0.1'],
  'ula.attacker.example': ['fd00:ec2::254'],
  'nat64.attacker.example': ['64:ff9b::7f00:1'],
  'sixtofour.attacker.example': ['2002:7f00:1::1'],
  'cgnat.attacker.example': ['100.64.0.1'],
  'zero.attacker.example': ['0.0.0.0'],
  'linklocal6.attacker.example': ['fe80::1'],
};
const resolve = async (host: string) => answers[host] ?? systemResolver(host);

// Both servers on ports the OS picks (port 0): nothing fixed to collide with on a shared machine.
let internalHits = 0;
const internal = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen() {} }, () => {
  internalHits++;
  return new Response('internal secret');
});
// The allowed host redirects wherever `?to=` says, with the status `?status=`.
const allowed = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen() {} }, (req) => {
  const url = new URL(req.url);
  const to = url.searchParams.get('to');
  if (!to) return new Response('ok');
  return new Response(null, {
    status: Number(url.searchParams.get('status') ?? 302),
    headers: { location: to },
  });
});

const internalPort = internal.addr.port;
const allowedPort = allowed.addr.port;
const guarded = createGuardedFetch({ allowedHosts: `127.0.0.1:${allowedPort}`, resolve, timeoutMs: 5000 });

/** Refused by the guard, or a name that resolves to nothing (then nothing is dialled either). */
const refusedOrUnresolved = (error: Error) =>
  error instanceof RefusedUrlError ||
  /ENOTFOUND|resolves to no address|failed to lookup/i.test(error.message);

async function attack(name: string, check: () => Promise<void>): Promise<void> {
  counts.tried++;
  try {
    await check();
  } catch (error) {
    counts.breaches.push(name);
    throw error;
  }
}

const targets = [
  `http://127.0.0.1:${internalPort}/`,
  `http://localhost:${internalPort}/`,
  `http://localhost.:${internalPort}/`,
  `http://127.1:${internalPort}/`,
  `http://2130706433:${internalPort}/`,
  `http://0x7f000001:${internalPort}/`,
  `http://0177.0.0.1:${internalPort}/`,
  `http://[::1]:${internalPort}/`,
  `http://[::ffff:127.0.0.1]:${internalPort}/`,
  `http://[::ffff:7f00:1]:${internalPort}/`,
  `http://0.0.0.0:${internalPort}/`,
  'http://169.254.169.254/latest/meta-data/',
  'http://[fd00:ec2::254]/',
  'http://100.100.100.200/',
  'http://10.0.0.1/',
  'http://192.168.1.1/',
  'http://172.16.0.1/',
  'http://[fe80::1]/',
  `http://rebind.attacker.example:${internalPort}/`,
  'http://metadata.attacker.example/',
  'http://mapped.attacker.example/',
  'http://ula.attacker.example/',
  'http://nat64.attacker.example/',
  'http://sixtofour.attacker.example/',
  'http://cgnat.attacker.example/',
  `http://zero.attacker.example:${internalPort}/`,
  'http://linklocal6.attacker.example/',
  'file:///etc/passwd',
  'gopher://127.0.0.1:6379/_INFO',
  `ftp://127.0.0.1:${internalPort}/`,
];

Deno.test('ssrf: every private target is refused directly', async () => {
  for (const target of targets) {
    await attack(`direct ${target}`, async () => {
      await assert.rejects(guarded(target), refusedOrUnresolved, target);
    });
  }
});

Deno.test('ssrf: an allowed host redirecting (301/302/303/307/308) to a private target is refused at the hop', async () => {
  for (const status of [301, 302, 303, 307, 308]) {
    for (const target of targets) {
      await attack(`redirect ${status} to ${target}`, async () => {
        const url = `http://127.0.0.1:${allowedPort}/hook?status=${status}&to=${encodeURIComponent(target)}`;
        await assert.rejects(
          guarded(url, { method: 'POST', body: '{}' }),
          refusedOrUnresolved,
          `${status} -> ${target}`,
        );
      });
    }
  }
  // a relative redirect to the internal port on the same host is a different host:port: refused
  await attack('relative redirect to another port', async () => {
    const url = `http://127.0.0.1:${allowedPort}/hook?to=${encodeURIComponent(`//127.0.0.1:${internalPort}/x`)}`;
    await assert.rejects(guarded(url), RefusedUrlError);
  });
  // a redirect chain longer than the limit ends with a refusal, not a loop
  await attack('redirect loop', async () => {
    const self = `http://127.0.0.1:${allowedPort}/hook`;
    const url = `${self}?to=${encodeURIComponent(`${self}?to=${encodeURIComponent(`${self}?to=${encodeURIComponent(`${self}?to=${encodeURIComponent(self)}`)}`)}`)}`;
    await assert.rejects(guarded(url), /more than 3 redirects/);
  });
});

Deno.test('ssrf: the internal service was never reached, and the allowed host still works (not vacuous)', async () => {
  const ok = await guarded(`http://127.0.0.1:${allowedPort}/hook`);
  assert.equal(await ok.text(), 'ok');
  await attack('a request reached the internal service', async () => assert.equal(internalHits, 0));
  await internal.shutdown();
  await allowed.shutdown();
  const file = Deno.env.get('ATTACK_COUNT_FILE');
  if (file) await Deno.writeTextFile(file, JSON.stringify(counts));
});
