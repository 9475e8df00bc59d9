/**
 * The worker's side of the queue API (sql/README.md, "Worker queue API"): one SQL statement per
 * call, through {@link WorkerDb}. Lease tokens are bigints and travel as strings.
 */
import { type OccurrenceRow, occurrenceRecord, type WorkerDb } from '../delivery/db.ts';
import type { OccurrenceRecord, RenderedContent } from '../delivery/types.ts';
import type { RecordCall } from './outcome.ts';

/** A receipt the worker holds the lease of. */
export interface ClaimedReceipt {
  id: string;
  occurrenceId: string;
  eventId: string;
  channel: string;
  transport: string;
  audience: string | null;
  userId: string | null;
  address: string | null;
  /** This attempt's number (1 for the first): claim counted it. */
  attempt: number;
  leaseToken: string;
  idempotencyKey: string;
  /** Content stored by an earlier attempt (secrets redacted), or null. */
  content: RenderedContent | null;
}

export interface DrainResult {
  processed: number;
  remaining: number;
  lingerMs: number;
}

/** `public.dispatch_worker_drain`: process captured changes; how long to keep polling. */
export async function drainChanges(db: WorkerDb, maxChanges: number): Promise<DrainResult> {
  const [row] = await db.query<{ result: DrainResult }>(
    'select public.dispatch_worker_drain($1::integer) as result',
    [maxChanges],
  );
  const result = row?.result ?? { processed: 0, remaining: 0, lingerMs: 0 };
  return {
    processed: Number(result.processed) || 0,
    remaining: Number(result.remaining) || 0,
    lingerMs: Number(result.lingerMs) || 0,
  };
}

interface ReceiptRow {
  id: string;
  occurrence_id: string;
  event_id: string;
  channel: string;
  transport: string;
  audience: string | null;
  user_id: string | null;
  address: string | null;
  attempt_count: number;
  lease_token: string;
  idempotency_key: string;
  content: RenderedContent | null;
}

/** Due receipts, leased to `worker` for `leaseSeconds`. */
export async function claimReceipts(
  db: WorkerDb,
  worker: string,
  max: number,
  leaseSeconds: number,
): Promise<ClaimedReceipt[]> {
  const rows = await db.query<ReceiptRow>(
    `select id, occurrence_id, event_id, channel, transport, audience, user_id, address, attempt_count,
            lease_token::text as lease_token, idempotency_key, content
     from public.dispatch_worker_claim($1::text, $2::integer, $3::integer)`,
    [worker, max, leaseSeconds],
  );
  return rows.map((r) => ({
    id: r.id,
    occurrenceId: r.occurrence_id,
    eventId: r.event_id,
    channel: r.channel,
    transport: r.transport,
    audience: r.audience,
    userId: r.user_id,
    address: r.address,
    attempt: Number(r.attempt_count),
    leaseToken: r.lease_token,
    idempotencyKey: r.idempotency_key,
    content: r.content,
  }));
}

/** The occurrences of claimed receipts, by id (one query per batch). */
export async function loadOccurrences(db: WorkerDb, ids: string[]): Promise<Map<string, OccurrenceRecord>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map();
  const rows = await db.query<OccurrenceRow>(
    `select id, event_id, operation, new_record, old_record, actor,
            to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at
     from dispatch.occurrences where id = any($1::uuid[])`,
    [unique],
  );
  return new Map(rows.map((o) => [o.id, occurrenceRecord(o)]));
}

/** Stores the rendered content (each secret replaced by `[redacted]`) before the first send. */
export async function storeContent(
  db: WorkerDb,
  receipt: ClaimedReceipt,
  content: RenderedContent,
  secrets: string[],
): Promise<void> {
  await db.query('select public.dispatch_worker_set_content($1::uuid, $2::bigint, $3::jsonb, $4::text[])', [
    receipt.id,
    receipt.leaseToken,
    JSON.stringify(content),
    secrets.length > 0 ? secrets : null,
  ]);
}

/** Records a send's outcome with the lease token (raises 40001 when the lease was lost). */
export async function recordOutcome(db: WorkerDb, receipt: ClaimedReceipt, call: RecordCall): Promise<void> {
  switch (call.kind) {
    case 'complete':
      await db.query(
        'select 1 from public.dispatch_worker_complete($1::uuid, $2::bigint, $3::text, $4::jsonb, $5::integer, $6::integer)',
        [
          receipt.id,
          receipt.leaseToken,
          call.providerMessageId,
          call.providerResponse === null || call.providerResponse === undefined
            ? null
            : JSON.stringify(call.providerResponse),
          call.httpStatus,
          call.durationMs,
        ],
      );
      return;
    case 'retry':
      await db.query(
        'select 1 from public.dispatch_worker_retry($1::uuid, $2::bigint, $3::text, $4::timestamptz, $5::integer, $6::integer)',
        [
          receipt.id,
          receipt.leaseToken,
          call.error,
          call.retryAt.toISOString(),
          call.httpStatus,
          call.durationMs,
        ],
      );
      return;
    case 'fail':
      await db.query(
        'select 1 from public.dispatch_worker_fail($1::uuid, $2::bigint, $3::text, $4::integer, $5::integer)',
        [receipt.id, receipt.leaseToken, call.error, call.httpStatus, call.durationMs],
      );
      return;
  }
}

/** A delayed in_app receipt: its notification is written in SQL. */
export async function deliverInApp(db: WorkerDb, receipt: ClaimedReceipt): Promise<void> {
  await db.query('select public.dispatch_worker_deliver_in_app($1::uuid, $2::bigint)', [
    receipt.id,
    receipt.leaseToken,
  ]);
}

/** Ask for another run (debounced like every poke): this one ended with work left. */
export async function pokeAgain(db: WorkerDb): Promise<boolean> {
  const [row] = await db.query<{ poked: boolean }>("select dispatch.poke_worker('continue') as poked");
  return row?.poked === true;
}
