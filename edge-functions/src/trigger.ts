/**
 * `dispatch-trigger`: an admin fires an event by hand for a real record (the send path: the worker
 * renders the receipts with `generateSendVariables`, so tokens are real).
 *
 *   POST { eventId, recordId? | record?, idempotencyKey?, dryRun? }
 *     → { occurrenceId, created, occurrence: { status, error }, receiptIds, receipts }
 *   dryRun: { dryRun: true, occurrence, receipts: [{ channel, transport, audience, userId, address,
 *     status, content }] } — who would receive what (content rendered on the preview path: no tokens),
 *     with nothing written.
 *
 * The same `idempotencyKey` fires once: a repeat answers the first call's receipts (`created: false`).
 * The occurrence is the core's (`dispatch.emit_once`, the admin as its actor); for module events the
 * receipts are created here and now from the module's recipients (the worker would do the same on its
 * next round; a second expansion creates nothing). Admins only (admin.ts); anyone else 403.
 */
import {
  type AdminCheck,
  adminViaPostgrest,
  cors,
  defaultDb,
  RequestError,
  recordById,
  refuseNonAdmin,
  withCors,
} from './admin.ts';
import type { OccurrenceRow, WorkerDb } from './delivery/db.ts';
import { ContentError, type OccurrenceRecord, type Recipient } from './delivery/types.ts';
import { json, problem, readJsonBody } from './http.ts';
import { isAuthEvent } from './modules/auth.ts';
import { resolveEvent } from './modules/events.ts';
import { expandOccurrence, planReceipts } from './modules/expand.ts';
import { eventModule, sampleOf } from './modules/types.ts';
import type { Registry, RegistryChannel, RegistryEvent } from './registry.ts';
import { prepare } from './templates/prepare.ts';

export interface TriggerOptions {
  isAdmin?: AdminCheck;
  db?: WorkerDb;
}

interface TriggerRequest {
  eventId?: unknown;
  recordId?: unknown;
  record?: unknown;
  idempotencyKey?: unknown;
  dryRun?: unknown;
}

export function serve(registry: Registry, options: TriggerOptions = {}): (req: Request) => Promise<Response> {
  return async (req) => {
    if (req.method === 'OPTIONS') return new Response(null, { status: 204, headers: cors });
    const refused = await refuseNonAdmin(req, options.isAdmin ?? adminViaPostgrest);
    if (refused) return withCors(refused);
    if (req.method !== 'POST')
      return withCors(problem(405, 'method_not_allowed', `method ${req.method}: use POST`));
    const read = await readJsonBody(req);
    if ('response' in read) return withCors(read.response);
    const body = read.body as TriggerRequest;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return withCors(problem(400, 'invalid_request', 'request body: a JSON object'));
    }
    try {
      const db = options.db ?? defaultDb();
      return withCors(await trigger(registry, db, body, callerId(req)));
    } catch (error) {
      if (error instanceof RequestError) return withCors(problem(error.status, error.code, error.message));
      const pgError = error as { code?: string; message?: string };
      if (pgError?.code === '22023') return withCors(problem(409, 'conflict', String(pgError.message)));
      throw error;
    }
  };
}

async function trigger(
  registry: Registry,
  db: WorkerDb,
  body: TriggerRequest,
  actor: string | null,
): Promise<Response> {
  if (typeof body.eventId !== 'string') throw new RequestError(400, 'invalid_request', 'eventId: a string');
  const event = resolveEvent(registry, body.eventId);
  if (!event) throw new RequestError(404, 'unknown_event', `event ${body.eventId} is not in the registry`);
  if (isAuthEvent(event.id)) {
    throw new RequestError(
      400,
      'invalid_request',
      `${event.id} is sent by Supabase Auth (its tokens come from Auth)`,
    );
  }
  const key = body.idempotencyKey;
  if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > 200)) {
    throw new RequestError(400, 'invalid_request', 'idempotencyKey: a string of 1 to 200 characters');
  }
  const record = await recordOf(db, event, body);
  if (body.dryRun === true) return json(200, await dryRun(registry, db, event, record, actor));

  const [fired] = await db.query<{ occurrence_id: string; created: boolean }>(
    'select occurrence_id, created from dispatch.emit_once($1, $2, $3::jsonb, $4::uuid)',
    [key ?? null, event.id, JSON.stringify(record), actor],
  );
  const occurrenceId = fired.occurrence_id;
  // a module event's receipts now, not on the worker's next round (idempotent if both do it)
  const queued = await db.query<OccurrenceRow>(
    `select o.id, o.event_id, o.operation, o.new_record, o.old_record, o.actor, o.created_at
     from dispatch.module_queue q join dispatch.occurrences o on o.id = q.occurrence_id where q.occurrence_id = $1`,
    [occurrenceId],
  );
  for (const row of queued) await expandOccurrence(db, registry, row);
  const [occurrence] = await db.query<{ status: string; error: string | null }>(
    'select status, error from dispatch.occurrences where id = $1',
    [occurrenceId],
  );
  const receipts = await db.query<Record<string, unknown>>(
    `select id, channel, transport, audience, user_id as "userId", address, status
     from dispatch.receipts where occurrence_id = $1 order by channel, recipient_key`,
    [occurrenceId],
  );
  return json(fired.created ? 201 : 200, {
    occurrenceId,
    created: fired.created,
    occurrence: occurrence ?? null,
    receiptIds: receipts.map((r) => r.id),
    receipts,
  });
}

