/**
 * Migrations through the real Supabase CLI (`supabase db push`) as the `postgres` role, and
 * `supabase gen types`. Each run pushes into a fresh database created by postgres (CREATEDB, as
 * on hosted), so the shared database's migration history is never touched; gen types also runs
 * against the bootstrapped database itself. Needs SUPABASE_DB_URL.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { genTypes, pushMigrations } from '../../src/db/migrate.ts';

const dbUrl = process.env.SUPABASE_DB_URL;
const missing = 'SUPABASE_DB_URL is not set (the postgres role of the stack under test)';
const dbName = `sd_migrate_${Math.random().toString(36).slice(2, 10)}`;
let projectRoot = '';
let scratchUrl = '';
let admin: pg.Client | undefined;
const logLines: string[] = [];
const log = (_service: string, message: string): void => {
  logLines.push(message);
};

function writeMigration(version: string, name: string, sql: string): void {
  writeFileSync(join(projectRoot, 'supabase', 'migrations', `${version}_${name}.sql`), sql);
}

before(async () => {
  if (!dbUrl) return;
  projectRoot = mkdtempSync(join(tmpdir(), 'supadispatch-migrate-'));
  mkdirSync(join(projectRoot, 'supabase', 'migrations'), { recursive: true });
  admin = new pg.Client({ connectionString: dbUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const url = new URL(dbUrl);
  url.pathname = `/${dbName}`;
  scratchUrl = url.toString();
});

after(async () => {
  if (admin) {
    await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => {});
    await admin.end();
  }
  if (projectRoot) rmSync(projectRoot, { recursive: true, force: true });
});

test('supabase db push applies a migration and the seed as postgres', async (t) => {
  if (!dbUrl) return t.skip(missing);
  writeMigration(
    '20260101000000',
    'widgets',
    `create table public.sd_widgets (id bigint generated always as identity primary key, name text not null);
     grant select on public.sd_widgets to anon, authenticated;`,
  );
  writeFileSync(
    join(projectRoot, 'supabase', 'seed.sql'),
    `insert into public.sd_widgets (name) values ('seeded');`,
  );
  await pushMigrations({ projectRoot, dbUrl: scratchUrl, includeSeed: true, log });
  assert.ok(
    logLines.some((line) => line.includes('20260101000000_widgets.sql')),
    `the CLI's output is streamed to the log:\n${logLines.join('\n')}`,
  );
  assert.ok(!logLines.some((line) => line.includes(':postgres@')), 'the password is not logged');
  const client = new pg.Client({ connectionString: scratchUrl });
  await client.connect();
  try {
    const owner = await client.query(`select tableowner from pg_tables where tablename = 'sd_widgets'`);
    assert.equal(owner.rows[0]?.tableowner, 'postgres', 'migrations run as postgres');
    const seeded = await client.query('select name from public.sd_widgets');
    assert.deepEqual(
      seeded.rows.map((r) => r.name),
      ['seeded'],
    );
    const history = await client.query('select version from supabase_migrations.schema_migrations');
    assert.deepEqual(
      history.rows.map((r) => r.version),
      ['20260101000000'],
    );
  } finally {
    await client.end();
  }
});

test('a migration that needs superuser fails as on hosted, with the CLI output', async (t) => {
  if (!dbUrl) return t.skip(missing);
  writeMigration('20260102000000', 'needs_superuser', 'alter role postgres superuser;');
  await assert.rejects(pushMigrations({ projectRoot, dbUrl: scratchUrl, log }), (error: Error) => {
    assert.match(error.message, /supabase db push failed/);
    assert.match(error.message, /must be superuser/);
    return true;
  });
  rmSync(join(projectRoot, 'supabase', 'migrations', '20260102000000_needs_superuser.sql'));
  writeMigration('20260103000000', 'copy_program', `copy (select 1) to program 'true';`);
  await assert.rejects(
    pushMigrations({ projectRoot, dbUrl: scratchUrl, log }),
    /pg_execute_server_program|superuser/,
  );
  rmSync(join(projectRoot, 'supabase', 'migrations', '20260103000000_copy_program.sql'));
});

test('supabase gen types produces TypeScript with the migrated table', async (t) => {
  if (!dbUrl) return t.skip(missing);
  const types = await genTypes({ dbUrl: scratchUrl });
  assert.match(types, /export type Database/);
  assert.match(types, /"?sd_widgets"?: \{/);
});

test('supabase gen types works against the bootstrapped database', async (t) => {
  if (!dbUrl) return t.skip(missing);
  const types = await genTypes({ dbUrl, schemas: ['public', 'realtime'] });
  assert.match(types, /export type Database/);
  assert.match(types, /"?realtime"?: \{/);
});
