// The SSRF guard (delivery/ssrf.ts) and the guarded fetch (delivery/fetch.ts) with an injected
// resolver and fetch (no network: these run with --allow-env only).
import assert from 'node:assert/strict';
import { createGuardedFetch } from '../src/delivery/fetch.ts';
import { checkUrl, parseAllowedHosts, parseIp, RefusedUrlError, refusedRange } from '../src/delivery/ssrf.ts';

Deno.test('ssrf: IPv4 ranges', () => {
  const table: [string, string | null][] = [
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', null],
    ['192.168.1.1', 'private'],
    ['169.254.1.1', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['100.64.0.1', 'CGNAT'],
    ['100.127.255.255', 'CGNAT'],
    ['100.128.0.1', null],
    ['100.100.100.200', 'metadata'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['8.8.8.8', null],
    ['93.184.216.34', null],
    ['11.0.0.1', null],
  ];
  for (const [address, range] of table) assert.equal(refusedRange(address), range, address);
});

Deno.test('ssrf: IPv6 ranges, and IPv4 carried inside IPv6', () => {
  const table: [string, string | null][] = [
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fd00:ec2::254', 'metadata'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'private'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:8.8.8.8', null],
    ['::10.0.0.1', 'private'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:c0a8:101::1', 'private'],
    ['2002:808:808::1', null],
    ['[::1]', 'loopback'],
    ['2001:4860:4860::8888', null],
    ['2606:4700::1111', null],
  ];
  for (const [address, range] of table) assert.equal(refusedRange(address), range, address);
  assert.equal(parseIp('1::2::3'), null);
  assert.equal(parseIp('1:2:3:4:5:6:7:8:9'), null);
  assert.equal(parseIp('256.1.1.1'), null);
  assert.equal(parseIp('01.1.1.1'), null);
  assert.equal(parseIp('example.com'), null);
});

const resolver =
  (answers: Record<string, string[]>) =>
  async (host: string): Promise<string[]> => {
    const found = answers[host];
    if (!found) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
    return found;
  };

const policy = (allowed = '') => ({
  allowedHosts: parseAllowedHosts(allowed),
  resolve: resolver({
    'public.example': ['93.184.216.34', '2606:2800:220:1::1'],
    'other.public.example': ['93.184.216.35'],
    'internal.example': ['10.1.2.3'],
    'mixed.example': ['93.184.216.34', '127.0.0.1'],
    'six.example': ['fd00::5'],
    localhost: ['127.0.0.1', '::1'],
  }),
});

async function refused(url: string, allowed = ''): Promise<string> {
  const error = await checkUrl(new URL(url), policy(allowed)).then(
    () => null,
    (e) => e,
  );
  assert.ok(error instanceof RefusedUrlError, `${url} should be refused`);
  return error.message;
}

Deno.test('ssrf: URLs by literal address, by names resolving to private addresses, and by scheme', async () => {
  await checkUrl(new URL('https://public.example/hook'), policy());
  await checkUrl(new URL('http://93.184.216.34:8080/'), policy());
  assert.match(await refused('http://127.0.0.1:54326/x'), /loopback/);
  assert.match(await refused('http://[::1]/x'), /loopback/);
  assert.match(await refused('http://169.254.169.254/latest/meta-data/'), /metadata/);
  assert.match(await refused('http://[fd00:ec2::254]/'), /metadata/);
  assert.match(await refused('http://0x7f.1/'), /loopback/, 'the URL parser normalises other IPv4 spellings');
  assert.match(await refused('http://2130706433/'), /loopback/);
  assert.match(await refused('http://[::ffff:10.0.0.1]/'), /private/);
  assert.match(await refused('https://internal.example/'), /resolves to 10\.1\.2\.3 \(private address\)/);
  assert.match(await refused('https://mixed.example/'), /127\.0\.0\.1/, 'one refused address is enough');
  assert.match(await refused('https://six.example/'), /fd00::5/);
  assert.match(await refused('http://localhost:3000/'), /loopback/);
  assert.match(await refused('file:///etc/passwd'), /only http and https/);
  assert.match(await refused('ftp://public.example/'), /only http and https/);
  await assert.rejects(checkUrl(new URL('https://nowhere.example/'), policy()), /ENOTFOUND/);
});

Deno.test('ssrf: the allowlist names host:port pairs, nothing else', async () => {
  const allowed = '127.0.0.1:54326, localhost:54324,[::1]:8000';
  await checkUrl(new URL('http://127.0.0.1:54326/hook'), policy(allowed));
  await checkUrl(new URL('http://LOCALHOST:54324/emails'), policy(allowed));
  await checkUrl(new URL('http://[::1]:8000/'), policy(allowed));
  assert.match(await refused('http://127.0.0.1:54327/hook', allowed), /loopback/);
  assert.match(await refused('http://127.0.0.2:54326/hook', allowed), /loopback/);
  assert.match(await refused('http://localhost/', allowed), /loopback/);
  assert.deepEqual([...parseAllowedHosts(' a.example:80 ,, [::1]:1 ')], ['a.example:80', '::1:1']);
  assert.deepEqual([...parseAllowedHosts(undefined)], []);
  for (const bad of ['127.0.0.1', 'http://x:1', 'x:99999', 'x:']) {
    assert.throws(() => parseAllowedHosts(bad), /DISPATCH_ALLOWED_HOSTS: .* is not host:port/);
  }
});

interface Seen {
  url: string;
  method: string;
  body: string | null;
  headers: Headers;
}

/** A fetch that answers from a table of URLs and records what it was asked. */
function fakeFetch(routes: Record<string, () => Response>, seen: Seen[]): typeof fetch {
  return (async (input: URL | string, init: RequestInit = {}) => {
    const url = String(input);
    assert.equal(init.redirect, 'manual', 'redirects are never left to fetch');
    assert.ok(init.signal, 'every request has a signal');
    seen.push({
      url,
      method: init.method ?? 'GET',
      body: (init.body as string | null) ?? null,
      headers: new Headers(init.headers),
    });
    const route = routes[url];
    if (!route) throw new TypeError(`no route ${url}`);
    return route();
  }) as typeof fetch;
}

const redirect =
  (location: string, status = 302) =>
  () =>
    new Response(null, { status, headers: { location } });

Deno.test('guarded fetch: a redirect to a refused address is not followed', async () => {
  const seen: Seen[] = [];
  const guarded = createGuardedFetch({
    resolve: policy().resolve,
    fetch: fakeFetch({ 'https://public.example/hook': redirect('http://169.254.169.254/latest') }, seen),
  });
  await assert.rejects(guarded('https://public.example/hook', { method: 'POST', body: '{}' }), (e) => {
    assert.ok(e instanceof RefusedUrlError);
    assert.match(e.message, /169\.254\.169\.254.*metadata/);
    return true;
  });
  assert.equal(seen.length, 1, 'the refused hop is never requested');
  await assert.rejects(
    createGuardedFetch({ resolve: policy().resolve, fetch: fakeFetch({}, []) })('http://internal.example/'),
    RefusedUrlError,
  );
});

Deno.test('guarded fetch: redirects are followed by hand, at most a few, as fetch would', async () => {
  const seen: Seen[] = [];
  const guarded = createGuardedFetch({
    resolve: policy().resolve,
    maxRedirects: 3,
    fetch: fakeFetch(
      {
        'https://public.example/a': redirect('/b', 307),
        'https://public.example/b': redirect('https://other.public.example/c', 303),
        'https://other.public.example/c': () => new Response('done', { status: 200 }),
        'https://public.example/loop': redirect('/loop', 301),
      },
      seen,
    ),
  });
  const response = await guarded('https://public.example/a', {
    method: 'POST',
    body: '{"x":1}',
    headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
  });
  assert.equal(await response.text(), 'done');
  assert.deepEqual(
    seen.map((s) => [s.url, s.method, s.body, s.headers.get('authorization'), s.headers.get('content-type')]),
    [
      ['https://public.example/a', 'POST', '{"x":1}', 'Bearer k', 'application/json'],
      ['https://public.example/b', 'POST', '{"x":1}', 'Bearer k', 'application/json'], // 307 keeps all
      ['https://other.public.example/c', 'GET', null, null, null], // 303 → GET; other origin: no credentials
    ],
  );
  seen.length = 0;
  await assert.rejects(guarded('https://public.example/loop'), /more than 3 redirects/);
  assert.equal(seen.length, 4);
});

Deno.test('guarded fetch: every request has a timeout', async () => {
  const hanging = ((_url: URL, init: RequestInit) =>
    new Promise((_resolve, reject) => {
      init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
    })) as unknown as typeof fetch;
  const guarded = createGuardedFetch({ resolve: policy().resolve, fetch: hanging, timeoutMs: 50 });
  await assert.rejects(guarded('https://public.example/'), (e) => (e as Error).name === 'TimeoutError');
  await assert.rejects(guarded('https://public.example/', { timeoutMs: 20 }), { name: 'TimeoutError' });
  assert.throws(() => createGuardedFetch({ allowedHosts: 'nope' }), /DISPATCH_ALLOWED_HOSTS/);
});
