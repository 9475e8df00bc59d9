#!/usr/bin/env node
// The `supadispatch` command. An installed package runs its build (dist/, plain Node 20). A source
// checkout (src/ beside this folder, not shipped in the package) runs the TypeScript directly: it
// re-executes Node with tsx and the `supadispatch-source` export condition, so workspace packages
// resolve to their sources too. One rule, no stale builds: a checkout never runs dist/.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const packageDir = new URL('../', import.meta.url);
const source = fileURLToPath(new URL('src/cli/run.ts', packageDir));

if (existsSync(source)) {
  const result = spawnSync(
    process.execPath,
    [
      '--conditions=supadispatch-source',
      '--import',
      import.meta.resolve('tsx'),
      source,
      ...process.argv.slice(2),
    ],
    { stdio: 'inherit' },
  );
  process.exitCode = result.status ?? 1;
} else {
  const { main } = await import(new URL('dist/cli/main.js', packageDir).href);
  process.exitCode = await main(process.argv.slice(2));
}
