/**
 * `npm start`: the demo marketplace (issue 19). The local stack in the foreground, the way
 * `supabase start` brings it up: the project's migrations pushed with `supabase db push`, the
 * functions wired (Vault secrets and env, as `supadispatch local start` does), the seed applied;
 * then the demo app's Vite dev server (demo/), installed when needed. Prints where to click, the
 * users to sign in as, the mail catcher's and the webhook sink's pages. Ctrl-C stops everything.
 *
 *   npm start                 stack + demo on http://127.0.0.1:5173 (DEMO_PORT moves it)
 *   npm start -- --no-demo    the stack only
 */
import { assertPortsFree } from '../local/src/control.ts';
import { repoRoot, runningState, runStack, statusVariables } from '../local/src/index.ts';
import { runMigrationsAndSeed } from '../local/src/migrations.ts';
import { resolvePorts } from '../local/src/ports.ts';
import { formatVariables } from '../sdk/src/cli/output.ts';
import { demoStackEnv } from './demo-env.ts';
import { type DemoServer, demoUsers, ensureDemoInstalled, startDemoServer } from './demo-server.ts';

const withDemo = !process.argv.includes('--no-demo');
const background = runningState(repoRoot);
if (background) {
  process.stdout.write(
    'The local stack is already running in the background (`supadispatch local start`):\n\n',
  );
  process.stdout.write(formatVariables(statusVariables(background), 'pretty'));
  process.stdout.write('\nStop it with `npx supadispatch local stop` to run it in the foreground instead.\n');
  process.exit(0);
}

function guide(vars: Record<string, string>, demoUrl: string | null): string {
  const lines = ['', '=== supadispatch demo marketplace ===', ''];
  if (demoUrl) {
    lines.push(`Open ${demoUrl}/signin and sign in as (password for all: demopass):`, '');
    for (const u of demoUsers) lines.push(`  ${u.email.padEnd(26)} ${u.role}`);
    lines.push(
      '',
      'Try it: sign in as buyer1 in one window and seller1 in another (a private window), order a mug',
      'in /shop: the seller’s bell and the admin’s pending_orders move at once. Ship it in /seller: the',
      'buyer gets the in-app notification now, the email 5 s later. Admin pages: /admin/counters,',
      '/admin/receipts, /admin/failed, /admin/events (preview, test-send), /admin/trigger.',
      '',
    );
  }
  lines.push(
    `Mail catcher (every email sent):  ${vars.MAIL_URL}`,
    `Webhook sink (signed webhooks):   ${vars.WEBHOOK_SINK_URL}/api/requests?path=/orders`,
    '',
  );
  return lines.join('\n');
}

let demo: DemoServer | null = null;
let stopping = false;
try {
  Object.assign(process.env, demoStackEnv(process.env));
  await assertPortsFree(resolvePorts(), false);
  const running = await runStack({ projectRoot: repoRoot, afterDatabase: runMigrationsAndSeed });
  const state = runningState(repoRoot);
  process.stdout.write('\nThe local Supabase stack is running.\n\n');
  const vars = state ? statusVariables(state) : null;
  if (vars) process.stdout.write(formatVariables(vars, 'pretty'));
  let demoUrl: string | null = null;
  if (withDemo && vars) {
    ensureDemoInstalled((m) => process.stdout.write(`${m}\n`));
    const server = await startDemoServer({
      supabaseUrl: vars.API_URL,
      anonKey: vars.ANON_KEY,
      port: Number(process.env.DEMO_PORT || 5173),
      output: 'inherit',
    });
    demo = server;
    demoUrl = server.url;
    server.child.on('exit', (code) => {
      if (!stopping)
        process.stdout.write(`\nthe demo's dev server exited (${code}); the stack keeps running\n`);
    });
  }
  if (vars) process.stdout.write(guide(vars, demoUrl));
  process.stdout.write('Press Ctrl-C to stop everything.\n');
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping...\n`);
    // Vite runs in its own process group (so it can be stopped as a whole): stop it, then the stack.
    Promise.resolve(demo?.stop())
      .then(() => running.stop())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => stop('SIGHUP'));
} catch (error) {
  await demo?.stop();
  process.stderr.write(`error: ${(error as Error).message}\n`);
  process.exit(1);
}
