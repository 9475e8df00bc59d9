import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LocalService } from '../../src/context.ts';
import { sendJson } from '../../src/http.ts';
import { signJwt } from '../../src/jwt.ts';
import {
  adminDbUrlOrNull,
  missingAdminDbMessage,
  startTestStack,
  type TestStack,
} from '../support/test-stack.ts';

/** A service that echoes what the gateway handed it, to observe prefix stripping and key-auth. */
function echoService(prefix: string): LocalService {
  return {
    name: `echo${prefix}`,
    async start() {},
    async stop() {},
    http: {
      prefix,
      handle(req, res, path) {
        sendJson(res, 200, { path, authorization: req.headers.authorization ?? null });
      },
    },
  };
}

describe('gateway', { skip: adminDbUrlOrNull() ? false : missingAdminDbMessage }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({
      services: [echoService('/rest/v1'), echoService('/auth/v1'), echoService('/functions/v1')],
    });
  });
  after(async () => stack?.stop());

  it('refuses a guarded route without an apikey, as Kong does', async () => {
    const res = await fetch(`${stack.url}/rest/v1/todos`);
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { message: 'No API key found in request' });
  });

  it('refuses an unknown apikey', async () => {
    const res = await fetch(`${stack.url}/rest/v1/todos`, { headers: { apikey: 'nope' } });
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { message: 'Invalid authentication credentials' });
  });

  it('refuses an unsigned or wrongly signed key that claims the service role', async () => {
    const forge = (secret: string) => signJwt({ role: 'service_role', iat: 0, exp: 4102444800 }, secret);
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"role":"service_role"}').toString('base64url')}.`;
    for (const apikey of [forge('not-the-secret'), unsigned]) {
      const res = await fetch(`${stack.url}/rest/v1/todos`, { headers: { apikey } });
      assert.equal(res.status, 401);
      assert.deepEqual(await res.json(), { message: 'Invalid authentication credentials' });
    }
  });

  it('accepts another key signed with the stack secret for an API role', async () => {
    const apikey = signJwt({ role: 'anon', iat: 0, exp: 4102444800 }, stack.jwtSecret);
    const res = await fetch(`${stack.url}/rest/v1/todos`, { headers: { apikey } });
    assert.equal(res.status, 200);
  });

  it('strips the prefix and copies the apikey to Authorization when absent', async () => {
    const res = await fetch(`${stack.url}/rest/v1/todos?select=id`, { headers: { apikey: stack.anonKey } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { path: '/todos', authorization: `Bearer ${stack.anonKey}` });
  });

  it('keeps a user token given in Authorization', async () => {
    const token = stack.signUserToken('00000000-0000-0000-0000-000000000001');
    const res = await fetch(`${stack.url}/rest/v1/x`, {
      headers: { apikey: stack.anonKey, authorization: `Bearer ${token}` },
    });
    assert.equal((await res.json()).authorization, `Bearer ${token}`);
  });

  it('lets auth verify links through without a key', async () => {
    const res = await fetch(`${stack.url}/auth/v1/verify?token=x`);
    assert.equal(res.status, 200);
  });

  it('does not key-guard functions (verify_jwt is the function runtime’s job)', async () => {
    const res = await fetch(`${stack.url}/functions/v1/hello`);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).path, '/hello');
  });

  it('answers CORS preflight on REST', async () => {
    const res = await fetch(`${stack.url}/rest/v1/todos`, { method: 'OPTIONS' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
  });

  it('404s an unknown route', async () => {
    const res = await fetch(`${stack.url}/nothing/here`);
    assert.equal(res.status, 404);
  });
});
