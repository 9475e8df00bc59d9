import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DenoNotFoundError, resolveDenoBinary } from '../../src/functions/deno-binary.ts';
import { parseEnvFile, readEnvFile } from '../../src/functions/env-file.ts';
import { loadProjectConfig } from '../../src/project-config.ts';

test('parseEnvFile: dotenv syntax as `functions serve --env-file` reads it', () => {
  const parsed = parseEnvFile(
    [
      '# comment',
      '',
      'PLAIN=value',
      'export EXPORTED=yes',
      'SPACED = around ',
      'INLINE=abc # comment',
      'HASH=abc#not-a-comment',
      "SINGLE='literal $PLAIN \\n # kept'",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dotenv syntax, not a JS template
      'DOUBLE="line1\\nline2 \\"q\\" ${PLAIN}"',
      'MULTI="first',
      'second"',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dotenv syntax, not a JS template
      'EXPANDED=$PLAIN-${EXPORTED}',
      'ESCAPED=\\$PLAIN',
      'EMPTY=',
      'CRLF=windows\r',
      'not a line',
    ].join('\n'),
  );
  assert.deepEqual(parsed, {
    PLAIN: 'value',
    EXPORTED: 'yes',
    SPACED: 'around',
    INLINE: 'abc',
    HASH: 'abc#not-a-comment',
    SINGLE: 'literal $PLAIN \\n # kept',
    DOUBLE: 'line1\nline2 "q" value',
    MULTI: 'first\nsecond',
    EXPANDED: 'value-yes',
    ESCAPED: '$PLAIN',
    EMPTY: '',
    CRLF: 'windows',
  });
});

test('parseEnvFile: an unterminated quote is an error naming the key', () => {
  assert.throws(() => parseEnvFile('KEY="open'), /KEY/);
});

test('readEnvFile: a missing file is no secrets; errors name the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'envfile-'));
  try {
    assert.deepEqual(readEnvFile(join(dir, 'absent.env')), {});
    writeFileSync(join(dir, 'bad.env'), "A='x");
    assert.throws(() => readEnvFile(join(dir, 'bad.env')), /bad\.env/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('resolveDenoBinary finds the platform package binary, not the Node wrapper', () => {
  const path = resolveDenoBinary();
  assert.match(path, /node_modules\/(@deno\/[^/]+|deno)\/deno(\.exe)?$/);
  assert.doesNotMatch(path, /bin\.cjs$/);
});

test('resolveDenoBinary: SUPADISPATCH_DENO_PATH wins; a bad one is a clear error', () => {
  const real = resolveDenoBinary();
  assert.equal(resolveDenoBinary({ env: { SUPADISPATCH_DENO_PATH: real } }), real);
  assert.throws(
    () => resolveDenoBinary({ env: { SUPADISPATCH_DENO_PATH: '/nonexistent/deno' } }),
    (error: unknown) => error instanceof DenoNotFoundError && /SUPADISPATCH_DENO_PATH/.test(error.message),
  );
});

test('resolveDenoBinary: takes the platform package from the node_modules it is pointed at', () => {
  const dir = mkdtempSync(join(tmpdir(), 'denobin-'));
  try {
    const pkgDir = join(dir, 'node_modules', '@deno', 'linux-arm64-glibc');
    mkdirSync(pkgDir, { recursive: true });
    writeFileSync(join(pkgDir, 'package.json'), '{"name":"@deno/linux-arm64-glibc","version":"0.0.0"}');
    writeFileSync(join(pkgDir, 'deno'), '#!/bin/sh\n');
    chmodSync(join(pkgDir, 'deno'), 0o755);
    const found = resolveDenoBinary({
      env: {},
      platform: 'linux',
      arch: 'arm64',
      searchFrom: [join(dir, 'sub')],
    });
    assert.equal(found, join(pkgDir, 'deno'));
    chmodSync(join(pkgDir, 'deno'), 0o644);
    assert.throws(
      () => resolveDenoBinary({ env: {}, platform: 'linux', arch: 'arm64', searchFrom: [dir] }),
      /not executable/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('resolveDenoBinary: an unsupported platform says what is missing', () => {
  assert.throws(
    () => resolveDenoBinary({ env: {}, platform: 'aix', arch: 'ppc64', searchFrom: [tmpdir()] }),
    (error: unknown) =>
      error instanceof DenoNotFoundError &&
      /no @deno\/\* binary package exists for aix-ppc64/.test(error.message) &&
      /npm install/.test(error.message),
  );
});

test('[edge_runtime.secrets] of config.toml: env(NAME) resolved, numbers as text', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfgsecrets-'));
  const secrets = (env: NodeJS.ProcessEnv = {}) => loadProjectConfig(dir, env).edgeRuntime.secrets;
  try {
    assert.deepEqual(secrets(), {}, 'no config.toml, no secrets');
    mkdirSync(join(dir, 'supabase'));
    writeFileSync(
      join(dir, 'supabase', 'config.toml'),
      '[edge_runtime]\nenabled = true\n[edge_runtime.secrets]\nA = "plain"\nB = "env(CFG_SECRET_B)"\nC = 3\n',
    );
    assert.deepEqual(secrets({ CFG_SECRET_B: 'from env' }), { A: 'plain', B: 'from env', C: '3' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
