import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ensureCluster } from '../src/db/cluster.ts';
import { repoRoot } from '../src/paths.ts';
import {
  DEFAULT_PG_BIN,
  DEFAULT_PG_SHARE,
  installCommand,
  missingSystemPackages,
  missingSystemPackagesMessage,
  systemPackages,
} from '../src/system-packages.mjs';

/**
 * The Debian packages the local stack needs: which are missing, and what the user is told. Nothing
 * here installs a package or starts PostgreSQL; the missing ones are simulated with an injected
 * file check, or with SUPADISPATCH_PG_SHARE pointing at a share directory without pg_cron.
 */
const scratch = mkdtempSync(join(tmpdir(), 'supadispatch-packages-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A share directory with every extension's control file except those named. */
function shareDirWithout(...absent: string[]): string {
  const dir = mkdtempSync(join(scratch, 'share-'));
  mkdirSync(join(dir, 'extension'));
  for (const ext of ['pgcrypto', 'pg_cron', 'pgtap'].filter((e) => !absent.includes(e))) {
    writeFileSync(join(dir, 'extension', `${ext}.control`), '');
  }
  return dir;
}

const allBut =
  (...absent: string[]) =>
  (path: string) =>
    !absent.includes(path);

describe('system packages of the local stack', () => {
  it("proves each package by a file of Debian's PostgreSQL 15 layout", () => {
    assert.deepEqual(
      systemPackages({}).map((p) => [p.name, p.proof]),
      [
        ['postgresql-15', `${DEFAULT_PG_BIN}/postgres`],
        ['postgresql-contrib', `${DEFAULT_PG_SHARE}/extension/pgcrypto.control`],
        ['postgresql-15-cron', `${DEFAULT_PG_SHARE}/extension/pg_cron.control`],
        ['postgresql-15-pgtap', `${DEFAULT_PG_SHARE}/extension/pgtap.control`],
      ],
    );
  });

  it('nothing is missing when every proof file exists', () => {
    assert.deepEqual(
      missingSystemPackages({}, () => true),
      [],
    );
  });

  it('a missing pg_cron names its package, the one command that installs it, and what npm start does', () => {
    const missing = missingSystemPackages({}, allBut(`${DEFAULT_PG_SHARE}/extension/pg_cron.control`));
    assert.deepEqual(
      missing.map((p) => p.name),
      ['postgresql-15-cron'],
    );
    const message = missingSystemPackagesMessage(missing, false);
    assert.match(message, /postgresql-15-cron: pg_cron/);
    assert.match(message, /\/usr\/share\/postgresql\/15\/extension\/pg_cron\.control is missing/);
    assert.ok(
      message.includes('\n  sudo apt-get install -y --no-install-recommends postgresql-15-cron\n'),
      message,
    );
    assert.match(message, /`npm start` would have installed it for you: run as root it installs the missing/);
    assert.doesNotMatch(message, /could not access file/);
  });

  it('several missing packages: one command installs them all, in order', () => {
    const missing = missingSystemPackages(
      {},
      allBut(`${DEFAULT_PG_BIN}/postgres`, `${DEFAULT_PG_SHARE}/extension/pgtap.control`),
    );
    assert.equal(
      installCommand(missing, false),
      'sudo apt-get install -y --no-install-recommends postgresql-15 postgresql-15-pgtap',
    );
    assert.match(missingSystemPackagesMessage(missing, false), /Install them with:/);
  });

  it('root is given the command without sudo (a minimal image has no sudo)', () => {
    const missing = missingSystemPackages({}, allBut(`${DEFAULT_PG_SHARE}/extension/pg_cron.control`));
    assert.equal(
      installCommand(missing, true),
      'apt-get install -y --no-install-recommends postgresql-15-cron',
    );
    assert.doesNotMatch(missingSystemPackagesMessage(missing, true), /sudo/);
  });

  it('SUPADISPATCH_PG_BIN and SUPADISPATCH_PG_SHARE move where the proofs are looked for', () => {
    const packages = systemPackages({
      SUPADISPATCH_PG_BIN: '/opt/pg/bin',
      SUPADISPATCH_PG_SHARE: '/opt/pg/share',
    });
    assert.deepEqual(
      packages.map((p) => p.proof),
      [
        '/opt/pg/bin/postgres',
        '/opt/pg/share/extension/pgcrypto.control',
        '/opt/pg/share/extension/pg_cron.control',
        '/opt/pg/share/extension/pgtap.control',
      ],
    );
  });

  it('the cluster is not created without them (npm start, dev-db and the test stack go through here)', () => {
    const saved = process.env.SUPADISPATCH_PG_SHARE;
    process.env.SUPADISPATCH_PG_SHARE = shareDirWithout('pg_cron');
    const dataDir = join(scratch, 'cluster', 'db');
    try {
      assert.throws(
        () =>
          ensureCluster({
            dataDir,
            runDir: join(scratch, 'cluster', 'run'),
            logFile: join(scratch, 'cluster', 'run', 'postgres.log'),
            port: 1,
            log: () => {},
          }),
        /apt-get install -y --no-install-recommends postgresql-15-cron/,
      );
      assert.equal(existsSync(dataDir), false, 'no initdb');
    } finally {
      if (saved === undefined) delete process.env.SUPADISPATCH_PG_SHARE;
      else process.env.SUPADISPATCH_PG_SHARE = saved;
    }
  });

  it('`supadispatch local start` says which package is missing and how to install it, and starts nothing', () => {
    const stateDir = join(scratch, 'state');
    const result = spawnSync(
      process.execPath,
      [join(repoRoot, 'sdk', 'bin', 'supadispatch.mjs'), 'local', 'start'],
      {
        cwd: repoRoot,
        env: {
          ...process.env,
          SUPADISPATCH_STATE_DIR: stateDir,
          SUPADISPATCH_PG_SHARE: shareDirWithout('pg_cron'),
        },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, /error: the local stack needs a Debian package that is not installed:/);
    assert.match(result.stderr, /- postgresql-15-cron: pg_cron/);
    // as the test runs: sudo unless it runs as root
    const command = installCommand(systemPackages().filter((p) => p.name === 'postgresql-15-cron'));
    assert.ok(result.stderr.includes(`\n  ${command}\n`), result.stderr);
    assert.match(result.stderr, /`npm start` would have installed it for you/);
    assert.doesNotMatch(result.stderr, /postgresql-15-pgtap|postgresql-contrib/);
    assert.equal(existsSync(join(stateDir, 'db')), false, 'no database was created');
  });
});
