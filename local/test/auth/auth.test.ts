import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { SupabaseClient } from '@supabase/supabase-js';
import pg from 'pg';
import { createAuthService } from '../../src/auth/index.ts';
import { signJwt } from '../../src/jwt.ts';
import {
  adminDbUrlOrNull,
  missingAdminDbMessage,
  startTestStack,
  type TestStack,
} from '../support/test-stack.ts';
import { client, decodeClaims, parseAuthMail, startSmtpCatcher, uniqueEmail } from './support.ts';

const skip = adminDbUrlOrNull() ? false : missingAdminDbMessage;

describe('/auth/v1 with supabase-js (autoconfirm, mail catcher)', { skip }, () => {
  let stack: TestStack;
  let smtp: Awaited<ReturnType<typeof startSmtpCatcher>>;
  let anon: SupabaseClient;
  let admin: SupabaseClient;
  let db: pg.Pool;

  before(async () => {
    smtp = await startSmtpCatcher();
    stack = await startTestStack({
      services: [createAuthService({ settings: { maxFrequencySeconds: 0 } })],
      config: (config) => ({
        ...config,
        auth: {
          ...config.auth,
          enableConfirmations: false,
          refreshTokenReuseInterval: 3600,
          sendEmailHook: null,
        },
      }),
    });
    stack.ctx.urls.smtp = { host: '127.0.0.1', port: smtp.port };
    anon = client(stack.url, stack.anonKey);
    admin = client(stack.url, stack.serviceRoleKey);
    db = new pg.Pool({ connectionString: stack.adminDbUrl, max: 2 });
  });

  after(async () => {
    await db?.end();
    await stack?.stop();
    await smtp?.close();
  });

  const raw = (path: string, init: RequestInit & { token?: string; version?: boolean } = {}) => {
    const headers: Record<string, string> = { apikey: stack.anonKey, 'content-type': 'application/json' };
    if (init.version !== false) headers['x-supabase-api-version'] = '2024-01-01';
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    return fetch(`${stack.url}/auth/v1${path}`, {
      ...init,
      headers: { ...headers, ...(init.headers as object) },
    });
  };

  test('sign-up returns a session whose JWT carries Supabase claims', async () => {
    const email = uniqueEmail('signup');
    const { data, error } = await anon.auth.signUp({
      email,
      password: 'correct-horse',
      options: { data: { name: 'Ada' } },
    });
    assert.equal(error, null);
    assert.ok(data.session, 'autoconfirm gives a session');
    assert.equal(data.user?.email, email);
    assert.equal(data.user?.user_metadata.name, 'Ada');
    assert.ok(data.user?.email_confirmed_at);
    assert.equal(data.user?.identities?.[0]?.provider, 'email');
    const claims = decodeClaims(data.session.access_token);
    assert.equal(claims.iss, `${stack.url}/auth/v1`);
    assert.equal(claims.sub, data.user?.id);
    assert.equal(claims.aud, 'authenticated');
    assert.equal(claims.role, 'authenticated');
    assert.equal(claims.email, email);
    assert.equal(claims.phone, '');
    assert.deepEqual(claims.app_metadata, { provider: 'email', providers: ['email'] });
    assert.equal((claims.user_metadata as Record<string, unknown>).name, 'Ada');
    assert.equal(claims.aal, 'aal1');
    assert.equal((claims.amr as { method: string }[])[0].method, 'password');
    assert.equal(claims.is_anonymous, false);
    assert.equal(Number(claims.exp) - Number(claims.iat), 3600);
    assert.equal(typeof claims.session_id, 'string');
    const { rows } = await db.query('select encrypted_password from auth.users where id = $1', [
      data.user?.id,
    ]);
    assert.match(rows[0].encrypted_password, /^\$2a\$10\$/);
  });

  test('sign-up refuses a duplicate address and a weak password', async () => {
    const email = uniqueEmail('dup');
    assert.equal((await anon.auth.signUp({ email, password: 'correct-horse' })).error, null);
    const again = await anon.auth.signUp({ email, password: 'correct-horse' });
    assert.equal(again.error?.status, 422);
    assert.equal(again.error?.code, 'user_already_exists');
    assert.equal(again.error?.message, 'User already registered');
    const weak = await anon.auth.signUp({ email: uniqueEmail('weak'), password: '123' });
    assert.equal(weak.error?.status, 422);
    assert.equal(weak.error?.code, 'weak_password');
    assert.equal(weak.error?.name, 'AuthWeakPasswordError');
    assert.deepEqual((weak.error as unknown as { reasons: string[] }).reasons, ['length']);
  });

  test('password sign-in, wrong password, getUser and updateUser', async () => {
    const email = uniqueEmail('signin');
    await anon.auth.signUp({ email, password: 'first-password' });
    const c = client(stack.url, stack.anonKey);
    const wrong = await c.auth.signInWithPassword({ email, password: 'nope-nope' });
    assert.equal(wrong.error?.status, 400);
    assert.equal(wrong.error?.code, 'invalid_credentials');
    assert.equal(wrong.error?.message, 'Invalid login credentials');
    const { data, error } = await c.auth.signInWithPassword({
      email: email.toUpperCase(),
      password: 'first-password',
    });
    assert.equal(error, null);
    assert.ok(data.session);
    const me = await c.auth.getUser();
    assert.equal(me.data.user?.id, data.user.id);
    const updated = await c.auth.updateUser({ data: { theme: 'dark' }, password: 'second-password' });
    assert.equal(updated.error, null);
    assert.equal(updated.data.user?.user_metadata.theme, 'dark');
    const same = await c.auth.updateUser({ password: 'second-password' });
    assert.equal(same.error?.code, 'same_password');
    const again = await client(stack.url, stack.anonKey).auth.signInWithPassword({
      email,
      password: 'second-password',
    });
    assert.equal(again.error, null);
    assert.equal(again.data.user.user_metadata.theme, 'dark');
  });

  test('refresh tokens rotate; replaying the parent returns the active token; reuse after the interval revokes the family', async () => {
    const email = uniqueEmail('refresh');
    const { data } = await anon.auth.signUp({ email, password: 'refresh-me' });
    const t0 = data.session!.refresh_token;
    const r1 = await raw('/token?grant_type=refresh_token', {
      method: 'POST',
      body: JSON.stringify({ refresh_token: t0 }),
    });
    assert.equal(r1.status, 200);
    const s1 = await r1.json();
    assert.notEqual(s1.refresh_token, t0);
    assert.equal(
      decodeClaims(s1.access_token).session_id,
      decodeClaims(data.session!.access_token).session_id,
    );
    // the client lost the answer and retries with the parent: it gets the active token again
    const replay = await (
      await raw('/token?grant_type=refresh_token', {
        method: 'POST',
        body: JSON.stringify({ refresh_token: t0 }),
      })
    ).json();
    assert.equal(replay.refresh_token, s1.refresh_token);
    // supabase-js refreshSession rotates again
    const c = client(stack.url, stack.anonKey);
    const refreshed = await c.auth.refreshSession({ refresh_token: s1.refresh_token });
    assert.equal(refreshed.error, null);
    const t2 = refreshed.data.session!.refresh_token;
    // t0 is now neither active nor the active token's parent; push it past the reuse interval
    await db.query(
      "update auth.refresh_tokens set updated_at = now() - interval '2 hours' where token = $1",
      [t0],
    );
    const reused = await raw('/token?grant_type=refresh_token', {
      method: 'POST',
      body: JSON.stringify({ refresh_token: t0 }),
    });
    assert.equal(reused.status, 400);
    assert.deepEqual(await reused.json(), {
      code: 'refresh_token_already_used',
      message: 'Invalid Refresh Token: Already Used',
    });
    assert.equal(reused.headers.get('x-sb-error-code'), 'refresh_token_already_used');
    await db.query(
      "update auth.refresh_tokens set updated_at = now() - interval '2 hours' where token = $1",
      [t2],
    );
    const family = await c.auth.refreshSession({ refresh_token: t2 });
    assert.equal(family.error?.code, 'refresh_token_already_used');
    const unknown = await c.auth.refreshSession({ refresh_token: 'notatoken123' });
    assert.equal(unknown.error?.code, 'refresh_token_not_found');
    const missing = await raw('/token?grant_type=refresh_token', { method: 'POST', body: '{}' });
    assert.equal(missing.status, 400);
    assert.deepEqual(await missing.json(), {
      error: 'invalid_request',
      error_description: 'refresh_token required',
    });
  });

  test('sign-out: local scope ends this session only, global ends all', async () => {
    const email = uniqueEmail('logout');
    await anon.auth.signUp({ email, password: 'logout-pass' });
    const a = client(stack.url, stack.anonKey);
    const b = client(stack.url, stack.anonKey);
    const sa = (await a.auth.signInWithPassword({ email, password: 'logout-pass' })).data.session!;
    const sb = (await b.auth.signInWithPassword({ email, password: 'logout-pass' })).data.session!;
    assert.equal((await a.auth.signOut({ scope: 'local' })).error, null);
    const gone = await raw('/user', { token: sa.access_token });
    assert.equal(gone.status, 403);
    assert.deepEqual(await gone.json(), {
      code: 'session_not_found',
      message: 'Session from session_id claim in JWT does not exist',
    });
    assert.equal((await raw('/user', { token: sb.access_token })).status, 200);
    assert.equal((await b.auth.signOut()).error, null);
    assert.equal((await raw('/user', { token: sb.access_token })).status, 403);
    const refresh = await b.auth.refreshSession({ refresh_token: sb.refresh_token });
    assert.equal(refresh.error?.code, 'refresh_token_not_found');
    const logout = await raw('/logout?scope=global', { method: 'POST', token: sb.access_token });
    assert.equal(logout.status, 403);
  });

  test('expired, badly signed and key-only tokens on /user get GoTrue status and body', async () => {
    const { data } = await anon.auth.signUp({ email: uniqueEmail('jwt'), password: 'jwt-password' });
    const claims = decodeClaims(data.session!.access_token);
    const now = Math.floor(Date.now() / 1000);
    const expired = signJwt({ ...claims, iat: now - 7200, exp: now - 3600 }, stack.jwtSecret);
    const r1 = await raw('/user', { token: expired });
    assert.equal(r1.status, 403);
    assert.equal(r1.headers.get('x-supabase-api-version'), '2024-01-01');
    assert.equal(r1.headers.get('x-sb-error-code'), 'bad_jwt');
    assert.deepEqual(await r1.json(), {
      code: 'bad_jwt',
      message: 'invalid JWT: unable to parse or verify signature, token has invalid claims: token is expired',
    });
    const forged = signJwt(claims, 'not-the-secret-not-the-secret-not-the');
    const r2 = await raw('/user', { token: forged });
    assert.equal(r2.status, 403);
    assert.equal((await r2.json()).code, 'bad_jwt');
    const r3 = await raw('/user');
    assert.equal(r3.status, 403);
    assert.deepEqual(await r3.json(), { code: 'bad_jwt', message: 'invalid claim: missing sub claim' });
    const legacy = await raw('/user', { token: expired, version: false });
    assert.equal(legacy.headers.get('x-supabase-api-version'), null);
    const body = await legacy.json();
    assert.equal(body.code, 403);
    assert.equal(body.error_code, 'bad_jwt');
    assert.match(body.msg, /token is expired/);
    const viaClient = await anon.auth.getUser(expired);
    assert.equal(viaClient.error?.status, 403);
    assert.equal(viaClient.error?.code, 'bad_jwt');
  });

  test('admin: create, list with pagination headers, get, update, delete; non-admin refused', async () => {
    const email = uniqueEmail('admin');
    const created = await admin.auth.admin.createUser({
      email,
      password: 'admin-made-1',
      email_confirm: true,
      user_metadata: { plan: 'pro' },
      app_metadata: { roles: ['editor'] },
    });
    assert.equal(created.error, null);
    const user = created.data.user!;
    assert.ok(user.email_confirmed_at);
    assert.deepEqual(user.app_metadata, { provider: 'email', providers: ['email'], roles: ['editor'] });
    const dup = await admin.auth.admin.createUser({ email, password: 'admin-made-1' });
    assert.equal(dup.error?.status, 422);
    assert.equal(dup.error?.code, 'email_exists');
    const signin = await client(stack.url, stack.anonKey).auth.signInWithPassword({
      email,
      password: 'admin-made-1',
    });
    assert.equal(signin.error, null);
    assert.deepEqual(
      (decodeClaims(signin.data.session!.access_token).app_metadata as { roles: string[] }).roles,
      ['editor'],
    );

    await admin.auth.admin.createUser({ email: uniqueEmail('admin2'), password: 'admin-made-2' });
    const page1 = await admin.auth.admin.listUsers({ page: 1, perPage: 1 });
    assert.equal(page1.error, null);
    assert.equal(page1.data.users.length, 1);
    assert.equal(page1.data.nextPage, 2);
    assert.ok(page1.data.total >= 2);
    const rawList = await fetch(`${stack.url}/auth/v1/admin/users?page=1&per_page=1`, {
      headers: { apikey: stack.serviceRoleKey },
    });
    assert.match(
      rawList.headers.get('link') ?? '',
      /^<\/admin\/users\?page=2&per_page=1>; rel="next", <\/admin\/users\?page=\d+&per_page=1>; rel="last"$/,
    );
    assert.equal(rawList.headers.get('x-total-count'), String(page1.data.total));

    const got = await admin.auth.admin.getUserById(user.id);
    assert.equal(got.data.user?.email, email);
    const updated = await admin.auth.admin.updateUserById(user.id, {
      user_metadata: { plan: null, seats: 3 },
    });
    assert.deepEqual(updated.data.user?.user_metadata, { seats: 3, email_verified: true });
    const missing = await admin.auth.admin.getUserById('00000000-0000-4000-8000-000000000001');
    assert.equal(missing.error?.status, 404);
    assert.equal(missing.error?.code, 'user_not_found');

    const refused = await anon.auth.admin.listUsers();
    assert.equal(refused.error?.status, 403);
    assert.equal(refused.error?.code, 'not_admin');
    assert.equal(refused.error?.message, 'User not allowed');
    const asUser = client(stack.url, stack.anonKey);
    await asUser.auth.signInWithPassword({ email, password: 'admin-made-1' });
    const userToken = (await asUser.auth.getSession()).data.session!.access_token;
    const r = await raw(`/admin/users/${user.id}`, { token: userToken });
    assert.equal(r.status, 403);
    assert.equal((await r.json()).code, 'not_admin');

    assert.equal((await admin.auth.admin.deleteUser(user.id)).error, null);
    const after = await admin.auth.admin.getUserById(user.id);
    assert.equal(after.error?.status, 404);
    const rows = await db.query('select 1 from auth.users where id = $1', [user.id]);
    assert.equal(rows.rowCount, 0);
  });

  test('generateLink: hashed_token verifies, action_link redirects with tokens, second use is refused', async () => {
    const email = uniqueEmail('link');
    const ml = await admin.auth.admin.generateLink({
      type: 'magiclink',
      email,
      options: { redirectTo: 'http://127.0.0.1:3000/welcome' },
    });
    assert.equal(ml.error, null);
    // magic link for an unknown address signs the address up
    assert.equal(ml.data.properties?.verification_type, 'signup');
    assert.equal(ml.data.user?.email, email);
    const props = ml.data.properties!;
    assert.match(props.email_otp, /^\d{6}$/);
    assert.equal(
      props.hashed_token,
      createHash('sha224')
        .update(email + props.email_otp)
        .digest('hex'),
    );
    assert.equal(
      props.action_link,
      `${stack.url}/auth/v1/verify?token=${props.hashed_token}&type=signup&redirect_to=http://127.0.0.1:3000/welcome`,
    );
    assert.equal(props.redirect_to, 'http://127.0.0.1:3000/welcome');
    assert.equal(smtp.mails.filter((m) => m.to.includes(email)).length, 0, 'generate_link sends no email');

    const res = await fetch(props.action_link, { redirect: 'manual' });
    assert.equal(res.status, 303);
    const location = new URL(res.headers.get('location')!);
    assert.equal(`${location.origin}${location.pathname}`, 'http://127.0.0.1:3000/welcome');
    const fragment = new URLSearchParams(location.hash.slice(1));
    assert.deepEqual(
      [...fragment.keys()],
      ['access_token', 'expires_at', 'expires_in', 'refresh_token', 'sb', 'token_type', 'type'],
    );
    assert.equal(fragment.get('type'), 'signup');
    assert.equal(decodeClaims(fragment.get('access_token')!).email, email);

    const again = await fetch(props.action_link, { redirect: 'manual' });
    assert.equal(again.status, 303);
    const errorFragment = new URLSearchParams(new URL(again.headers.get('location')!).hash.slice(1));
    assert.equal(errorFragment.get('error'), 'access_denied');
    assert.equal(errorFragment.get('error_code'), 'otp_expired');
    assert.equal(errorFragment.get('error_description'), 'Email link is invalid or has expired');

    const recovery = await admin.auth.admin.generateLink({ type: 'recovery', email });
    assert.equal(recovery.data.properties?.verification_type, 'recovery');
    const verified = await anon.auth.verifyOtp({
      token_hash: recovery.data.properties!.hashed_token,
      type: 'recovery',
    });
    assert.equal(verified.error, null);
    assert.equal(verified.data.user?.email, email);
    const unknownRecovery = await admin.auth.admin.generateLink({
      type: 'recovery',
      email: uniqueEmail('nobody'),
    });
    assert.equal(unknownRecovery.error?.status, 404);
    const invite = await admin.auth.admin.generateLink({ type: 'invite', email: uniqueEmail('invitee') });
    assert.equal(invite.error, null);
    assert.ok(invite.data.user?.invited_at);
    const viaOtp = await anon.auth.verifyOtp({
      email: invite.data.user!.email!,
      token: invite.data.properties!.email_otp,
      type: 'invite',
    });
    assert.equal(viaOtp.error, null);
    assert.ok(viaOtp.data.session);
  });

  test('recover: the emailed code and the emailed link both verify', async () => {
    const email = uniqueEmail('recover');
    await anon.auth.signUp({ email, password: 'forgotten-1' });
    const res = await anon.auth.resetPasswordForEmail(email, { redirectTo: 'http://127.0.0.1:3000/reset' });
    assert.deepEqual(res, { data: {}, error: null });
    const unknown = await anon.auth.resetPasswordForEmail(uniqueEmail('ghost'));
    assert.equal(unknown.error, null);
    const mail = await smtp.waitFor(email, (m) => m.subject === 'Reset your password');
    const { link, otp } = parseAuthMail(mail);
    const hash = createHash('sha224')
      .update(email + otp)
      .digest('hex');
    assert.equal(
      link,
      `${stack.url}/auth/v1/verify?token=${hash}&type=recovery&redirect_to=http://127.0.0.1:3000/reset`,
    );
    const c = client(stack.url, stack.anonKey);
    const events: string[] = [];
    c.auth.onAuthStateChange((event) => {
      events.push(event);
    });
    const verified = await c.auth.verifyOtp({ email, token: otp, type: 'recovery' });
    assert.equal(verified.error, null);
    assert.ok(events.includes('PASSWORD_RECOVERY'));
    assert.equal((await c.auth.updateUser({ password: 'remembered-2' })).error, null);
    const signin = await client(stack.url, stack.anonKey).auth.signInWithPassword({
      email,
      password: 'remembered-2',
    });
    assert.equal(signin.error, null);
    const reused = await c.auth.verifyOtp({ email, token: otp, type: 'recovery' });
    assert.equal(reused.error?.status, 403);
    assert.equal(reused.error?.code, 'otp_expired');

    // the link path, with a fresh email
    await anon.auth.resetPasswordForEmail(email);
    const second = await smtp.waitFor(email, (m) => m !== mail && m.subject === 'Reset your password');
    const followed = await fetch(parseAuthMail(second).link, { redirect: 'manual' });
    assert.equal(followed.status, 303);
    const fragment = new URLSearchParams(new URL(followed.headers.get('location')!).hash.slice(1));
    assert.equal(fragment.get('type'), 'recovery');
    assert.ok(fragment.get('refresh_token'));
  });

  test('OTP / magic link: creates the user, verifies with type email; create_user false refuses unknown', async () => {
    const email = uniqueEmail('otp');
    const sent = await anon.auth.signInWithOtp({ email, options: { data: { via: 'otp' } } });
    assert.deepEqual(sent, { data: { user: null, session: null }, error: null });
    const mail = await smtp.waitFor(email, (m) => m.subject === 'Your sign-in link');
    const { otp, link } = parseAuthMail(mail);
    assert.match(link, /type=magiclink/);
    const verified = await anon.auth.verifyOtp({ email, token: otp, type: 'email' });
    assert.equal(verified.error, null);
    assert.equal(verified.data.user?.user_metadata.via, 'otp');
    assert.equal(
      (decodeClaims(verified.data.session!.access_token).amr as { method: string }[])[0].method,
      'otp',
    );
    const wrong = await anon.auth.verifyOtp({ email, token: '000000', type: 'email' });
    assert.equal(wrong.error?.code, 'otp_expired');
    assert.equal(wrong.error?.message, 'Token has expired or is invalid');
    const refused = await anon.auth.signInWithOtp({
      email: uniqueEmail('nouser'),
      options: { shouldCreateUser: false },
    });
    assert.equal(refused.error?.status, 422);
    assert.equal(refused.error?.code, 'otp_disabled');
  });

  test('email change: mails both addresses, the new address code confirms under autoconfirm', async () => {
    const email = uniqueEmail('old');
    const next = uniqueEmail('new');
    const c = client(stack.url, stack.anonKey);
    await c.auth.signUp({ email, password: 'change-me-1' });
    const res = await c.auth.updateUser({ email: next });
    assert.equal(res.error, null);
    assert.equal(res.data.user?.email, email);
    assert.equal(res.data.user?.new_email, next);
    const toNew = await smtp.waitFor(next, (m) => m.subject === 'Confirm your new email address');
    await smtp.waitFor(email, (m) => m.subject === 'Confirm your new email address');
    const verified = await c.auth.verifyOtp({
      email: next,
      token: parseAuthMail(toNew).otp,
      type: 'email_change',
    });
    assert.equal(verified.error, null);
    assert.equal(verified.data.user?.email, next);
    const taken = await c.auth.updateUser({ email: next });
    assert.equal(taken.error, null, 'same address is no change');
  });

  test('settings and health', async () => {
    const settings = await (await raw('/settings')).json();
    assert.equal(settings.external.email, true);
    assert.equal(settings.mailer_autoconfirm, true);
    assert.equal(settings.disable_signup, false);
    const health = await (await raw('/health')).json();
    assert.equal(health.name, 'GoTrue');
  });
});

