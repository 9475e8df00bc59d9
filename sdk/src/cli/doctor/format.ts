/** The checklist as doctor prints it: a mark per check, and the fix under each failure. */
import type { Check } from './check.ts';

export function formatChecks(checks: Check[]): { text: string; failed: number } {
  let failed = 0;
  const lines = checks.map((c) => {
    const mark = c.ok ? '✓' : c.level === 'warn' ? '!' : '✗';
    if (!c.ok && c.level !== 'warn') failed++;
    let line = `${mark} ${c.name}${c.detail ? ` — ${c.detail}` : ''}`;
    if (!c.ok && c.fix) line += `\n    fix: ${c.fix}`;
    return line;
  });
  return { text: `${lines.join('\n')}\n`, failed };
}
