/**
 * `supadispatch doctor`: one module per check (each `(query, config, context) => Check[]`), the
 * order they run in (run.ts), the formatter and the command.
 */
export { type AudienceColumn, audienceColumnsCheck, audienceFilterColumns } from './audience-columns.ts';
export type { Check, CheckContext, DoctorCheck, DoctorOptions, Query } from './check.ts';
export { doctorCommand } from './command.ts';
export { formatChecks } from './format.ts';
export { realtimeMessagesCheck } from './realtime-messages.ts';
export { REALTIME_POLICIES } from './realtime-policies.ts';
export { runChecks } from './run.ts';
export {
  DEFAULT_PROBE_TIMEOUT_MS,
  type ProbeResult,
  probeWorker,
  type WorkerProbe,
  workerCheck,
} from './worker.ts';
