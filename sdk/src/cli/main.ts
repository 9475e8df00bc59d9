import { localCommand } from './local.ts';

const usage = `supadispatch — notifications and realtime counters for Supabase

usage: supadispatch <command>

  local start|stop|status   the Docker-free local Supabase stack
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'local':
      return localCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage);
      return 0;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${usage}`);
      return 2;
  }
}
