/**
 * The figures each fault prints and records, one JSON file per fault (fault files run at the same
 * time, so none rewrites another's): `e2e/chaos/figures/<fault>.json` for a full run
 * (`npm run test:chaos`; docs/reliability.md quotes them), `.supadispatch/chaos-figures/` for the
 * shortened run in `npm test` (not committed).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../../local/src/paths.ts';
import { fullScale } from './chaos-stack.ts';

export const figuresDir = fullScale
  ? join(repoRoot, 'e2e', 'chaos', 'figures')
  : join(repoRoot, '.supadispatch', 'chaos-figures');

export function recordFigures(fault: string, figures: Record<string, unknown>): void {
  const line = Object.entries(figures)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(' ');
  process.stdout.write(`[chaos] ${fault} (${fullScale ? 'full' : 'short'}): ${line}\n`);
  mkdirSync(figuresDir, { recursive: true });
  const record = {
    fault,
    scale: fullScale ? 'full' : 'short',
    at: new Date().toISOString(),
    // the machine is shared: the figures carry the load they were taken under
    loadAverage: loadavg().map((n) => Math.round(n * 100) / 100),
    ...figures,
  };
  const file = join(figuresDir, `${fault}.json`);
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  // committed files pass `biome check`: formatted as the repository formats JSON
  spawnSync(join(repoRoot, 'node_modules', '.bin', 'biome'), ['format', '--write', file], {
    stdio: 'ignore',
  });
}
