/**
 * `npm start`: the local stack in the foreground, the way `supabase start` brings it up, with the
 * project's migrations and seed applied; prints the URLs and keys; Ctrl-C stops everything.
 */

import { assertPortsFree } from '../local/src/control.ts';
import { repoRoot, runningState, runStack, statusVariables } from '../local/src/index.ts';
import { runMigrationsAndSeed } from '../local/src/migrations.ts';
import { resolvePorts } from '../local/src/ports.ts';
import { formatVariables } from '../sdk/src/cli/output.ts';

const background = runningState(repoRoot);
if (background) {
  process.stdout.write(
    'The local stack is already running in the background (`supadispatch local start`):\n\n',
  );
  process.stdout.write(formatVariables(statusVariables(background), 'pretty'));
  process.stdout.write('\nStop it with `npx supadispatch local stop` to run it in the foreground instead.\n');
  process.exit(0);
}

try {
  await assertPortsFree(resolvePorts(), false);
  const running = await runStack({ projectRoot: repoRoot, afterDatabase: runMigrationsAndSeed });
  const state = runningState(repoRoot);
  process.stdout.write('\nThe local Supabase stack is running.\n\n');
  if (state) process.stdout.write(formatVariables(statusVariables(state), 'pretty'));
  process.stdout.write('\nPress Ctrl-C to stop everything.\n');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping...\n`);
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => stop('SIGHUP'));
} catch (error) {
  process.stderr.write(`error: ${(error as Error).message}\n`);
  process.exit(1);
}
