import {
  findProjectRoot,
  resetStack,
  runningState,
  StackError,
  startStack,
  statusVariables,
  stopStack,
} from '@supadispatch/local';
import { formatVariables, type OutputFormat } from './output.ts';

const usage = `usage: supadispatch local <start|stop|status|reset> [-o pretty|env|json]

  start    start the local Supabase stack in the background (returns once ready)
  stop     stop it and every process it started
  status   print its URLs and keys (-o env: KEY="value" lines; -o json: an object)
  reset    stop it and delete its database (keys are kept); the next start re-applies every migration`;

function parseOutput(args: string[]): OutputFormat {
  const index = args.findIndex((a) => a === '-o' || a === '--output');
  if (index === -1) return 'pretty';
  const value = args[index + 1];
  if (value === 'pretty' || value === 'env' || value === 'json') return value;
  throw new StackError(`-o: unknown output format "${value ?? ''}" (use pretty, env or json)`);
}

export async function localCommand(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  const projectRoot = findProjectRoot();
  try {
    switch (command) {
      case 'start': {
        const format = parseOutput(rest);
        if (format === 'pretty') process.stderr.write('Starting the local stack...\n');
        const { state, alreadyRunning } = await startStack(projectRoot);
        if (alreadyRunning) process.stderr.write('The local stack is already running.\n');
        else if (format === 'pretty') process.stderr.write('Started the local stack.\n\n');
        process.stdout.write(formatVariables(statusVariables(state), format));
        return 0;
      }
      case 'stop': {
        const stopped = await stopStack(projectRoot);
        process.stderr.write(stopped ? 'Stopped the local stack.\n' : 'The local stack is not running.\n');
        return 0;
      }
      case 'reset': {
        await resetStack(projectRoot);
        process.stderr.write(
          'Stopped the local stack and deleted its database. `local start` creates a fresh one.\n',
        );
        return 0;
      }
      case 'status': {
        const format = parseOutput(rest);
        const state = runningState(projectRoot);
        if (!state) {
          process.stderr.write(
            'The local stack is not running. Start it with `npx supadispatch local start`.\n',
          );
          return 1;
        }
        process.stdout.write(formatVariables(statusVariables(state), format));
        return 0;
      }
      default:
        process.stderr.write(`${command ? `unknown command "local ${command}"\n` : ''}${usage}\n`);
        return command ? 2 : 0;
    }
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return 1;
  }
}
