import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { repoRoot } from '../../src/paths.ts';
import { midRunSlots, midRunStackPorts } from '../support/mid-run-ports.ts';

/**
 * `supadispatch local start | stop | status` as a user runs it, on a stack of its own (own state
 * folder, own ports) so it never touches the stack the other suites use.
 *
 * Its ports lie above Linux's ephemeral range: see ../support/mid-run-ports.ts.
 */
const stateDir = mkdtempSync(join(tmpdir(), 'supadispatch-cli-'));
const ports = midRunStackPorts(midRunSlots.localCli);
const env: NodeJS.ProcessEnv = {
  ...process.env,
  SUPADISPATCH_STATE_DIR: stateDir,
  SUPADISPATCH_SKIP_MIGRATIONS: '1',
  ...Object.fromEntries(
    Object.entries(ports).map(([name, port]) => [`SUPADISPATCH_${name}_PORT`, String(port)]),
  ),
};

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [join(repoRoot, 'sdk', 'bin', 'supadispatch.mjs'), ...args], {
    cwd: repoRoot,
    env,
    encoding: 'utf8',
    timeout: 240_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function parseEnv(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((line) => {
        const match = /^([A-Z_]+)="(.*)"$/.exec(line);
        assert.ok(match, `not a KEY="value" line: ${line}`);
        return [match[1], match[2].replace(/\\(.)/g, '$1')];
      }),
  );
}

describe('supadispatch local', () => {
  after(() => {
    cli('local', 'stop');
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('status before start says it is not running and exits 1', () => {
    const result = cli('local', 'status');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /not running/);
  });

  it('start brings the stack up and prints its variables', () => {
    const result = cli('local', 'start', '-o', 'env');
    assert.equal(result.code, 0, result.stderr);
    const vars = parseEnv(result.stdout);
    assert.equal(vars.API_URL, `http://127.0.0.1:${ports.API}`);
    assert.equal(vars.DB_URL, `postgresql://postgres:postgres@127.0.0.1:${ports.DB}/postgres`);
    for (const key of [
      'ANON_KEY',
      'SERVICE_ROLE_KEY',
      'JWT_SECRET',
      'MAIL_URL',
      'WEBHOOK_SINK_URL',
      'WEBHOOK_SECRET',
    ]) {
      assert.ok(vars[key], `${key} is set`);
    }
  });

  it('start on a running stack says so and exits 0 with the same keys', () => {
    const first = parseEnv(cli('local', 'status', '-o', 'env').stdout);
    const result = cli('local', 'start', '-o', 'env');
    assert.equal(result.code, 0);
    assert.match(result.stderr, /already running/);
    assert.equal(parseEnv(result.stdout).ANON_KEY, first.ANON_KEY);
  });

  it('status -o json prints an object', async () => {
    const result = cli('local', 'status', '-o', 'json');
    assert.equal(result.code, 0);
    const vars = JSON.parse(result.stdout);
    const health = await fetch(`${vars.API_URL}/health`);
    assert.equal(health.status, 200);
  });

  it('rejects an unknown output format, naming it', () => {
    const result = cli('local', 'status', '-o', 'yaml');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /-o: unknown output format "yaml"/);
  });

  it('stop stops it, and stop again says it was not running', () => {
    const first = cli('local', 'stop');
    assert.equal(first.code, 0);
    assert.match(first.stderr, /Stopped/);
    const second = cli('local', 'stop');
    assert.equal(second.code, 0);
    assert.match(second.stderr, /not running/);
    assert.equal(cli('local', 'status').code, 1);
  });

  it('reset deletes the database, and the next start makes a fresh one with the same keys', async () => {
    const before = parseEnv(cli('local', 'start', '-o', 'env').stdout);
    const marker = new pg.Client({ connectionString: before.DB_URL });
    await marker.connect();
    await marker.query('create table public.reset_marker (id int)');
    await marker.end();
    const reset = cli('local', 'reset');
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stderr, /deleted its database/);
    assert.equal(cli('local', 'status').code, 1);
    const started = cli('local', 'start', '-o', 'env');
    assert.equal(started.code, 0, started.stderr);
    assert.equal(parseEnv(started.stdout).ANON_KEY, before.ANON_KEY);
    const check = new pg.Client({ connectionString: before.DB_URL });
    await check.connect();
    const { rows } = await check.query(`select to_regclass('public.reset_marker') as marker`);
    await check.end();
    assert.equal(rows[0].marker, null, 'the table made before the reset is gone');
    assert.equal(cli('local', 'stop').code, 0);
  });

  it('start with a port taken names the port and what to do', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(ports.MAIL, '127.0.0.1', resolve));
    try {
      const result = cli('local', 'start');
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`port ${ports.MAIL} \\(MAIL\\) is already in use`));
      assert.match(result.stderr, /SUPADISPATCH_MAIL_PORT/);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
