/**
 * The packages the way a new user meets them (issue 16): each packed with `npm pack`, installed from
 * the tarballs into a fresh folder outside the repository (a Supabase project made by the real
 * `supabase init`, no symlinks into this repository), then:
 *   init → gen → check; the real `supabase db push` into a fresh database of the test stack;
 *   `tsc` over an app file importing the generated module and @supadispatch/react;
 *   `supadispatch local start` in that folder serving that folder's project (functions included).
 * Every command runs through `npx` in that folder, with an environment stripped of this repository's
 * settings, so nothing here can lean on the checkout.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createBootstrappedDatabase, dropDatabase } from '../../local/src/db/fresh-database.ts';
import { repoRoot } from '../../local/src/paths.ts';
import { midRunSlots, midRunStackPorts } from '../../local/test/support/mid-run-ports.ts';
import { asInstalled, npmInstall, ok, packPackages, run, symlinksUnder, userEnv } from './support.ts';

/** Ports of the fresh project's own stack, above the ephemeral range (see mid-run-ports.ts). */
const ports = midRunStackPorts(midRunSlots.freshProject);
const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;
const workerSecret = 'fresh-project-worker-secret';

const appMigration = `-- the app's own schema, written before supadispatch's migration
create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  display_name text
);
alter table public.profiles enable row level security;
create table public.tasks (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.profiles (id),
  title text not null,
  done boolean not null default false
);
alter table public.tasks enable row level security;
create policy "own tasks" on public.tasks for select to authenticated using (user_id = auth.uid());
-- new hosted projects grant nothing on new tables by default (docs/local-stack.md)
grant select on public.tasks to anon, authenticated;
`;

const dispatchConfig = `import { defineDispatch } from 'supadispatch';

export default defineDispatch({
  users: { table: 'public.profiles', id: 'id' },
  transports: {
    in_app: {},
    email: { provider: 'resend', from: 'Tasks <tasks@example.com>', apiKeySecret: 'RESEND_API_KEY' },
  },
  audiences: { owner: { column: 'user_id' } },
  events: {
    'task.created': {
      table: 'tasks',
      on: 'insert',
      channels: [
        { transport: 'in_app', audience: 'owner' },
        { transport: 'email', audience: 'owner' },
      ],
      content: {
        subject: 'New task: {{title}}',
        title: 'New task',
        message: '{{title}}',
        text: 'You have a new task: {{title}}',
      },
    },
  },
  counters: {
    open_tasks: { table: 'tasks', where: { done: false }, scope: { user: 'user_id' }, invalidates: [['tasks']] },
  },
});
`;

