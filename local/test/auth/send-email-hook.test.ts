import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createAuthService } from '../../src/auth/index.ts';
import {
  adminDbUrlOrNull,
  missingAdminDbMessage,
  startTestStack,
  type TestStack,
} from '../support/test-stack.ts';
import { client, startHookServer, startSmtpCatcher, uniqueEmail } from './support.ts';

const skip = adminDbUrlOrNull() ? false : missingAdminDbMessage;

describe('Send Email Hook ([auth.hook.send_email])', { skip }, () => {
  const secret = `v1,whsec_${randomBytes(32).toString('base64')}`;
  let stack: TestStack;
  let hook: Awaited<ReturnType<typeof startHookServer>>;
  let smtp: Awaited<ReturnType<typeof startSmtpCatcher>>;

  before(async () => {
    hook = await startHookServer(secret);
    smtp = await startSmtpCatcher();
    stack = await startTestStack({
      services: [
        createAuthService({ settings: { maxFrequencySeconds: 0 }, hook: { timeoutMs: 400, backoffMs: 50 } }),
      ],
      config: (config) => ({
        ...config,
        auth: {
          ...config.auth,
          enableConfirmations: true,
          sendEmailHook: { enabled: true, uri: hook.url, secrets: secret },
        },
      }),
    });
    stack.ctx.urls.smtp = { host: '127.0.0.1', port: smtp.port };
  });

  after(async () => {
    await stack?.stop();
    await hook?.close();
    await smtp?.close();
  });

  test('sign-up calls the hook with a Standard Webhooks signature and GoTrue payload, not SMTP', async () => {
    const email = uniqueEmail('hook');
    const c = client(stack.url, stack.anonKey);
    const { data, error } = await c.auth.signUp({
      email,
      password: 'hooked-pass-1',
      options: { emailRedirectTo: 'http://127.0.0.1:3000/after', data: { name: 'Hook' } },
    });
    assert.equal(error, null);
    assert.equal(data.session, null);
    const call = hook.calls.find((c) => c.payload.user.email === email);
    assert.ok(call, 'the hook was called');
    assert.equal(call.signatureValid, true);
    assert.equal(call.headers['content-type'], 'application/json');
    assert.match(String(call.headers['webhook-id']), /^[0-9a-f-]{36}$/);
    assert.match(String(call.headers['webhook-timestamp']), /^\d+$/);
    assert.match(String(call.headers['webhook-signature']), /^v1,[A-Za-z0-9+/=]+$/);
    const { email_data: emailData, user, metadata } = call.payload;
    assert.equal(metadata.name, 'send-email');
    assert.equal(user.id, data.user?.id);
    assert.equal((user.user_metadata as { name: string }).name, 'Hook');
    assert.equal(emailData.email_action_type, 'signup');
    assert.match(emailData.token, /^\d{6}$/);
    assert.equal(
      emailData.token_hash,
      createHash('sha224')
        .update(email + emailData.token)
        .digest('hex'),
    );
    assert.equal(emailData.redirect_to, 'http://127.0.0.1:3000/after');
    assert.equal(emailData.site_url, `${stack.url}/auth/v1`);
    assert.equal(emailData.token_new, '');
    assert.equal(emailData.token_hash_new, '');
    assert.equal(smtp.mails.length, 0, 'the hook replaces SMTP');
    // the token the hook received confirms the address
    const verified = await c.auth.verifyOtp({ token_hash: emailData.token_hash, type: 'signup' });
    assert.equal(verified.error, null);
    assert.ok(verified.data.session);
  });

  test('recovery and magic link reach the hook with their action types', async () => {
    const admin = client(stack.url, stack.serviceRoleKey);
    const email = uniqueEmail('hook-recover');
    await admin.auth.admin.createUser({ email, password: 'hooked-pass-2', email_confirm: true });
    const c = client(stack.url, stack.anonKey);
    assert.equal((await c.auth.resetPasswordForEmail(email)).error, null);
    assert.equal((await c.auth.signInWithOtp({ email })).error, null);
    const types = hook.calls
      .filter((x) => x.payload.user.email === email)
      .map((x) => x.payload.email_data.email_action_type);
    assert.deepEqual(types, ['recovery', 'magiclink']);
    const magic = hook.calls.filter((x) => x.payload.user.email === email)[1];
    const verified = await c.auth.verifyOtp({
      email,
      token: magic.payload.email_data.token,
      type: 'magiclink',
    });
    assert.equal(verified.error, null);
  });

  test('a hook error {error:{http_code,message}} fails the request with that status and message', async () => {
    hook.respond = (_call, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { http_code: 429, message: 'Too many emails for this address' } }));
    };
    try {
      const email = uniqueEmail('hook-err');
      const result = await client(stack.url, stack.anonKey).auth.signUp({ email, password: 'hooked-pass-3' });
      assert.equal(result.error?.status, 429);
      assert.equal(result.error?.message, 'Too many emails for this address');
      hook.respond = (_call, res) => {
        res.writeHead(401);
        res.end();
      };
      const unauthorized = await client(stack.url, stack.anonKey).auth.signUp({
        email,
        password: 'hooked-pass-3',
      });
      assert.equal(unauthorized.error?.status, 500);
      assert.equal(unauthorized.error?.message, 'Hook requires authorization token');
      hook.respond = () => {
        // never answers: the hook times out
      };
      const timeout = await client(stack.url, stack.anonKey).auth.signUp({
        email,
        password: 'hooked-pass-3',
      });
      assert.equal(timeout.error?.status, 422);
      assert.equal(timeout.error?.code, 'hook_timeout');
    } finally {
      hook.respond = (_call, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      };
    }
  });
});
