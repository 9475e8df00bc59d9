/** What every doctor check is given and returns. */
import type { NormalizedConfig } from '../../config/model.ts';

export interface Check {
  name: string;
  ok: boolean;
  /** warn: reported, does not fail the run. */
  level?: 'fail' | 'warn';
  detail?: string;
  fix?: string;
}

/** Runs SQL as the role doctor connected with; returns the rows. */
export type Query = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

/** What a probe of the worker got back: an HTTP status (and the start of the body), or no answer. */
export interface ProbeResult {
  status?: number;
  body?: string;
  /** Set when nothing answered: refused, DNS, TLS, timeout. */
  error?: string;
}

/** How doctor calls the worker (worker.ts has the HTTP one; tests pass their own). */
export type WorkerProbe = (url: string, secret: string, timeoutMs: number) => Promise<ProbeResult>;

export interface DoctorOptions {
  /** How the worker is called (default: an HTTP POST, see probeWorker). */
  probe?: WorkerProbe;
  /** Bound on the probe (default 5000 ms). */
  probeTimeoutMs?: number;
}

export interface CheckContext extends DoctorOptions {
  /** The core version this supadispatch embeds. */
  expectedVersion: string;
}

/**
 * One check of an install, over an installed core. `config` is null when dispatch.config.ts could
 * not be loaded: the checks that compare with it return nothing then.
 */
export type DoctorCheck = (
  query: Query,
  config: NormalizedConfig | null,
  context: CheckContext,
) => Check[] | Promise<Check[]>;

export const GEN_AND_PUSH = 'run `npx supadispatch gen` then `supabase db push`';

/** The first row of a query (an empty object when there is none). */
export async function firstRow(
  query: Query,
  sql: string,
  params?: unknown[],
): Promise<Record<string, unknown>> {
  return (await query(sql, params))[0] ?? {};
}

/** Whether the core has the capture table (dispatch.changes); cores before capture + drain do not. */
export async function hasChangesTable(query: Query): Promise<boolean> {
  const { hasChanges } = await firstRow(
    query,
    `select to_regclass('dispatch.changes') is not null as "hasChanges"`,
  );
  return hasChanges === true;
}

export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
