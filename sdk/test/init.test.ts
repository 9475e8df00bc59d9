import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FUNCTIONS_WITHOUT_JWT, initCommand, withoutJwt } from '../src/cli/init.ts';
import { captureIo, makeProject } from './support/project.ts';

const [worker] = FUNCTIONS_WITHOUT_JWT;
const workerWithoutJwt = (toml: string) => withoutJwt(toml, worker.name, worker.why);

describe('supadispatch init: dispatch-worker and dispatch-auth-email without JWT verification', () => {
  it('adds verify_jwt = false for dispatch-worker and dispatch-auth-email to config.toml when missing', async () => {
    const root = makeProject();
    const { rmSync } = await import('node:fs');
    rmSync(path.join(root, 'dispatch.config.ts'));
    const configFile = path.join(root, 'supabase', 'config.toml');
    const before = readFileSync(configFile, 'utf8');
    const io = captureIo(root);
    assert.equal(await initCommand([], io), 0, io.stderr);
    const after = readFileSync(configFile, 'utf8');
    assert.ok(after.startsWith(before), 'the existing config is kept as written');
    assert.match(after, /\n\[functions\.dispatch-worker\]\nverify_jwt = false\n/);
    assert.match(after, /\n\[functions\.dispatch-auth-email\]\nverify_jwt = false\n$/);
    assert.match(io.stdout, /supabase\/config\.toml \(\[functions\.dispatch-worker\] verify_jwt = false\)/);
    assert.match(
      io.stdout,
      /supabase\/config\.toml \(\[functions\.dispatch-auth-email\] verify_jwt = false\)/,
    );
  });

  it('leaves a config that already says so unchanged, and does not write it', async () => {
    const root = makeProject();
    const { rmSync } = await import('node:fs');
    rmSync(path.join(root, 'dispatch.config.ts'));
    const configFile = path.join(root, 'supabase', 'config.toml');
    writeFileSync(
      configFile,
      `${readFileSync(configFile, 'utf8')}\n[functions.dispatch-worker]\nverify_jwt = false\n\n[functions.dispatch-auth-email]\nverify_jwt = false\n`,
    );
    const before = readFileSync(configFile, 'utf8');
    const io = captureIo(root);
    assert.equal(await initCommand([], io), 0, io.stderr);
    assert.equal(readFileSync(configFile, 'utf8'), before);
    assert.doesNotMatch(io.stdout, /config\.toml/);
  });

  it('adds the key to an existing section without it, before the next section', () => {
    const toml =
      '[functions.dispatch-worker]\nimport_map = "./x.json"\n\n[functions.other]\nverify_jwt = true\n';
    assert.equal(
      workerWithoutJwt(toml).toml,
      '[functions.dispatch-worker]\nverify_jwt = false\nimport_map = "./x.json"\n\n[functions.other]\nverify_jwt = true\n',
    );
    const quoted = '[functions."dispatch-worker"] # the worker\nentrypoint = "a.ts"\n';
    assert.equal(
      workerWithoutJwt(quoted).toml,
      '[functions."dispatch-worker"] # the worker\nverify_jwt = false\nentrypoint = "a.ts"\n',
    );
  });

  it("keeps an explicit verify_jwt = true and warns; another function's key does not count", () => {
    const explicit = workerWithoutJwt('[functions.dispatch-worker]\nverify_jwt = true\n');
    assert.equal(explicit.toml, '[functions.dispatch-worker]\nverify_jwt = true\n');
    assert.match(explicit.warning ?? '', /pg_net and pg_cron call the worker without a JWT/);
    const other = workerWithoutJwt('[functions.other]\nverify_jwt = false');
    assert.equal(
      other.toml,
      '[functions.other]\nverify_jwt = false\n\n# pg_net and pg_cron call the worker without a JWT; it checks its own secret (supadispatch)\n[functions.dispatch-worker]\nverify_jwt = false\n',
    );
    assert.equal(other.warning, undefined);
  });
});
