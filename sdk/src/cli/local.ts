/** `supadispatch local start|stop|status|reset`: drives the `@supadispatch/local` package. */
import { type LocalStackModule, loadLocalStack } from './local-stack.ts';
import { formatVariables, type OutputFormat } from './output.ts';

const usage = `usage: supadispatch local <start|stop|status|reset> [-o pretty|env|json]

  start    start the local Supabase stack in the background (returns once ready)
  stop     stop it and every process it started
  status   print its URLs and keys (-o env: KEY="value" lines; -o json: an object)
  reset    stop it and delete its database (keys are kept); the next start re-applies every migration

The stack serves the Supabase project of the current directory (the nearest supabase/config.toml).`;

function parseOutput(args: string[]): OutputFormat {
  const index = args.findIndex((a) => a === '-o' || a === '--output');
  if (index === -1) return 'pretty';
  const value = args[index + 1];
  if (value === 'pretty' || value === 'env' || value === 'json') return value;
  throw new Error(`-o: unknown output format "${value ?? ''}" (use pretty, env or json)`);
}

const commands = new Set(['start', 'stop', 'status', 'reset']);

export async function localCommand(
  args: string[],
  load: () => Promise<LocalStackModule> = () => loadLocalStack(),
): Promise<number> {
  const [command, ...rest] = args;
  if (!command || !commands.has(command)) {
    process.stderr.write(`${command ? `unknown command "local ${command}"\n` : ''}${usage}\n`);
    return command ? 2 : 0;
  }
  try {
    const local = await load();
    const projectRoot = local.findProjectRoot();
    if (!projectRoot) {
      process.stderr.write(
        `error: no supabase/config.toml in ${process.cwd()} or above: run \`supabase init\` first, or cd into your Supabase project\n`,
      );
      return 1;
    }
    switch (command) {
      case 'start': {
        const format = parseOutput(rest);
        if (format === 'pretty') process.stderr.write(`Starting the local stack for ${projectRoot}...\n`);
        const { state, alreadyRunning } = await local.startStack(projectRoot);
        if (alreadyRunning) process.stderr.write('The local stack is already running.\n');
        else if (format === 'pretty') process.stderr.write('Started the local stack.\n\n');
        process.stdout.write(formatVariables(local.statusVariables(state), format));
        return 0;
      }
      case 'stop': {
        const stopped = await local.stopStack(projectRoot);
        process.stderr.write(stopped ? 'Stopped the local stack.\n' : 'The local stack is not running.\n');
        return 0;
      }
      case 'reset': {
        await local.resetStack(projectRoot);
        process.stderr.write(
          'Stopped the local stack and deleted its database. `local start` creates a fresh one.\n',
        );
        return 0;
      }
      default: {
        const format = parseOutput(rest);
        const state = local.runningState(projectRoot);
        if (!state) {
          process.stderr.write(
            'The local stack is not running. Start it with `npx supadispatch local start`.\n',
          );
          return 1;
        }
        process.stdout.write(formatVariables(local.statusVariables(state), format));
        return 0;
      }
    }
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return 1;
  }
}
