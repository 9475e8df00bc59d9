/**
 * createBootstrappedDatabase / dropDatabase: a second Supabase-like database on the stack's cluster
 * (bootstrap applied, owned by postgres, no cron schema), the core installable in it as postgres,
 * and gone again after dropDatabase. Needs SUPABASE_ADMIN_DB_URL (the local stack's superuser).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { buildCore } from '../../../sql/build.ts';
import { createBootstrappedDatabase, databaseUrl, dropDatabase } from '../../src/db/fresh-database.ts';

const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;
const name = `sd_fresh_${process.pid}_${Date.now().toString(36)}`;
const logLines: string[] = [];
const log = (_service: string, message: string): void => {
  logLines.push(message);
};

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe('databaseUrl', () => {
  it('replaces only the database', () => {
    assert.equal(
      databaseUrl('postgresql://u:p@127.0.0.1:5432/postgres?sslmode=disable', 'x_1'),
      'postgresql://u:p@127.0.0.1:5432/x_1?sslmode=disable',
    );
  });

  it('refuses names that are not plain identifiers, and reserved ones', async () => {
    for (const bad of ['Bad', 'a-b', 'x; drop database postgres', 'postgres', 'template1', '']) {
      await assert.rejects(
        createBootstrappedDatabase('postgresql://u:p@127.0.0.1:1/postgres', bad, log),
        /database name/,
      );
    }
  });
});

describe('createBootstrappedDatabase', {
  skip:
    !adminUrl &&
    'SUPABASE_ADMIN_DB_URL is not set (the local stack superuser; a real Supabase cannot create databases for tests)',
}, () => {
  let urls: { adminDbUrl: string; dbUrl: string } | undefined;

  after(async () => {
    if (adminUrl) await dropDatabase(adminUrl, name).catch(() => {});
  });

  it('creates a database owned by postgres with the Supabase schemas and roles', async () => {
    urls = await createBootstrappedDatabase(adminUrl!, name, log);
    assert.ok(
      logLines.some((l) => l.includes('300_cron.sql skipped')),
      logLines.join('\n'),
    );
    assert.equal(new URL(urls.dbUrl).username, 'postgres');
    assert.equal(new URL(urls.dbUrl).pathname, `/${name}`);
    const row = await withClient(urls.dbUrl, async (c) => {
      const r = await c.query(`
        select current_user as who, pg_get_userbyid(d.datdba) as owner,
               to_regnamespace('auth') is not null as auth, to_regnamespace('extensions') is not null as ext,
               to_regnamespace('realtime') is not null as realtime, to_regnamespace('net') is not null as net,
               to_regclass('vault.decrypted_secrets') is not null as vault,
               to_regnamespace('cron') is null as no_cron
        from pg_database d where d.datname = current_database()`);
      return r.rows[0];
    });
    assert.deepEqual(row, {
      who: 'postgres',
      owner: 'postgres',
      auth: true,
      ext: true,
      realtime: true,
      net: true,
      vault: true,
      no_cron: true,
    });
  });

  it('the bootstrap is idempotent there too', async () => {
    const { applyBootstrap } = await import('../../src/db/bootstrap.ts');
    await applyBootstrap(urls!.adminDbUrl, log);
  });

  it('Vault works as postgres in the new database', async () => {
    const v = await withClient(urls!.dbUrl, async (c) => {
      await c.query(`select vault.create_secret('hello', 'sd_fresh_secret')`);
      return (
        await c.query(`select decrypted_secret from vault.decrypted_secrets where name = 'sd_fresh_secret'`)
      ).rows[0]?.decrypted_secret;
    });
    assert.equal(v, 'hello');
  });

  it('the SQL core installs as postgres without pg_cron (warning, no failure)', async () => {
    const notices: string[] = [];
    const version = await withClient(urls!.dbUrl, async (c) => {
      c.on('notice', (n) => notices.push(n.message ?? ''));
      await c.query('begin');
      await c.query(buildCore());
      await c.query('commit');
      return (await c.query('select dispatch.version() as v')).rows[0].v;
    });
    assert.match(String(version), /^\d+\.\d+\.\d+$/);
    assert.ok(
      notices.some((n) => /supadispatch: pg_cron not created/.test(n)),
      `a warning names pg_cron:\n${notices.join('\n')}`,
    );
  });

  it('the stack database keeps its cron schema', async () => {
    const ok = await withClient(
      adminUrl!,
      async (c) => (await c.query(`select to_regnamespace('cron') is not null as ok`)).rows[0].ok,
    );
    assert.equal(ok, true);
  });

  it('dropDatabase removes it and is a no-op the second time', async () => {
    await dropDatabase(adminUrl!, name);
    await dropDatabase(adminUrl!, name);
    const n = await withClient(
      adminUrl!,
      async (c) =>
        (await c.query('select count(*)::int as n from pg_database where datname = $1', [name])).rows[0].n,
    );
    assert.equal(n, 0);
  });
});
