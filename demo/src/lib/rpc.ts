/** The admin RPCs the SDK's client has no method for yet, called the way the SDK calls the others. */
import { callRpc, type DispatchResult, unwrap } from 'supadispatch/client';
import { supabase } from '../supabase.ts';

/** One delivery attempt of a receipt (`dispatch_failed_receipts`). */
export interface Attempt {
  attempt: number;
  outcome: string;
  httpStatus: number | null;
  error: string | null;
  worker: string | null;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
}

/** A failed receipt with its attempts (`dispatch_failed_receipts`). */
export interface FailedReceipt {
  id: string;
  occurrenceId: string | null;
  eventId: string;
  channel: string;
  transport: string;
  audience: string;
  userId: string | null;
  address: string | null;
  attemptCount: number;
  lastError: string | null;
  content: Record<string, unknown> | null;
  createdAt: string;
  failedAt: string | null;
  attempts: Attempt[];
}

export function failedReceipts(maxRows = 100): Promise<FailedReceipt[]> {
  return unwrap(callRpc<FailedReceipt[]>(supabase, 'dispatch_failed_receipts', { max_rows: maxRows }));
}

/** What `dispatch_requeue_receipts` did: the ids sent again, and the others with their status. */
export interface Requeued {
  requeued: string[];
  skipped: { id: string; status: string | null }[];
}

export function requeueReceipts(ids: readonly string[]): Promise<DispatchResult<Requeued>> {
  return callRpc<Requeued>(supabase, 'dispatch_requeue_receipts', { receipt_ids: [...ids] });
}
