import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { signJwt } from '../../src/jwt.ts';
import { repoRoot } from '../../src/paths.ts';
import {
  denoChildren,
  fixturesDir,
  type Harness,
  jwtSecret,
  poll,
  processExists,
  startHarness,
} from './support.ts';

// Boot of a Deno process is well under a second here; these bounds only keep a broken run finite.
const requestTimeoutMs = 4000;

describe('Edge Functions service (real Deno)', () => {
  let h: Harness;
  const url = (path: string) => `${h.baseUrl}/functions/v1${path}`;
  const auth = () => ({ authorization: `Bearer ${h.anonKey}`, apikey: h.anonKey });

  before(async () => {
    h = await startHarness({ requestTimeoutMs, bootTimeoutMs: 20_000 });
  });

  after(async () => {
    await h?.close();
  });

  test('lists the functions on disk, skipping _shared', () => {
    const names = h.service.listFunctions();
    assert.ok(names.includes('echo'));
    assert.ok(names.includes('npm-import'));
    assert.ok(!names.includes('_shared'));
  });

  test('unknown function and _-prefixed folders answer 404 "Function not found"', async () => {
    for (const path of ['/nope', '/_shared', '/_shared/cors.ts', '/', '/.env']) {
      const res = await fetch(url(path), { headers: auth() });
      assert.equal(res.status, 404, path);
      assert.equal(await res.text(), 'Function not found');
    }
  });

  test('verify_jwt on: no Authorization header is a 401 with the CLI wording', async () => {
    const res = await fetch(url('/echo'), { method: 'POST' });
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { msg: 'Error: Missing authorization header' });
  });

  test('verify_jwt on: an apikey header alone is not enough', async () => {
    const res = await fetch(url('/echo'), { headers: { apikey: h.anonKey } });
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { msg: 'Error: Missing authorization header' });
  });

  test('verify_jwt on: a non-Bearer scheme, a bad signature and an expired token are rejected', async () => {
    const basic = await fetch(url('/echo'), { headers: { authorization: 'Basic abc' } });
    assert.equal(basic.status, 401);
    assert.deepEqual(await basic.json(), { msg: "Error: Auth header is not 'Bearer {token}'" });

    const forged = signJwt({ role: 'service_role' }, 'another-secret-another-secret-another-secret');
    const bad = await fetch(url('/echo'), { headers: { authorization: `Bearer ${forged}` } });
    assert.equal(bad.status, 401);
    assert.deepEqual(await bad.json(), { msg: 'Invalid JWT' });

    const now = Math.floor(Date.now() / 1000);
    const expired = signJwt(
      { role: 'authenticated', sub: 'u1', iat: now - 7200, exp: now - 3600 },
      jwtSecret,
    );
    const old = await fetch(url('/echo'), { headers: { authorization: `Bearer ${expired}` } });
    assert.equal(old.status, 401);
    assert.deepEqual(await old.json(), { msg: 'Invalid JWT' });

    const garbage = await fetch(url('/echo'), { headers: { authorization: 'Bearer not-a-jwt' } });
    assert.equal(garbage.status, 401);
    assert.deepEqual(await garbage.json(), { msg: 'Invalid JWT' });
  });

  test('verify_jwt on: a valid user JWT reaches the function', async () => {
    const now = Math.floor(Date.now() / 1000);
    const user = signJwt(
      { role: 'authenticated', sub: 'u1', aud: 'authenticated', exp: now + 600 },
      jwtSecret,
    );
    const res = await fetch(url('/echo/some/path?x=1&y=two'), {
      headers: { authorization: `Bearer ${user}` },
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.pathname, '/echo/some/path');
    assert.equal(body.search, '?x=1&y=two');
    assert.equal((body.headers as Record<string, string>).authorization, `Bearer ${user}`);
  });

  test('CORS preflight is left to the function, without a JWT', async () => {
    const res = await fetch(url('/echo'), {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.equal(await res.text(), 'ok');
  });

  test('POST body, status, headers and query round-trip; forwarded headers are set', async () => {
    const res = await fetch(url('/echo?hello=world'), {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json', 'x-custom': 'yes' },
      body: JSON.stringify({ name: 'Ada', n: 1 }),
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-fixture'), 'echo');
    assert.deepEqual(res.headers.getSetCookie(), ['a=1; Path=/', 'b=2; Path=/']);
    const body = (await res.json()) as { headers: Record<string, string>; [k: string]: unknown };
    assert.equal(body.method, 'POST');
    assert.deepEqual(JSON.parse(body.bodyText as string), { name: 'Ada', n: 1 });
    assert.equal(body.search, '?hello=world');
    assert.equal(body.headers['x-custom'], 'yes');
    assert.equal(body.headers['content-type'], 'application/json');
    assert.equal(body.headers.apikey, h.anonKey);
    assert.equal(body.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(body.headers['x-forwarded-proto'], 'http');
    assert.equal(body.headers['x-forwarded-host'], new URL(h.baseUrl).host);
    assert.equal(new URL(body.url as string).host, new URL(h.baseUrl).host);
  });

  test('a large binary body arrives intact, with every method', async () => {
    const payload = randomBytes(3 * 1024 * 1024 + 17);
    const digest = createHash('sha256').update(payload).digest('hex');
    for (const method of ['PUT', 'PATCH', 'DELETE', 'POST']) {
      const res = await fetch(url('/echo/upload'), {
        method,
        headers: { ...auth(), 'content-type': 'application/octet-stream' },
        body: payload,
      });
      const body = (await res.json()) as { method: string; bodyLength: number; bodySha256: string };
      assert.equal(body.method, method);
      assert.equal(body.bodyLength, payload.length);
      assert.equal(body.bodySha256, digest);
    }
    const head = await fetch(url('/echo'), { method: 'HEAD', headers: auth() });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  test('verify_jwt = false: reachable with an apikey only, or with nothing', async () => {
    const withKey = await fetch(url('/verify-off'), { headers: { apikey: h.anonKey } });
    assert.equal(withKey.status, 200);
    assert.deepEqual(await withKey.json(), { version: 1, authorization: null, apikey: h.anonKey });
    const bare = await fetch(url('/verify-off'));
    assert.equal(bare.status, 200);
    const invalid = await fetch(url('/verify-off'), { headers: { authorization: 'Bearer garbage' } });
    assert.equal(invalid.status, 200, 'an invalid token is passed through when verify_jwt is off');
  });

  test('the function sees SUPABASE_* variables and .env secrets, nothing internal', async () => {
    const res = await fetch(url('/env-dump'), { headers: auth() });
    assert.equal(res.status, 200);
    const env = (await res.json()) as Record<string, string>;
    assert.equal(env.SUPABASE_URL, h.ctx.urls.api);
    assert.equal(env.SUPABASE_ANON_KEY, h.ctx.keys.anonKey);
    assert.equal(env.SUPABASE_SERVICE_ROLE_KEY, h.ctx.keys.serviceRoleKey);
    assert.equal(env.SUPABASE_DB_URL, h.ctx.urls.db);
    assert.equal(env.FIXTURE_SECRET, 's3cret value');
    assert.equal(env.FIXTURE_EXPORTED, 'exported');
    assert.equal(env.FIXTURE_SINGLE, 'single # kept');
    assert.equal(env.FIXTURE_FROM_CONFIG, 'from config', '[edge_runtime.secrets] of config.toml');
    assert.equal(env.FIXTURE_OVERRIDDEN, 'env file value', 'the env file overrides config.toml');
    assert.equal(env.FIXTURE_FROM_ENV_REF, '', 'env(NAME) of an unset variable is empty');
    assert.equal(
      Object.keys(env).filter((k) => k.startsWith('SUPADISPATCH_')).length,
      0,
      'no internal variables leak',
    );
    assert.equal(env.JWT_SECRET, undefined);
    assert.ok(
      h.logs.some((line) => line.includes('skipping SUPABASE_URL')),
      'the reserved name is reported',
    );
  });

  test('npm: imports resolve from node_modules without network, node: built-ins work', async () => {
    const res = await fetch(url('/npm-import'), {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'zod' }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), {
      ok: true,
      name: 'zod',
      hash: createHash('sha256').update('zod').digest('hex'),
    });
    const invalid = await fetch(url('/npm-import'), {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ name: '' }),
    });
    assert.equal(invalid.status, 400);
  });

  test('a throwing handler gives 500 WORKER_ERROR, logs the stack, and the process stays up', async () => {
    const before = (await (await fetch(url('/throws/ok'), { headers: auth() })).json()) as { pid: number };
    const res = await fetch(url('/throws'), { headers: auth() });
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), {
      code: 'WORKER_ERROR',
      message: 'Function exited due to an error (please check logs)',
    });
    const logged = h.logs.find((line) => line.includes('boom from fixture'));
    assert.ok(logged, 'the error is in the stack log');
    assert.match(logged, /explode/, 'with its stack trace');
    assert.match(logged, /throws\/index\.ts/);
    const next = await fetch(url('/throws/ok'), { headers: auth() });
    assert.equal(next.status, 200);
    assert.equal(((await next.json()) as { pid: number }).pid, before.pid, 'same process');
    const other = await fetch(url('/echo'), { headers: auth() });
    assert.equal(other.status, 200);
  });

  test('a Deno process that dies is restarted on the next request', async () => {
    const first = (await (await fetch(url('/throws/ok'), { headers: auth() })).json()) as { pid: number };
    const crash = await fetch(url('/throws/crash'), { headers: auth() });
    assert.equal(crash.status, 500);
    await crash.arrayBuffer();
    await poll(
      () => processExists(first.pid),
      (exists) => !exists,
    );
    const again = await fetch(url('/throws/ok'), { headers: auth() });
    assert.equal(again.status, 200);
    const second = (await again.json()) as { pid: number };
    assert.notEqual(second.pid, first.pid);
  });

  test('a function that fails at import answers 503 BOOT_ERROR and logs why', async () => {
    const res = await fetch(url('/boot-fail'), { headers: auth() });
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), {
      code: 'BOOT_ERROR',
      message: 'Worker failed to boot (please check logs)',
    });
    assert.ok(h.logs.some((line) => line.includes('fixture fails at import time')));
  });

  test('export default { fetch } functions are served too', async () => {
    const res = await fetch(url('/default-export'), { method: 'PUT' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { style: 'default-export', method: 'PUT' });
  });

  test('response bodies stream (first chunk arrives before the function finishes)', async () => {
    const res = await fetch(url('/stream'));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    const first = await reader.read();
    assert.equal(decoder.decode(first.value), 'data: first\n\n');
    const release = await fetch(url('/stream/release'));
    assert.deepEqual(await release.json(), { released: true });
    let rest = '';
    for (let i = 0; i < 10; i++) {
      const chunk = await reader.read();
      if (chunk.done) break;
      rest += decoder.decode(chunk.value);
    }
    assert.equal(rest, 'data: second\n\n');
  });

  test('a function that never answers is cut off with 546 WORKER_LIMIT', async () => {
    const res = await fetch(url('/hang'));
    assert.equal(res.status, 546);
    assert.equal(((await res.json()) as { code: string }).code, 'WORKER_LIMIT');
  });

  test('editing a function restarts its process (hot reload)', async () => {
    const file = join(h.projectRoot, 'supabase', 'functions', 'verify-off', 'index.ts');
    const first = await fetch(url('/verify-off'));
    assert.equal(((await first.json()) as { version: number }).version, 1);
    writeFileSync(file, readFileSync(file, 'utf8').replace('version: 1', 'version: 2'));
    const version = await poll(
      async () => ((await (await fetch(url('/verify-off'))).json()) as { version: number }).version,
      (v) => v === 2,
    );
    assert.equal(version, 2);
  });

  test('a deno.json beside the function is its import map (bare and npm: specifiers)', async () => {
    const res = await fetch(url('/import-map'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { message: 'hello map' });
  });

  test('concurrent first requests share one Deno process', async () => {
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        fetch(url('/echo/concurrent'), { headers: auth() }).then((r) => r.json() as Promise<{ pid: number }>),
      ),
    );
    const echoPids = new Set(answers.map((a) => a.pid));
    assert.equal(echoPids.size, 1);
    const all = h.service.processes().filter((p) => p.name === 'echo');
    assert.equal(all.length, 1);
  });

  test('stop() ends every Deno process', async () => {
    const children = denoChildren();
    assert.ok(children.length >= 3, `deno children before stop: ${children.length}`);
    const pids = children.map((c) => c.pid);
    await h.service.stop();
    assert.deepEqual(denoChildren(), []);
    for (const pid of pids) assert.equal(processExists(pid), false, `pid ${pid} still exists`);
    const res = await fetch(url('/echo'), { headers: auth() });
    assert.equal(res.status, 503);
    await res.arrayBuffer();
  });
});

