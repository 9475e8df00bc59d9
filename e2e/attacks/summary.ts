/**
 * Prints the attack suite's figures: the sum of every area file in .supadispatch/attacks (each
 * test file writes its own; `summary.json` beside them is refreshed on every write).
 *   npx tsx e2e/attacks/summary.ts
 */
import { writeSummary } from './support.ts';

const summary = writeSummary();
for (const area of summary.areas)
  process.stdout.write(
    `${area.area.padEnd(18)} tried ${String(area.tried).padStart(5)}  succeeded ${area.succeeded}  (${area.finishedAt})\n`,
  );
process.stdout.write(
  `${'total'.padEnd(18)} tried ${String(summary.tried).padStart(5)}  succeeded ${summary.succeeded}\n`,
);