describe('/auth/v1 with confirmations on', { skip }, () => {
  let stack: TestStack;
  let smtp: Awaited<ReturnType<typeof startSmtpCatcher>>;

  before(async () => {
    smtp = await startSmtpCatcher();
    stack = await startTestStack({
      services: [createAuthService({ settings: { maxFrequencySeconds: 0 } })],
      config: (config) => ({
        ...config,
        auth: { ...config.auth, enableConfirmations: true, sendEmailHook: null },
      }),
    });
    stack.ctx.urls.smtp = { host: '127.0.0.1', port: smtp.port };
  });

  after(async () => {
    await stack?.stop();
    await smtp?.close();
  });

  test('sign-up mails a confirmation; sign-in waits for it; the link confirms and signs in', async () => {
    const c = client(stack.url, stack.anonKey);
    const email = uniqueEmail('confirm');
    const { data, error } = await c.auth.signUp({ email, password: 'confirm-me-1' });
    assert.equal(error, null);
    assert.equal(data.session, null);
    assert.equal(data.user?.email, email);
    assert.ok(data.user?.confirmation_sent_at);
    const early = await c.auth.signInWithPassword({ email, password: 'confirm-me-1' });
    assert.equal(early.error?.code, 'email_not_confirmed');
    const again = await c.auth.signUp({ email, password: 'confirm-me-1' });
    assert.equal(again.error, null, 'an unconfirmed address may sign up again');
    // the second sign-up sent a new confirmation, which replaced the first one's token
    const first = await smtp.waitFor(email, (m) => m.subject === 'Confirm your email address');
    const mail = await smtp.waitFor(email, (m) => m !== first && m.subject === 'Confirm your email address');
    const stale = await fetch(parseAuthMail(first).link, { redirect: 'manual' });
    assert.match(stale.headers.get('location') ?? '', /error_code=otp_expired/);
    const followed = await fetch(parseAuthMail(mail).link.replace(/&redirect_to=.*$/, ''), {
      redirect: 'manual',
    });
    assert.equal(followed.status, 303);
    const location = followed.headers.get('location')!;
    assert.ok(location.startsWith('http://127.0.0.1:3000#access_token='), location);
    const signin = await c.auth.signInWithPassword({ email, password: 'confirm-me-1' });
    assert.equal(signin.error, null);
    const dup = await c.auth.signUp({ email, password: 'confirm-me-1' });
    assert.equal(dup.error, null, 'a confirmed address gets an obfuscated user, not an error');
    assert.notEqual(dup.data.user?.id, signin.data.user.id);
    assert.deepEqual(dup.data.user?.identities, []);
  });
});