describe('Edge Functions without a parent', () => {
  test('Deno processes end when the Node process running the stack is SIGKILLed', async () => {
    const runner = spawn(process.execPath, ['--import', 'tsx', join(fixturesDir, 'orphan-runner.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let projectRoot = '';
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error('runner did not report within 30 s')), 30_000);
        runner.stdout.setEncoding('utf8');
        runner.stdout.on('data', (chunk: string) => {
          out += chunk;
          if (out.includes('\n')) {
            clearTimeout(timer);
            resolve(out.slice(0, out.indexOf('\n')));
          }
        });
        runner.once('exit', (code) => reject(new Error(`runner exited early (${code})`)));
      });
      const report = JSON.parse(line) as { status: number; pids: number[]; projectRoot: string };
      projectRoot = report.projectRoot;
      assert.equal(report.status, 200);
      assert.equal(report.pids.length, 1);
      assert.ok(processExists(report.pids[0]));
      runner.kill('SIGKILL');
      const alive = await poll(
        () => processExists(report.pids[0]),
        (exists) => !exists,
      );
      assert.equal(alive, false, `deno pid ${report.pids[0]} outlived its parent`);
    } finally {
      if (runner.exitCode === null) runner.kill('SIGKILL');
      if (projectRoot) rmSync(projectRoot, { recursive: true, force: true });
    }
  });
});

describe('Edge Functions offline', () => {
  test('npm: imports need no download: empty DENO_DIR and --cached-only', async () => {
    const denoDir = join(repoRoot, '.supadispatch', `test-deno-empty-${process.pid}-${Date.now()}`);
    const h = await startHarness({ extraDenoArgs: ['--cached-only'], denoDir, watch: false });
    try {
      const res = await fetch(`${h.baseUrl}/functions/v1/npm-import`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h.serviceRoleKey}` },
        body: JSON.stringify({ name: 'offline' }),
      });
      assert.equal(res.status, 200, h.logs.join('\n'));
      assert.equal(((await res.json()) as { name: string }).name, 'offline');
    } finally {
      await h.close();
      rmSync(denoDir, { recursive: true, force: true });
    }
  });
});
