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

/** A claimed receipt's content, rendered, with the values to redact before storing it. */
export interface ContentToStore {
  receipt: ClaimedReceipt;
  content: RenderedContent;
  secrets: string[];
}

/**
 * Stores the rendered content of many receipts in one call (each secret replaced by `[redacted]`),
 * before their first send. Returns the ids stored: a missing one lost its lease.
 */
export async function storeContents(db: WorkerDb, items: ContentToStore[]): Promise<Set<string>> {
  if (items.length === 0) return new Set();
  const rows = await db.query<{ id: string }>(
    'select id from public.dispatch_worker_store_content($1::jsonb) as id',
    [
      JSON.stringify(
        items.map((i) => ({
          id: i.receipt.id,
          leaseToken: i.receipt.leaseToken,
          content: i.content,
          secrets: i.secrets.length > 0 ? i.secrets : null,
        })),
      ),
    ],
  );
  return new Set(rows.map((r) => r.id));
}

/** A send's outcome as `public.dispatch_worker_finish` takes it (sql/core/061_receipts_batch.sql). */
function finishElement(receipt: ClaimedReceipt, call: RecordCall): Record<string, unknown> {
  const base = {
    id: receipt.id,
    leaseToken: receipt.leaseToken,
    kind: call.kind,
    httpStatus: call.httpStatus,
    durationMs: call.durationMs,
  };
  switch (call.kind) {
    case 'complete':
      return {
        ...base,
        providerMessageId: call.providerMessageId,
        providerResponse: call.providerResponse ?? null,
      };
    case 'retry':
      return { ...base, error: call.error, retryAt: call.retryAt.toISOString() };
    case 'fail':
      return { ...base, error: call.error };
  }
}

/**
 * Records many sends' outcomes in one call, each with its lease token. Returns the ids accepted: a
 * missing one lost its lease (another run holds the receipt and records it).
 */
export async function finishReceipts(
  db: WorkerDb,
  outcomes: { receipt: ClaimedReceipt; call: RecordCall }[],
): Promise<Set<string>> {
  if (outcomes.length === 0) return new Set();
  const rows = await db.query<{ id: string }>('select id from public.dispatch_worker_finish($1::jsonb)', [
    JSON.stringify(outcomes.map((o) => finishElement(o.receipt, o.call))),
  ]);
  return new Set(rows.map((r) => r.id));
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

/** What `dispatch.worker_arm` decided for a run that is about to end (sql/core/056_worker_alarm.sql). */
export interface AlarmDecision {
  /** none: nothing due soon, or another live run sees to it; wait: poll again in dueInMs; handover: start a new run. */
  action: 'none' | 'wait' | 'handover';
  dueInMs?: number;
  /** Wait this long instead, then ask again (action wait: the receipt is due after this run's end). */
  waitMs?: number;
  /** Another run that holds the alarm (action none). */
  heldBy?: string;
  /** Where to start the new run (Vault `dispatch_worker_url`; handover only, null if unset). */
  url?: string | null;
}

/**
 * A run about to end: is a receipt due soon, and does this run (`owner`: its name, or the chain of
 * hand-overs it continues) see to it? One row lock decides among runs that end together.
 */
export async function armAlarm(
  db: WorkerDb,
  owner: string,
  waitMs: number,
  successorMs: number,
): Promise<AlarmDecision> {
  const [row] = await db.query<{ decision: AlarmDecision }>(
    'select dispatch.worker_arm($1::text, $2::integer, $3::integer) as decision',
    [owner, Math.max(0, Math.floor(waitMs)), Math.max(0, Math.floor(successorMs))],
  );
  const decision = row?.decision ?? { action: 'none' };
  return {
    action: decision.action === 'wait' || decision.action === 'handover' ? decision.action : 'none',
    dueInMs: decision.dueInMs === undefined ? undefined : Number(decision.dueInMs) || 0,
    waitMs: decision.waitMs === undefined ? undefined : Number(decision.waitMs) || 0,
    heldBy: decision.heldBy ?? undefined,
    url: decision.url ?? null,
  };
}

/** The hand-over started no run: release the alarm (another run, or the tick, takes it). */
export async function disarmAlarm(db: WorkerDb, owner: string): Promise<void> {
  await db.query('select dispatch.worker_disarm($1::text)', [owner]);
}
