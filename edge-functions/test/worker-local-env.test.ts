/**
 * "Works with no setup" on the local stack, without a database: the environment the stack gives
 * supadispatch's functions (local/src/functions/dispatch-worker.ts through FunctionEnvironment) and
 * the worker secret kept with the stack's keys. Vault and the JWT-free poke are exercised end to end
 * by worker-stack.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { StackContext } from '../../local/src/context.ts';
import { FunctionEnvironment } from '../../local/src/functions/function-env.ts';
import { statePaths } from '../../local/src/paths.ts';
import { loadOrCreateKeys } from '../../local/src/state.ts';

function context(projectRoot: string, secrets: Record<string, string> = {}): StackContext {
  return {
    projectRoot,
    paths: statePaths(projectRoot),
    keys: {
      jwtSecret: 'j'.repeat(40),
      anonKey: 'anon',
      serviceRoleKey: 'service',
      webhookSecret: 'whsec_c2luayBzZWNyZXQ=',
      workerSecret: 'worker-secret-of-the-stack',
    },
    urls: {
      api: 'http://127.0.0.1:55321',
      db: 'postgresql://postgres:postgres@127.0.0.1:55322/postgres',
      adminDb: 'postgresql://supabase_admin:postgres@127.0.0.1:55322/postgres',
      authenticatorDb: 'postgresql://authenticator:postgres@127.0.0.1:55322/postgres',
      mail: 'http://127.0.0.1:55324',
      smtp: { host: '127.0.0.1', port: 55325 },
      webhookSink: 'http://127.0.0.1:55326',
      functions: 'http://127.0.0.1:55321/functions/v1',
    },
    config: { edgeRuntime: { secrets }, functions: {} },
    log: () => {},
  } as unknown as StackContext;
}

function project(): { root: string; functionsDir: string } {
  const root = mkdtempSync(join(tmpdir(), 'sd-worker-env-'));
  const functionsDir = join(root, 'supabase', 'functions');
  mkdirSync(functionsDir, { recursive: true });
  return { root, functionsDir };
}

describe('the local stack gives supadispatch functions what they need', () => {
  it('worker secret, database URL, Resend through the mail catcher, webhook secret, allowed hosts', () => {
    const { root, functionsDir } = project();
    const ctx = context(root);
    const env = new FunctionEnvironment({ envFile: null, log: () => {} }).build(ctx, functionsDir);
    assert.equal(env.DISPATCH_WORKER_SECRET, 'worker-secret-of-the-stack');
    assert.equal(env.SUPABASE_DB_URL, ctx.urls.db);
    assert.equal(env.RESEND_API_URL, 'http://127.0.0.1:55324');
    assert.ok(env.RESEND_API_KEY);
    assert.equal(
      env.DISPATCH_WEBHOOK_SECRET,
      'whsec_c2luayBzZWNyZXQ=',
      'the secret the webhook sink verifies with',
    );
    assert.equal(env.DISPATCH_ALLOWED_HOSTS, '127.0.0.1:55326,127.0.0.1:55324');
  });

  it('the signing secret name the generated registry gives is set too', () => {
    const { root, functionsDir } = project();
    mkdirSync(join(functionsDir, '_generated'));
    writeFileSync(
      join(functionsDir, '_generated', 'registry.ts'),
      'export const transports = {\n  "webhook": {\n    "signingSecret": "SHOP_WEBHOOK_SECRET"\n  }\n};\n',
    );
    const env = new FunctionEnvironment({ envFile: null, log: () => {} }).build(context(root), functionsDir);
    assert.equal(env.SHOP_WEBHOOK_SECRET, 'whsec_c2luayBzZWNyZXQ=');
    assert.equal(env.DISPATCH_WEBHOOK_SECRET, 'whsec_c2luayBzZWNyZXQ=');
  });

  it("the project's secrets override the defaults; its own worker secret is the one Vault gets", () => {
    const { root, functionsDir } = project();
    writeFileSync(
      join(functionsDir, '.env'),
      'RESEND_API_URL=https://api.resend.com\nDISPATCH_WORKER_SECRET=mine\n',
    );
    const ctx = context(root, { DISPATCH_ALLOWED_HOSTS: 'hooks.internal:8080' });
    const environment = new FunctionEnvironment({ log: () => {} });
    const env = environment.build(ctx, functionsDir);
    assert.equal(env.RESEND_API_URL, 'https://api.resend.com');
    assert.equal(env.DISPATCH_ALLOWED_HOSTS, 'hooks.internal:8080');
    assert.equal(env.DISPATCH_WORKER_SECRET, 'mine');
    assert.equal(environment.workerSecret(ctx, functionsDir), 'mine', 'what configureWorkerVault stores');
    const { root: other, functionsDir: plain } = project();
    assert.equal(environment.workerSecret(context(other), plain), 'worker-secret-of-the-stack');
  });

  it('the worker secret is made once and kept; a secrets file from before it gets one added', () => {
    const { root } = project();
    const paths = { ...statePaths(root), secretsFile: join(root, '.supadispatch', 'secrets.json') };
    const first = loadOrCreateKeys(paths);
    assert.match(first.workerSecret ?? '', /^[A-Za-z0-9_-]{40,}$/);
    assert.deepEqual(loadOrCreateKeys(paths), first);
    const { workerSecret: _dropped, ...older } = first;
    writeFileSync(paths.secretsFile, JSON.stringify(older));
    const upgraded = loadOrCreateKeys(paths);
    assert.equal(upgraded.jwtSecret, first.jwtSecret, 'the other keys are kept');
    assert.ok(upgraded.workerSecret && upgraded.workerSecret !== first.workerSecret);
    assert.equal(JSON.parse(readFileSync(paths.secretsFile, 'utf8')).workerSecret, upgraded.workerSecret);
  });
});
