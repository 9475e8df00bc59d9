import { checkCommand, genCommand } from './gen.ts';
import { localCommand } from './local.ts';

const usage = `supadispatch — notifications and realtime counters for Supabase

usage: supadispatch <command>

  init                      write a starter dispatch.config.ts and the Edge Function entrypoints
  gen [--check]             generate the migration, the functions' registry and the typed client SDK
  check                     same as gen --check: exit 1 naming stale generated files (for CI)
  doctor [--db-url <url>]   check an install (core, triggers, cron, Vault, worker answering, realtime,
                            receipts, counters)
  local start|stop|status|reset
                            the Docker-free local Supabase stack
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'gen':
      return genCommand(rest);
    case 'check':
      return checkCommand(rest);
    case 'init':
      return (await import('./init.ts')).initCommand(rest);
    case 'doctor':
      return (await import('./doctor/index.ts')).doctorCommand(rest);
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
