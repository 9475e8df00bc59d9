/** Every check, in the order doctor prints them. */
import type { NormalizedConfig } from '../../config/model.ts';
import { audienceColumnsCheck } from './audience-columns.ts';
import { capturedChangesCheck } from './changes.ts';
import type { Check, DoctorCheck, DoctorOptions, Query } from './check.ts';
import { coreInstalled, coreMissing, coreVersionCheck } from './core.ts';
import { countersCheck } from './counters.ts';
import { extensionsCheck } from './extensions.ts';
import { occurrencesCheck } from './occurrences.ts';
import { processorsCheck } from './processors.ts';
import { realtimeMessagesCheck } from './realtime-messages.ts';
import { realtimePoliciesCheck } from './realtime-policies.ts';
import { receiptsCheck } from './receipts.ts';
import { triggersCheck } from './triggers.ts';
import { vaultCheck } from './vault.ts';
import { walCountsCheck } from './wal-counts.ts';

const checksOverTheCore: DoctorCheck[] = [
  coreVersionCheck,
  triggersCheck,
  processorsCheck,
  audienceColumnsCheck,
  extensionsCheck,
  vaultCheck,
  realtimePoliciesCheck,
  realtimeMessagesCheck,
  receiptsCheck,
  occurrencesCheck,
  capturedChangesCheck,
  walCountsCheck,
  countersCheck,
];

export async function runChecks(
  query: Query,
  config: NormalizedConfig | null,
  expectedVersion: string,
  options: DoctorOptions = {},
): Promise<Check[]> {
  if (!(await coreInstalled(query))) return [coreMissing];
  const checks: Check[] = [];
  for (const check of checksOverTheCore)
    checks.push(...(await check(query, config, { ...options, expectedVersion })));
  return checks;
}