describe('the packages installed from their tarballs into a fresh Supabase project', () => {
  let project = '';
  let packDir = '';
  const npx = (args: string[], options?: Parameters<typeof ok>[3]) => ok(project, 'npx', args, options);

  before(() => {
    const base = mkdtempSync(join(tmpdir(), 'supadispatch-fresh-'));
    packDir = join(base, 'packs');
    project = join(base, 'app');
    mkdirSync(project);
    const tarballs = packPackages(packDir);
    writeFileSync(
      join(project, 'package.json'),
      `${JSON.stringify({ name: 'fresh-app', private: true, type: 'module' }, null, 2)}\n`,
    );
    npmInstall(project, [
      ...tarballs,
      ...['react', '@types/react', '@tanstack/react-query', 'typescript', '@supabase/supabase-js'].map(
        asInstalled,
      ),
    ]);
    ok(project, 'npx', ['supabase', 'init', '--yes']);
  });

  after(() => {
    if (!project) return;
    run(project, 'npx', ['supadispatch', 'local', 'stop'], { env: stackEnv() });
    rmSync(join(project, '..'), { recursive: true, force: true });
  });

  const stackEnv = () =>
    userEnv(Object.fromEntries(Object.entries(ports).map(([k, v]) => [`SUPADISPATCH_${k}_PORT`, String(v)])));

  it('without @supadispatch/local, gen works and `local start` names the package to install', () => {
    const alone = join(project, '..', 'sdk-only');
    mkdirSync(join(alone, 'supabase'), { recursive: true });
    writeFileSync(join(alone, 'supabase', 'config.toml'), 'project_id = "sdk-only"\n');
    writeFileSync(join(alone, 'package.json'), '{ "name": "sdk-only", "private": true, "type": "module" }\n');
    const sdkTarball = readdirSync(packDir).find((f) => /^supadispatch-\d/.test(f));
    assert.ok(sdkTarball, `the supadispatch tarball in ${packDir}`);
    npmInstall(alone, [join(packDir, sdkTarball)]);
    assert.ok(
      !existsSync(join(alone, 'node_modules', '@supadispatch', 'local')),
      'the optional peer is not installed',
    );
    ok(alone, 'npx', ['supadispatch', 'init']);
    ok(alone, 'npx', ['supadispatch', 'gen']);
    const start = run(alone, 'npx', ['supadispatch', 'local', 'start'], { env: stackEnv() });
    assert.equal(start.status, 1, start.output);
    assert.match(start.output, /the local stack is not installed/);
    assert.match(start.output, /npm install --save-dev @supadispatch\/local/);
  });

  it('installs real copies: nothing in node_modules links into this repository', () => {
    const intoRepo = symlinksUnder(join(project, 'node_modules')).filter(
      (s) => !relative(repoRoot, s.target).startsWith('..'),
    );
    assert.deepEqual(intoRepo, []);
    for (const name of ['supadispatch', '@supadispatch/local', '@supadispatch/react']) {
      const manifest = JSON.parse(readFileSync(join(project, 'node_modules', name, 'package.json'), 'utf8'));
      assert.ok(!existsSync(join(project, 'node_modules', name, 'src')), `${name} ships its build, not src/`);
      assert.ok(manifest.exports['.'].types, `${name}: exports has types`);
    }
  });

  it('supadispatch init, gen and check succeed; check names a stale library file', () => {
    assert.match(npx(['supadispatch', 'init']), /supabase\/functions\/dispatch-worker\/index\.ts/);
    mkdirSync(join(project, 'supabase', 'migrations'), { recursive: true });
    writeFileSync(join(project, 'supabase', 'migrations', '20260101000000_app.sql'), appMigration);
    writeFileSync(join(project, 'dispatch.config.ts'), dispatchConfig);

    const gen = npx(['supadispatch', 'gen']);
    assert.match(gen, /supabase\/functions\/_shared\/supadispatch\/worker\.ts/);
    assert.match(gen, /supabase\/migrations\/\d+_supadispatch\.sql/);
    assert.match(npx(['supadispatch', 'check']), /up to date/);

    // The entrypoints import what gen wrote.
    for (const fn of ['worker', 'preview', 'trigger', 'auth-email']) {
      const entry = readFileSync(
        join(project, 'supabase', 'functions', `dispatch-${fn}`, 'index.ts'),
        'utf8',
      );
      const imported = /from '\.\.\/_shared\/supadispatch\/([a-z-]+\.ts)'/.exec(entry)?.[1];
      assert.ok(imported, `dispatch-${fn} imports the library`);
      assert.ok(existsSync(join(project, 'supabase', 'functions', '_shared', 'supadispatch', imported)));
    }

    const library = join(project, 'supabase', 'functions', '_shared', 'supadispatch', 'http.ts');
    const original = readFileSync(library, 'utf8');
    writeFileSync(library, `${original}// edited by hand\n`);
    const stale = run(project, 'npx', ['supadispatch', 'check']);
    assert.equal(stale.status, 1, stale.output);
    assert.match(stale.output, /supabase\/functions\/_shared\/supadispatch\/http\.ts/);
    writeFileSync(library, original);
  });

  it('the real supabase db push applies the migrations to a fresh database of the test stack', async (t) => {
    if (!adminUrl) {
      t.skip('SUPABASE_ADMIN_DB_URL is not set (the local stack superuser creates the fresh database)');
      return;
    }
    const name = `sd_fresh_${process.pid}_${Date.now().toString(36)}`;
    const password = process.env.SUPABASE_DB_URL ? new URL(process.env.SUPABASE_DB_URL).password : undefined;
    const { dbUrl } = await createBootstrappedDatabase(adminUrl, name, () => {}, {
      postgresPassword: password,
    });
    try {
      const target = new URL(dbUrl);
      target.searchParams.set('sslmode', 'disable');
      npx(['supabase', 'db', 'push', `--remote=${target}`, '--yes'], { timeoutMs: 300_000 });
      const client = new pg.Client({ connectionString: dbUrl });
      await client.connect();
      try {
        const applied = (
          await client.query('select version from supabase_migrations.schema_migrations order by 1')
        ).rows;
        const files = readdirSync(join(project, 'supabase', 'migrations')).map((f) => f.split('_')[0]);
        assert.deepEqual(
          applied.map((r) => r.version),
          files.sort(),
        );
        const { rows } = await client.query(
          `select (select count(*) from pg_trigger where tgrelid = 'public.tasks'::regclass and not tgisinternal)::int as triggers,
                  to_regclass('dispatch.changes') is not null as core`,
        );
        assert.equal(rows[0].core, true, 'the core is installed');
        assert.ok(rows[0].triggers > 0, 'public.tasks has the generated capture triggers');
      } finally {
        await client.end();
      }
    } finally {
      await dropDatabase(adminUrl, name).catch(() => {});
    }
  });

  it('tsc type-checks an app importing the generated module and @supadispatch/react', () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      `${JSON.stringify(
        {
          compilerOptions: {
            target: 'ES2022',
            module: 'ESNext',
            moduleResolution: 'bundler',
            jsx: 'react-jsx',
            strict: true,
            noEmit: true,
            skipLibCheck: false,
          },
          include: ['src'],
        },
        null,
        2,
      )}\n`,
    );
    writeFileSync(
      join(project, 'src', 'app.tsx'),
      `import { DispatchProvider } from '@supadispatch/react';
import { counterNames, type CounterName, type EventId } from './dispatch.generated';

const counter: CounterName = 'open_tasks';
const event: EventId = 'task.created';
// @ts-expect-error a misspelt counter name does not compile
const wrong: CounterName = 'open_task';

export const names = [counter, event, wrong, ...counterNames];
export const provider = DispatchProvider;
`,
    );
    npx(['tsc', '-p', '.']);
  });

  /** The stack of this folder once `local start` answered (shared by the tests after it). */
  let stack: Record<string, string> | null = null;

  it('supadispatch local start serves this folder: its migrations, functions and REST', async () => {
    writeFileSync(join(project, 'supabase', 'functions', '.env'), `DISPATCH_WORKER_SECRET=${workerSecret}\n`);
    const started = ok(project, 'npx', ['supadispatch', 'local', 'start', '-o', 'json'], {
      env: stackEnv(),
      timeoutMs: 300_000,
    });
    const vars = JSON.parse(started.slice(started.indexOf('{'))) as Record<string, string>;
    assert.equal(vars.API_URL, `http://127.0.0.1:${ports.API}`);

    const client = new pg.Client({ connectionString: vars.DB_URL });
    await client.connect();
    try {
      const applied = (await client.query('select version from supabase_migrations.schema_migrations')).rows;
      assert.equal(applied.length, readdirSync(join(project, 'supabase', 'migrations')).length);
    } finally {
      await client.end();
    }

    const rest = await fetch(`${vars.API_URL}/rest/v1/tasks?select=id`, {
      headers: { apikey: vars.ANON_KEY },
    });
    assert.equal(rest.status, 200, await rest.clone().text());
    assert.deepEqual(await rest.json(), []);

    const probe = (secret: string) =>
      fetch(`${vars.FUNCTIONS_URL}/dispatch-worker`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${vars.ANON_KEY}`,
          'x-dispatch-secret': secret,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ probe: true }),
      });
    const answered = await probe(workerSecret);
    assert.equal(answered.status, 200, await answered.clone().text());
    assert.deepEqual(await answered.json(), { probe: true, events: 1 });
    const refused = await probe('wrong');
    assert.equal(refused.status, 401);
    await refused.body?.cancel();
    stack = vars;
  });

  it('the first write after start is delivered, with no step by hand: email in the catcher, in-app row', async () => {
    assert.ok(stack, 'the local stack of this folder did not start (see the test before)');
    const vars = stack;
    // A user signs up the way the app's users do (Auth admin API); the app writes its rows.
    const email = `ada-${Date.now().toString(36)}@example.com`;
    const created = await fetch(`${vars.API_URL}/auth/v1/admin/users`, {
      method: 'POST',
      headers: {
        apikey: vars.SERVICE_ROLE_KEY,
        authorization: `Bearer ${vars.SERVICE_ROLE_KEY}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ email, password: 'a-long-password-1', email_confirm: true }),
    });
    assert.equal(created.status, 200, await created.clone().text());
    const user = (await created.json()) as { id: string };
    const client = new pg.Client({ connectionString: vars.DB_URL });
    await client.connect();
    try {
      await client.query('insert into public.profiles (id, display_name) values ($1, $2)', [user.id, 'Ada']);
      const task = await client.query<{ id: string }>(
        `insert into public.tasks (user_id, title) values ($1, 'Write the docs') returning id`,
        [user.id],
      );

      // capture → pg_net poke → dispatch-worker (the packed library, under Deno) → mail catcher
      const deadline = Date.now() + 60_000;
      let messages: { subject: string; to: string[]; headers?: Record<string, string> }[] = [];
      while (Date.now() < deadline && messages.length === 0) {
        const answer = await fetch(`${vars.MAIL_URL}/api/messages?to=${encodeURIComponent(email)}&wait=5000`);
        messages = (await answer.json()) as typeof messages;
      }
      assert.equal(messages.length, 1, `one email to ${email} within 60 s`);
      assert.equal(messages[0].subject, 'New task: Write the docs');

      // The worker records the outcome after the provider answered: wait (bounded) for it.
      const readReceipts = () =>
        client.query(
          `select r.transport, r.status, r.attempt_count from dispatch.receipts r
             join dispatch.occurrences o on o.id = r.occurrence_id
            where o.new_record->>'id' = $1 order by r.transport`,
          [task.rows[0].id],
        );
      let receipts = await readReceipts();
      for (let i = 0; i < 100 && receipts.rows.some((r) => r.status === 'sending'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        receipts = await readReceipts();
      }
      const byTransport = Object.fromEntries(receipts.rows.map((r) => [r.transport, r]));
      assert.equal(byTransport.email?.status, 'sent', JSON.stringify(receipts.rows));
      assert.equal(byTransport.email?.attempt_count, 1);
      assert.equal(byTransport.in_app?.status, 'sent', JSON.stringify(receipts.rows));
      const notes = await client.query(
        'select title, message from dispatch.notifications where user_id = $1',
        [user.id],
      );
      assert.deepEqual(notes.rows, [{ title: 'New task', message: 'Write the docs' }]);
      const counter = await client.query(`select dispatch.counter_value('open_tasks', $1) as value`, [
        user.id,
      ]);
      assert.equal(Number(counter.rows[0].value), 1, 'the open_tasks counter moved');
    } finally {
      await client.end();
    }
  });

  it('supadispatch local stop stops the stack of this folder', () => {
    assert.match(ok(project, 'npx', ['supadispatch', 'local', 'stop'], { env: stackEnv() }), /Stopped/);
  });
});