async function recordOf(
  db: WorkerDb,
  event: RegistryEvent,
  body: TriggerRequest,
): Promise<Record<string, unknown>> {
  if (body.recordId !== undefined) return await recordById(db, event, body.recordId);
  if (body.record !== null && typeof body.record === 'object' && !Array.isArray(body.record)) {
    return body.record as Record<string, unknown>;
  }
  throw new RequestError(
    400,
    'invalid_request',
    "recordId (a row of the event's table) or record (a JSON object) is required",
  );
}

/** Who would receive what: the core's expansion rolled back, or the module's recipients; content on the preview path. */
async function dryRun(
  registry: Registry,
  db: WorkerDb,
  event: RegistryEvent,
  record: Record<string, unknown>,
  actor: string | null,
) {
  const occurrence: OccurrenceRecord = {
    id: '00000000-0000-0000-0000-000000000000',
    eventId: event.id,
    operation: 'MANUAL',
    newRecord: record,
    oldRecord: null,
    actor,
    createdAt: new Date().toISOString(),
  };
  const module = eventModule(event.module);
  const sample = module?.sampleData ? ((await sampleOf(module)).variables ?? {}) : {};
  const render = async (channel: RegistryChannel, recipient: Recipient) => {
    try {
      return {
        content: (
          await prepare(
            { event, channel, occurrence, recipient, mode: 'preview' },
            { sampleVariables: sample },
          )
        ).content,
      };
    } catch (error) {
      if (error instanceof ContentError) return { content: null, contentError: error.message };
      throw error;
    }
  };
  const receipts: Record<string, unknown>[] = [];
  if (event.channels.length === 0 && module?.recipients) {
    let planned: Awaited<ReturnType<typeof planReceipts>>;
    try {
      planned = await planReceipts(registry, occurrence);
    } catch (error) {
      return {
        dryRun: true,
        occurrence: { status: 'failed', error: `module: ${(error as Error).message}` },
        receipts,
      };
    }
    for (const { channel, recipients } of planned) {
      for (const recipient of recipients) {
        receipts.push({
          channel: channel.name,
          transport: channel.transport,
          audience: channel.audience,
          ...recipient,
          status: 'pending',
          ...(await render(channel, recipient)),
        });
      }
    }
    return { dryRun: true, occurrence: { status: 'expanded', error: null }, receipts };
  }
  const [{ result }] = await db.query<{
    result: { occurrence: unknown; receipts: Record<string, unknown>[] };
  }>('select dispatch.dry_run_emit($1, $2::jsonb, $3::uuid) as result', [
    event.id,
    JSON.stringify(record),
    actor,
  ]);
  for (const r of result.receipts) {
    const channel = event.channels.find((c) => c.name === r.channel);
    const recipient = {
      userId: (r.userId as string | null) ?? null,
      address: (r.address as string | null) ?? null,
    };
    const rendered =
      r.transport === 'in_app' || !channel ? { content: r.content } : await render(channel, recipient);
    receipts.push({ ...r, ...rendered });
  }
  return { dryRun: true, occurrence: result.occurrence, receipts };
}

/** The caller's user id: the `sub` of the bearer token PostgREST has just verified in the admin check. */
function callerId(req: Request): string | null {
  const token = (req.headers.get('authorization') ?? '').replace(/^bearer\s+/i, '');
  try {
    const payload = JSON.parse(new TextDecoder().decode(base64url(token.split('.')[1] ?? '')));
    return typeof payload.sub === 'string' && /^[0-9a-f-]{36}$/i.test(payload.sub) ? payload.sub : null;
  } catch {
    return null;
  }
}

function base64url(text: string): Uint8Array {
  const b64 = text
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(text.length / 4) * 4, '=');
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}
