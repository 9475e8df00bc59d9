import pg from 'pg';
import type { Logger } from '../logger.ts';
import { applyBootstrap } from './bootstrap.ts';

/**
 * A fresh Supabase-like database on the same cluster, for tests that push migrations with the real
 * CLI: `supabase db push` refuses a target whose migration history holds versions missing locally,
 * and the stack's own `postgres` database already has the repo's migrations. The new database is
 * owned by `postgres` (as on hosted) and gets the whole bootstrap (schemas, grants, vault and net
 * stand-ins). Roles are cluster-wide, so they are shared with `postgres`. pg_cron lives only in the
 * database named by `cron.database_name` (`postgres`): the fresh database has no `cron` schema,
 * as a Supabase project without the pg_cron extension enabled.
 */

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new Error(
      `database name ${JSON.stringify(name)}: use lowercase letters, digits and _ (at most 63)`,
    );
  }
  if (name === 'postgres' || name.startsWith('template')) {
    throw new Error(`database name ${JSON.stringify(name)} is reserved`);
  }
}

/** `url` with its database replaced by `name` (user, password, host, port and parameters kept). */
export function databaseUrl(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * `create database <name> owner postgres` on the cluster of `adminDbUrl` (a superuser, e.g.
 * `supabase_admin`), then the bootstrap in it. Returns the admin and `postgres` role URLs of the
 * new database (password of the `postgres` role taken from `postgresPassword`, default the same as
 * the admin URL's). Fails when the database exists already. On a bootstrap failure the database is
 * dropped again.
 */
export async function createBootstrappedDatabase(
  adminDbUrl: string,
  name: string,
  log: Logger,
  options: { postgresPassword?: string } = {},
): Promise<{ adminDbUrl: string; dbUrl: string }> {
  checkName(name);
  const client = new pg.Client({ connectionString: adminDbUrl });
  await client.connect();
  try {
    await client.query(`create database ${name} owner postgres`);
  } finally {
    await client.end();
  }
  const adminUrl = databaseUrl(adminDbUrl, name);
  try {
    await applyBootstrap(adminUrl, log);
  } catch (error) {
    await dropDatabase(adminDbUrl, name).catch(() => {});
    throw error;
  }
  const user = new URL(adminDbUrl);
  user.username = 'postgres';
  user.password = options.postgresPassword ?? new URL(adminDbUrl).password;
  log('db', `database ${name} created and bootstrapped`);
  return { adminDbUrl: adminUrl, dbUrl: databaseUrl(user.toString(), name) };
}

/** `drop database if exists <name> with (force)` (ends its sessions); no-op when it is absent. */
export async function dropDatabase(adminDbUrl: string, name: string): Promise<void> {
  checkName(name);
  const client = new pg.Client({ connectionString: adminDbUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${name} with (force)`);
  } finally {
    await client.end();
  }
}
