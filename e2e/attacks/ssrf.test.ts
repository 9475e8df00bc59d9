/**
 * The SSRF attacks (deno/ssrf_attacks_test.mts) under the repository's real Deno, with real sockets
 * on loopback ports the OS picks: redirects from an allowed host and DNS answers (a resolver stub)
 * to loopback, private, link-local and metadata addresses. The Deno file writes its counts; this
 * wrapper puts them on the scoreboard.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { resolveDenoBinary } from '../../local/src/functions/deno-binary.ts';
import { Scoreboard } from './support.ts';

const here = dirname(fileURLToPath(import.meta.url));
const board = new Scoreboard('ssrf');

test('SSRF guard: redirects and DNS answers to private addresses are refused (real Deno, real sockets)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'attacks-ssrf-'));
  const countFile = join(dir, 'counts.json');
  try {
    const result = spawnSync(
      resolveDenoBinary(),
      [
        'test',
        '--quiet',
        '--allow-net=127.0.0.1,localhost,localhost.',
        '--allow-env',
        '--allow-read',
        `--allow-write=${dir}`,
        'deno/ssrf_attacks_test.mts',
      ],
      {
        cwd: here,
        encoding: 'utf8',
        timeout: 300_000,
        env: {
          ...process.env,
          NO_COLOR: '1',
          DENO_NO_UPDATE_CHECK: '1',
          ATTACK_COUNT_FILE: countFile,
        },
      },
    );
    let counts = { tried: 0, breaches: ['the Deno run wrote no counts'] };
    try {
      counts = JSON.parse(readFileSync(countFile, 'utf8'));
    } catch {}
    board.count('ssrf', counts.tried, counts.breaches.length > 0 || result.status !== 0);
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    assert.deepEqual(counts.breaches, []);
    assert.ok(counts.tried > 100, `tried ${counts.tried}`);
  } finally {
    board.write();
    rmSync(dir, { recursive: true, force: true });
  }
});
