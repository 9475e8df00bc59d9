import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from '../logger.ts';
import {
  missingSystemPackages,
  missingSystemPackagesMessage,
  pgBinDir as serverBinDir,
} from '../system-packages.mjs';

/**
 * The stack's PostgreSQL 15 cluster: Debian's server binaries, run as the `postgres` OS user
 * when we are root (initdb refuses root), on a data directory inside the stack's state folder.
 * The bootstrap superuser is `supabase_admin`, as in Supabase's image; the `postgres` role is
 * created later by the bootstrap SQL as a non-superuser.
 */

export const pgBinDir = serverBinDir();
export const superuser = 'supabase_admin';
/** `supabase start` uses the password `postgres` for its database roles; so do we. */
export const localPassword = 'postgres';

export interface ClusterOptions {
  dataDir: string;
  /** Directory for the unix socket and the server log (must be writable by the server's OS user). */
  runDir: string;
  logFile: string;
  port: number;
  log: Logger;
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** The OS account the server runs as. */
function serverOsUser(): { name: string; uid: number; gid: number } {
  if (!isRoot()) {
    const me = userInfo();
    return { name: me.username, uid: me.uid, gid: me.gid };
  }
  const result = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gidResult = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(
      'running as root, but there is no `postgres` OS user to run PostgreSQL as: install the server with `apt-get install -y postgresql-15` (it creates the user)',
    );
  }
  return { name: 'postgres', uid: Number(result.stdout.trim()), gid: Number(gidResult.stdout.trim()) };
}

function runAsServerUser(binary: string, args: string[], options: { input?: string } = {}) {
  const command = join(pgBinDir, binary);
  if (!existsSync(command)) {
    throw new Error(`${command} not found: install PostgreSQL 15 with \`apt-get install -y postgresql-15\``);
  }
  const [file, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  return spawnSync(file, argv, {
    encoding: 'utf8',
    input: options.input,
    env: { ...process.env, LC_ALL: 'C.UTF-8' },
  });
}

function ensureDir(dir: string, owner: { uid: number; gid: number }, mode = 0o755): void {
  mkdirSync(dir, { recursive: true, mode });
  chmodSync(dir, mode);
  if (!isRoot()) return;
  chownSync(dir, owner.uid, owner.gid);
  // The server's OS user must be able to reach the directory: a checkout or state folder inside
  // a root-only directory (mode 0700, e.g. made by mkdtemp) would hide it. Let others traverse
  // (search, not list) every ancestor that blocks the way.
  for (let ancestor = dirname(dir); ; ancestor = dirname(ancestor)) {
    const mode = statSync(ancestor).mode & 0o777;
    if ((mode & 0o001) === 0) chmodSync(ancestor, mode | 0o001);
    if (dirname(ancestor) === ancestor) break;
  }
}

/** Settings appended to postgresql.conf once, at initdb time. */
function serverSettings(options: ClusterOptions): string {
  return [
    '# --- supadispatch local stack ---',
    `port = ${options.port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${options.runDir}'`,
    "shared_preload_libraries = 'pg_cron'",
    "cron.database_name = 'postgres'",
    // pg_cron connects through libpq: over the socket (trust), not TCP (scram, and it has no password).
    `cron.host = '${options.runDir}'`,
    "cron.timezone = 'UTC'",
    "timezone = 'UTC'",
    "log_timezone = 'UTC'",
    'max_connections = 200',
    'wal_level = logical',
    'max_replication_slots = 10',
    'max_wal_senders = 10',
    // A local development database trades crash safety for speed, like a throwaway container.
    'fsync = off',
    'full_page_writes = off',
    'synchronous_commit = off',
    "password_encryption = 'scram-sha-256'",
    '',
  ].join('\n');
}

export function clusterExists(dataDir: string): boolean {
  return existsSync(join(dataDir, 'PG_VERSION'));
}

/**
 * Throws, naming each missing Debian package and the command that installs it, before PostgreSQL
 * would fail on it (a missing pg_cron only shows in the server's log, as `could not access file`).
 */
export function assertSystemPackages(): void {
  const missing = missingSystemPackages();
  if (missing.length > 0) throw new Error(missingSystemPackagesMessage(missing));
}

/** initdb once; returns true when a new cluster was created. */
export function ensureCluster(options: ClusterOptions): boolean {
  assertSystemPackages();
  const owner = serverOsUser();
  // Private: the unix socket there accepts local connections without a password (trust).
  ensureDir(options.runDir, owner, 0o700);
  if (clusterExists(options.dataDir)) return false;
  ensureDir(options.dataDir, owner, 0o700);
  const pwfile = join(options.runDir, 'initdb.pw');
  writeFileSync(pwfile, `${localPassword}\n`, { mode: 0o600 });
  if (isRoot()) chownSync(pwfile, owner.uid, owner.gid);
  options.log('db', `initdb ${options.dataDir}`);
  const result = runAsServerUser('initdb', [
    '-D',
    options.dataDir,
    '-U',
    superuser,
    `--pwfile=${pwfile}`,
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '--encoding=UTF8',
    '--locale=C.UTF-8',
  ]);
  if (result.status !== 0) {
    throw new Error(`initdb failed (exit ${result.status}):\n${result.stderr || result.stdout}`);
  }
  const conf = join(options.dataDir, 'postgresql.conf');
  writeFileSync(conf, `${readFileSync(conf, 'utf8')}\n${serverSettings(options)}`);
  return true;
}

export function startCluster(options: ClusterOptions): void {
  const owner = serverOsUser();
  // Private: the unix socket there accepts local connections without a password (trust).
  ensureDir(options.runDir, owner, 0o700);
  const result = runAsServerUser('pg_ctl', [
    '-D',
    options.dataDir,
    '-l',
    options.logFile,
    '-w',
    '-t',
    '60',
    'start',
  ]);
  if (result.status !== 0) {
    let tail = '';
    try {
      tail = readFileSync(options.logFile, 'utf8').split('\n').slice(-15).join('\n');
    } catch {}
    throw new Error(`PostgreSQL did not start (pg_ctl exit ${result.status}): ${result.stderr}\n${tail}`);
  }
  options.log('db', `PostgreSQL 15 listening on 127.0.0.1:${options.port}`);
}

export function clusterRunning(dataDir: string): boolean {
  if (!clusterExists(dataDir)) return false;
  return runAsServerUser('pg_ctl', ['-D', dataDir, 'status']).status === 0;
}

export function stopCluster(options: Pick<ClusterOptions, 'dataDir' | 'log'>): void {
  if (!clusterRunning(options.dataDir)) return;
  const result = runAsServerUser('pg_ctl', ['-D', options.dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']);
  if (result.status !== 0) throw new Error(`pg_ctl stop failed: ${result.stderr || result.stdout}`);
  options.log('db', 'PostgreSQL stopped');
}

/** The server log's path; kept inside the run directory so the server's OS user can write it. */
export function serverLogFile(runDir: string): string {
  return join(runDir, 'postgres.log');
}
