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
  const configFile = path.join(root, 'supabase', 'config.toml');
  const config = readFileSync(configFile, 'utf8');
  let toml = config;
  const written = files.map(([d]) => d);
  for (const fn of FUNCTIONS_WITHOUT_JWT) {
    const result = withoutJwt(toml, fn.name, fn.why);
    if (result.toml !== toml)
      written.push(`supabase/config.toml ([functions.${fn.name}] verify_jwt = false)`);
    if (result.warning) err(`supadispatch init: ${result.warning}\n`);
    toml = result.toml;
  }
  if (toml !== config) writeFileSync(configFile, toml);
  out(
    `supadispatch init: wrote\n${written.map((d) => `  ${d}\n`).join('')}\n` +
      'edit dispatch.config.ts (events, audiences, counters), then:\n' +
      '  npx supadispatch gen\n' +
      '  supabase db push\n' +
      '  supabase functions deploy\n',
  );
  return 0;
}

/**
 * Functions called without a user's JWT, which check a secret of their own instead: `supabase
 * functions deploy` (and the local stack) must not ask them for a JWT.
 */
export const FUNCTIONS_WITHOUT_JWT = [
  {
    name: 'dispatch-worker',
    why: 'pg_net and pg_cron call the worker without a JWT; it checks its own secret',
  },
  {
    name: 'dispatch-auth-email',
    why: 'Supabase Auth calls the Send Email hook without a JWT; it checks the hook signature',
  },
] as const;

const ANY_SECTION = /^\s*\[/;

/**
 * config.toml with `verify_jwt = false` for the function `name`: the section is added when missing,
 * the key when the section lacks it. An explicit `verify_jwt = true` is kept, with a warning.
 * Everything else stays as written.
 */
export function withoutJwt(toml: string, name: string, why: string): { toml: string; warning?: string } {
  const section = new RegExp(`^\\s*\\[\\s*functions\\s*\\.\\s*(?:${name}|"${name}")\\s*\\]\\s*(?:#.*)?$`);
  const lines = toml.split('\n');
  const start = lines.findIndex((line) => section.test(line));
  if (start === -1) {
    const base = toml.length === 0 || toml.endsWith('\n') ? toml : `${toml}\n`;
    return { toml: `${base}\n# ${why} (supadispatch)\n[functions.${name}]\nverify_jwt = false\n` };
  }
  let end = start + 1;
  while (end < lines.length && !ANY_SECTION.test(lines[end])) end++;
  const key = lines.slice(start + 1, end).find((line) => /^\s*verify_jwt\s*=/.test(line));
  if (key === undefined) {
    lines.splice(start + 1, 0, 'verify_jwt = false');
    return { toml: lines.join('\n') };
  }
  if (/^\s*verify_jwt\s*=\s*false\b/.test(key)) return { toml };
  return {
    toml,
    warning: `supabase/config.toml sets verify_jwt for ${name}; ${why}, so its calls are refused unless it is false`,
  };
}
