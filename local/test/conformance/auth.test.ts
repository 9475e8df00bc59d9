import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { jwtClaims, newClient, runId, Users } from '../support/conformance.ts';
import { missingTargetMessage, testTarget } from '../support/env.ts';

/**
 * Conformance: /auth/v1 through supabase-js, against the local stack or a real project
 * (SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY, SUPABASE_DB_URL).
 */

const target = testTarget();
const run = runId();

// Sign-up on a hosted project can be refused by its settings (no custom SMTP, sign-ups disabled,
// e-mail rate limit); those are project choices, not conformance failures.
const projectRefusals = new Set([
  'email_address_not_authorized',
  'over_email_send_rate_limit',
  'signup_disabled',
  'email_provider_disabled',
]);

describe('conformance: auth', { skip: target ? false : missingTargetMessage }, () => {
  if (!target) return;
  const users = new Users(target, run);
  after(() => users.cleanup());

  test('sign-up, then (confirmed) sign-in with Supabase claims', async (t) => {
    const c = users.track(newClient(target, target.anonKey));
    const email = users.email('signup');
    const password = 'Conformance-1-password';
    const up = await c.auth.signUp({ email, password, options: { data: { nick: 'first' } } });
    if (up.error && projectRefusals.has(up.error.code ?? '')) {
      t.skip(`the project refuses sign-up: ${up.error.code} ${up.error.message}`);
      return;
    }
    assert.equal(up.error, null, JSON.stringify(up.error));
    assert.ok(up.data.user, 'sign-up returns the user');
    users.remember(up.data.user.id);
    assert.equal(up.data.user.email, email);
    assert.equal(up.data.user.user_metadata.nick, 'first');
    if (!up.data.session) {
      // Auto-confirm off: no session until the address is confirmed (here by the admin API).
      assert.equal(up.data.user.email_confirmed_at ?? null, null);
      const early = await c.auth.signInWithPassword({ email, password });
      assert.equal(early.error?.code, 'email_not_confirmed');
      const admin = newClient(target, target.serviceRoleKey);
      const confirmed = await admin.auth.admin.updateUserById(up.data.user.id, { email_confirm: true });
      assert.equal(confirmed.error, null, JSON.stringify(confirmed.error));
    }
    const signed = await c.auth.signInWithPassword({ email, password });
    assert.equal(signed.error, null, JSON.stringify(signed.error));
    const session = signed.data.session;
    assert.ok(session);
    assert.equal(session.token_type, 'bearer');
    assert.ok(session.refresh_token.length > 0);
    const claims = jwtClaims(session.access_token);
    assert.equal(claims.sub, up.data.user.id);
    assert.equal(claims.role, 'authenticated');
    assert.equal(claims.aud, 'authenticated');
    assert.equal(claims.email, email);
    assert.equal(typeof claims.exp, 'number');
    assert.equal(typeof claims.session_id, 'string');
    assert.equal((claims.app_metadata as { provider?: string }).provider, 'email');
    assert.equal((claims.user_metadata as { nick?: string }).nick, 'first');
  });

  test('wrong password and unknown user: invalid_credentials', async () => {
    const u = await users.create('wrongpw');
    const c = newClient(target, target.anonKey);
    const bad = await c.auth.signInWithPassword({ email: u.email, password: 'not-the-password' });
    assert.equal(bad.data.session, null);
    assert.equal(bad.error?.status, 400);
    assert.equal(bad.error?.code, 'invalid_credentials');
    const nobody = await c.auth.signInWithPassword({
      email: users.email('nobody'),
      password: 'x-password-1',
    });
    assert.equal(nobody.error?.code, 'invalid_credentials');
  });

  test('getUser, updateUser, refresh (rotating), sign-out revokes the session', async () => {
    const u = await users.create('session');
    const me = await u.client.auth.getUser();
    assert.equal(me.error, null, JSON.stringify(me.error));
    assert.equal(me.data.user?.id, u.id);
    assert.equal(me.data.user?.email, u.email);

    const updated = await u.client.auth.updateUser({ data: { theme: 'dark' } });
    assert.equal(updated.error, null, JSON.stringify(updated.error));
    assert.equal(updated.data.user?.user_metadata.theme, 'dark');

    const before = u.session;
    const refreshed = await u.client.auth.refreshSession();
    assert.equal(refreshed.error, null, JSON.stringify(refreshed.error));
    const after = refreshed.data.session;
    assert.ok(after);
    assert.notEqual(after.refresh_token, before.refresh_token, 'refresh tokens rotate');
    assert.equal(after.user.id, u.id);
    const claims = jwtClaims(after.access_token);
    assert.equal(claims.sub, u.id);
    assert.equal(claims.session_id, jwtClaims(before.access_token).session_id, 'same session');
    assert.equal((claims.user_metadata as { theme?: string }).theme, 'dark');

    const out = await u.client.auth.signOut();
    assert.equal(out.error, null, JSON.stringify(out.error));
    const { data } = await u.client.auth.getSession();
    assert.equal(data.session, null, 'the client forgets the session');

    // The session is gone on the server: its refresh token no longer works, nor its access token.
    const other = newClient(target, target.anonKey);
    const reuse = await other.auth.refreshSession({ refresh_token: after.refresh_token });
    assert.ok(reuse.error, 'refresh after sign-out fails');
    assert.equal(reuse.data.session, null);
    const stale = await other.auth.getUser(after.access_token);
    assert.equal(stale.error?.name, 'AuthSessionMissingError', 'a signed-out access token is refused');
    const raw = await fetch(`${target.url}/auth/v1/user`, {
      headers: { apikey: target.anonKey, authorization: `Bearer ${after.access_token}` },
    });
    assert.equal(raw.status, 403);
    assert.equal(((await raw.json()) as { error_code?: string }).error_code, 'session_not_found');
  });

  test('admin API needs the service-role key', async () => {
    const anon = newClient(target, target.anonKey);
    const denied = await anon.auth.admin.createUser({ email: users.email('denied'), email_confirm: true });
    assert.ok(denied.error, 'the anon key cannot create users');
    assert.equal(denied.data.user, null);
    const u = await users.create('admin');
    const admin = newClient(target, target.serviceRoleKey);
    const got = await admin.auth.admin.getUserById(u.id);
    assert.equal(got.error, null, JSON.stringify(got.error));
    assert.equal(got.data.user?.email, u.email);
    assert.ok(got.data.user?.email_confirmed_at, 'email_confirm: true confirms');
  });
});
