import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createRestService } from '../../src/rest/index.ts';
import { adminDbUrlOrNull, startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * REST connects as `authenticator`, as PostgREST does: a JWT signed with the stack's secret whose
 * role authenticator may not become (postgres, supabase_admin) is refused with PostgREST's
 * 42501 "permission denied to set role" (403: the token carries a role claim) and can neither
 * read nor write; anon, authenticated and service_role behave as before.
 */

const skipReason = adminDbUrlOrNull() ? false : 'needs SUPABASE_ADMIN_DB_URL to create test tables';

const setupSql = `
drop table if exists public.ra_secret cascade;
drop function if exists public.ra_write();
create table public.ra_secret (id int primary key, note text not null);
alter table public.ra_secret enable row level security;
grant select, insert on public.ra_secret to anon, authenticated, service_role;
insert into public.ra_secret values (1, 'hidden');
create function public.ra_write() returns int language sql volatile as
  $$ insert into public.ra_secret values (2, 'written') returning id $$;
`;
const teardownSql =
  'drop table if exists public.ra_secret cascade; drop function if exists public.ra_write();';

describe('/rest/v1 runs as authenticator', { skip: skipReason }, () => {
  let stack: TestStack;
  let admin: pg.Client;
  const rest = (path: string, token: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('apikey', stack.anonKey);
    headers.set('authorization', `Bearer ${token}`);
    return fetch(`${stack.url}/rest/v1${path}`, { ...init, headers });
  };
  const rows = async () =>
    (await admin.query<{ id: number; note: string }>('select id, note from public.ra_secret order by id'))
      .rows;

  before(async () => {
    admin = new pg.Client({ connectionString: adminDbUrlOrNull() as string });
    await admin.connect();
    await admin.query(setupSql);
    stack = await startTestStack({ services: [createRestService()] });
  });

  after(async () => {
    await stack?.stop();
    await admin?.query(teardownSql).catch(() => {});
    await admin?.end();
  });

  for (const role of ['supabase_admin', 'postgres']) {
    test(`a JWT with role ${role} is refused (403 42501) and reads nothing`, async () => {
      const token = stack.signUserToken('00000000-0000-0000-0000-000000000001', { role });
      const expected = {
        code: '42501',
        details: null,
        hint: null,
        message: `permission denied to set role "${role}"`,
      };
      for (const path of ['/ra_secret?select=*', '/rpc/ra_write', '/']) {
        const r = await rest(path, token);
        assert.equal(r.status, 403, path);
        assert.deepEqual(await r.json(), expected, path);
        assert.equal(r.headers.get('www-authenticate'), null, path);
      }
    });

    test(`a JWT with role ${role} writes nothing (insert, rpc)`, async () => {
      const token = stack.signUserToken('00000000-0000-0000-0000-000000000001', { role });
      const insert = await rest('/ra_secret', token, {
        method: 'POST',
        headers: { 'content-type': 'application/json', prefer: 'return=representation' },
        body: JSON.stringify({ id: 3, note: 'forged' }),
      });
      assert.equal(insert.status, 403);
      assert.equal((await insert.json()).code, '42501');
      const call = await rest('/rpc/ra_write', token, { method: 'POST', body: '{}' });
      assert.equal(call.status, 403);
      assert.equal((await call.json()).code, '42501');
      assert.deepEqual(await rows(), [{ id: 1, note: 'hidden' }]);
    });
  }

  test('anon, authenticated and service_role behave as before', async () => {
    const anonRead = await rest('/ra_secret?select=id', stack.anonKey);
    assert.equal(anonRead.status, 200);
    assert.deepEqual(await anonRead.json(), []);
    const userRead = await rest(
      '/ra_secret?select=id',
      stack.signUserToken('00000000-0000-0000-0000-000000000002'),
    );
    assert.equal(userRead.status, 200);
    assert.deepEqual(await userRead.json(), []);
    const serviceRead = await rest('/ra_secret?select=id,note', stack.serviceRoleKey);
    assert.equal(serviceRead.status, 200);
    assert.deepEqual(await serviceRead.json(), [{ id: 1, note: 'hidden' }]);
    const anonInsert = await rest('/ra_secret', stack.anonKey, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 4, note: 'anon' }),
    });
    assert.equal(anonInsert.status, 401);
    assert.equal((await anonInsert.json()).code, '42501');
    const root = await rest('/', stack.anonKey);
    assert.equal(root.status, 200);
    assert.ok('/ra_secret' in (await root.json()).paths);
    assert.deepEqual(await rows(), [{ id: 1, note: 'hidden' }]);
  });

  test('requests run on a non-superuser session (authenticator)', async () => {
    // Only the session user shows up in pg_stat_activity; the REST pool's are authenticator.
    await rest('/ra_secret?select=id', stack.serviceRoleKey);
    const { rows: sessions } = await admin.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity where usename = 'authenticator' and datname = current_database()`,
    );
    assert.ok(sessions[0].n >= 1);
  });
});
