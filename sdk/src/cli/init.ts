/** `supadispatch init`: starter config and function entrypoints in an existing Supabase project. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from './args.ts';
import type { CommandIo } from './gen.ts';

const templates = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../templates');
export const FUNCTIONS = ['worker', 'preview', 'trigger', 'auth-email'];

export async function initCommand(argv: string[], io?: CommandIo): Promise<number> {
  const out = io?.out ?? ((s: string) => process.stdout.write(s));
  const err = io?.err ?? ((s: string) => process.stderr.write(s));
  const { flags } = parseArgs(argv, ['cwd']);
  const root = path.resolve(io?.cwd ?? process.cwd(), typeof flags.cwd === 'string' ? flags.cwd : '.');
  if (!existsSync(path.join(root, 'supabase', 'config.toml'))) {
    err(
      `no supabase/config.toml in ${root}: run \`supabase init\` first (supadispatch init works in a Supabase project)\n`,
    );
    return 1;
  }
  const files: [string, string][] = [['dispatch.config.ts', 'dispatch.config.ts']];
  for (const f of FUNCTIONS)
    files.push([`supabase/functions/dispatch-${f}/index.ts`, `functions/dispatch-${f}.ts`]);
  const existing = files.filter(([dest]) => existsSync(path.join(root, dest))).map(([dest]) => dest);
  if (existing.length > 0) {
    err(
      `supadispatch init: refusing to overwrite existing files:\n${existing.map((f) => `  - ${f}\n`).join('')}nothing was written.\n`,
    );
    return 1;
  }
  for (const [dest, src] of files) {
    const file = path.join(root, dest);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, readFileSync(path.join(templates, src), 'utf8'));
  }
  out(
    `supadispatch init: wrote\n${files.map(([d]) => `  ${d}\n`).join('')}\n` +
      'edit dispatch.config.ts (events, audiences, counters), then:\n' +
      '  npx supadispatch gen\n' +
      '  supabase db push\n' +
      '  supabase functions deploy\n',
  );
  return 0;
}
