/**
 * `dispatch-preview`: admins see what an event sends, without sending it (the preview path).
 *
 *   GET  (or POST {})                          → { events: [{ id, table, channels, templates, module, sampleData }] }
 *   POST { eventId, channel?, recordId? | record?, old? }
 *                                              → { eventId, channel, source, recipient, content }
 *   POST { ..., testSendTo: "me@example.com" }   also emails the rendered preview to that address,
 *                                              marked as a test (subject "[Test] ..."); only the calling
 *                                              admin's own address (the token's email), else 403.
 *
 * Content comes from the module's `sampleData()` (or, for an inline event without a module, a stand-in
 * record naming each placeholder), or from a real record (`recordId`, read from the event's table by
 * `id` with the functions' database role; or `record` given whole). Never the send path: no
 * `generateSendVariables`, no tokens, no receipts, no writes. A variable without a value is a 422
 * naming it. Admins only (admin.ts); anyone else 403.
 */
import {
  type AdminCheck,
  adminViaPostgrest,
  type CallerEmail,
  cors,
  defaultDb,
  emailFromToken,
  RequestError,
  recordById,
  refuseNonAdmin,
  withCors,
} from './admin.ts';
import type { WorkerDb } from './delivery/db.ts';
import { guardedFetchFromEnv } from './delivery/fetch.ts';
import {
  ContentError,
  type Delivery,
  type OccurrenceRecord,
  type RenderedContent,
  type TransportContext,
} from './delivery/types.ts';
import { json, problem, readJsonBody } from './http.ts';
import { allEvents, resolveEvent } from './modules/events.ts';
import {
  eventModule,
  type ModuleContext,
  resolveChannel,
  type SampleData,
  sampleOf,
} from './modules/types.ts';
import type { Registry, RegistryChannel, RegistryEvent } from './registry.ts';
import { prepare } from './templates/prepare.ts';
import { placeholders } from './templates/render.ts';
import { transports } from './transports/index.ts';

/**
 * Sends one test email (a delivery with `content.test` set, to the one address); returns the provider's
 * message id or throws.
 */
export type TestSend = (delivery: Delivery) => Promise<{ id?: string }>;

export interface PreviewOptions {
  isAdmin?: AdminCheck;
  db?: WorkerDb;
  /** How a test send goes out (default: the email transport, see transportTestSend). */
  send?: TestSend;
  /** The admin's own address, the only one a test send may go to (default: the token's email). */
  callerEmail?: CallerEmail;
}

export function serve(registry: Registry, options: PreviewOptions = {}): (req: Request) => Promise<Response> {
  return async (req) => {
    if (req.method === 'OPTIONS') return new Response(null, { status: 204, headers: cors });
    const refused = await refuseNonAdmin(req, options.isAdmin ?? adminViaPostgrest);
    if (refused) return withCors(refused);
    if (req.method === 'GET') return withCors(json(200, { events: listEvents(registry) }));
    if (req.method !== 'POST')
      return withCors(problem(405, 'method_not_allowed', `method ${req.method}: use GET or POST`));
    const read = await readJsonBody(req);
    if ('response' in read) return withCors(read.response);
    const body = (read.body ?? {}) as PreviewRequest;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return withCors(problem(400, 'invalid_request', 'request body: a JSON object'));
    }
    if (body.eventId === undefined) return withCors(json(200, { events: listEvents(registry) }));
    try {
      const authorization = req.headers.get('authorization') ?? '';
      return withCors(await previewOne(registry, body, options, authorization));
    } catch (error) {
      if (error instanceof RequestError) return withCors(problem(error.status, error.code, error.message));
      if (error instanceof ContentError) return withCors(problem(422, 'content_error', error.message));
      throw error;
    }
  };
}

interface PreviewRequest {
  eventId?: unknown;
  channel?: unknown;
  recordId?: unknown;
  record?: unknown;
  old?: unknown;
  testSendTo?: unknown;
}

/** Events with their channels and templates (the raw `{{var}}` text, not rendered). */
export function listEvents(registry: Registry) {
  return allEvents(registry).map((event) => {
    const module = eventModule(event.module);
    const templates: Record<string, unknown> = { ...event.content };
    if (module?.templates?.html !== undefined) templates.html = templateLabel(module.templates.html);
    if (module?.templates?.text !== undefined) templates.text = templateLabel(module.templates.text);
    return {
      id: event.id,
      table: event.table,
      channels: event.channels,
      channelsFromModule: event.channels.length === 0 && typeof module?.channels === 'function',
      templates,
      metadata: event.metadata,
      module: module !== null,
      sampleData: typeof module?.sampleData === 'function' || module === null,
    };
  });
}

function templateLabel(source: string | URL): string {
  return typeof source === 'string' ? source : `file: ${source.pathname.split('/').pop()}`;
}

async function previewOne(
  registry: Registry,
  body: PreviewRequest,
  options: PreviewOptions,
  authorization: string,
): Promise<Response> {
  if (typeof body.eventId !== 'string') throw new RequestError(400, 'invalid_request', 'eventId: a string');
  if (body.testSendTo !== undefined)
    ownAddressOnly(body.testSendTo, (options.callerEmail ?? emailFromToken)(authorization));
  const event = resolveEvent(registry, body.eventId);
  if (!event) throw new RequestError(404, 'unknown_event', `event ${body.eventId} is not in the registry`);
  const stand = await standIn(event, body, options);
  const channel = await pickChannel(event, stand, body.channel);
  const occurrence: OccurrenceRecord = {
    id: '00000000-0000-0000-0000-000000000000',
    eventId: event.id,
    operation: 'PREVIEW',
    newRecord: stand.record,
    oldRecord: stand.old ?? null,
    actor: stand.actor ?? null,
    createdAt: new Date().toISOString(),
  };
  const recipient = { userId: null, address: typeof body.testSendTo === 'string' ? body.testSendTo : null };
  const { content } = await prepare(
    { event, channel, occurrence, recipient, mode: 'preview' },
    { sampleVariables: stand.variables },
  );
  const answer: Record<string, unknown> = {
    eventId: event.id,
    channel,
    source: stand.source,
    content,
  };
  if (body.testSendTo !== undefined) {
    answer.testSend = await testSend(
      event,
      channel,
      body.testSendTo,
      content,
      options.send ?? transportTestSend(registry),
    );
  }
  return json(200, answer);
}

/** The data a preview renders: the module's sample, a stand-in naming each placeholder, or a real record. */
async function standIn(
  event: RegistryEvent,
  body: PreviewRequest,
  options: PreviewOptions,
): Promise<SampleData & { source: string }> {
  const module = eventModule(event.module);
  const variables = module?.sampleData ? ((await sampleOf(module)).variables ?? {}) : {};
  const old = isObject(body.old) ? body.old : null;
  if (body.recordId !== undefined) {
    const record = await recordById(options.db ?? defaultDb(), event, body.recordId);
    return { record, old, variables, source: 'record' };
  }
  if (body.record !== undefined) {
    if (!isObject(body.record)) throw new RequestError(400, 'invalid_request', 'record: a JSON object');
    return { record: body.record, old, variables, source: 'record' };
  }
  if (module?.sampleData) {
    const sample = await sampleOf(module);
    return { ...sample, variables: sample.variables ?? {}, source: 'sampleData' };
  }
  if (module) {
    throw new RequestError(
      422,
      'no_sample_data',
      `event ${event.id}: its module exports no sampleData(); pass recordId`,
    );
  }
  return { ...placeholderSample(event), variables: {}, source: 'placeholders' };
}

/** For inline events: each `{{path}}` of the content gets the value `‹path›`, so every field renders. */
function placeholderSample(event: RegistryEvent): {
  record: Record<string, unknown>;
  old: Record<string, unknown>;
} {
  const record: Record<string, unknown> = {};
  const collect = (value: unknown) => {
    if (typeof value === 'string') {
      for (const path of placeholders(value)) setPath(record, path.split('.'), `‹${path}›`);
    } else if (Array.isArray(value)) value.forEach(collect);
    else if (isObject(value)) Object.values(value).forEach(collect);
  };
  collect(event.content);
  const old = isObject(record.old) ? record.old : {};
  delete record.old;
  return { record, old };
}

function setPath(target: Record<string, unknown>, steps: string[], value: string): void {
  let node = target;
  for (const step of steps.slice(0, -1)) {
    if (!isObject(node[step])) node[step] = {};
    node = node[step] as Record<string, unknown>;
  }
  const last = steps[steps.length - 1];
  if (node[last] === undefined) node[last] = value;
}

async function pickChannel(
  event: RegistryEvent,
  stand: SampleData,
  wanted: unknown,
): Promise<RegistryChannel> {
  let channels = event.channels;
  const module = eventModule(event.module);
  if (channels.length === 0 && module?.channels) {
    const ctx: ModuleContext = {
      eventId: event.id,
      mode: 'preview',
      record: stand.record,
      old: stand.old ?? null,
      actor: stand.actor ?? null,
      recipient: null,
      variables: stand.variables ?? {},
    };
    channels = (await module.channels(ctx)).map(resolveChannel);
  }
  if (wanted === undefined) {
    if (channels.length === 0)
      throw new RequestError(422, 'no_channels', `event ${event.id} has no channels`);
    return channels.find((c) => c.transport === 'email') ?? channels[0];
  }
  const found = channels.find((c) => c.name === wanted || c.transport === wanted);
  if (!found) {
    throw new RequestError(
      404,
      'unknown_channel',
      `event ${event.id} has no channel ${String(wanted)} (channels: ${channels.map((c) => c.name).join(', ') || 'none'})`,
    );
  }
  return found;
}

const EMAIL_ADDRESS = /^[^\s@,;<>"]+@[^\s@,;<>"]+\.[^\s@,;<>"]+$/;

/**
 * A test send goes to the calling admin's own address only: checked here, on the server, so the
 * preview function cannot be used to mail real-looking messages to anyone else.
 */
function ownAddressOnly(to: unknown, own: string | null): void {
  if (typeof to !== 'string' || !EMAIL_ADDRESS.test(to)) {
    throw new RequestError(400, 'invalid_request', 'testSendTo: one email address');
  }
  if (own === null) {
    throw new RequestError(
      403,
      'test_send_forbidden',
      'testSendTo: your access token carries no email address',
    );
  }
  if (to.trim().toLowerCase() !== own.toLowerCase()) {
    throw new RequestError(
      403,
      'test_send_forbidden',
      `testSendTo: a test goes only to your own address (${own})`,
    );
  }
}

async function testSend(
  event: RegistryEvent,
  channel: RegistryChannel,
  to: unknown,
  content: RenderedContent,
  send: TestSend,
) {
  if (typeof to !== 'string' || !EMAIL_ADDRESS.test(to)) {
    throw new RequestError(400, 'invalid_request', 'testSendTo: one email address');
  }
  const id = crypto.randomUUID();
  const delivery: Delivery = {
    receiptId: `test-${id}`,
    // one test send is one message, even when the request is retried
    idempotencyKey: `dispatch-test-${id}`,
    eventId: event.id,
    channel: channel.name,
    transport: 'email',
    recipient: { userId: null, address: to },
    content: { ...content, test: true },
    attempt: 1,
    occurredAt: new Date().toISOString(),
  };
  try {
    const result = await send(delivery);
    return { to, test: true, id: result.id ?? null };
  } catch (error) {
    throw new RequestError(502, 'test_send_failed', `test send to ${to}: ${(error as Error).message}`);
  }
}

/**
 * The default test send: the worker's own email transport (transports/), so a test looks exactly
 * like a real send (provider, sender, `[Test] ` subject and header from `content.test`), through the
 * same SSRF-guarded fetch and function secrets.
 */
export function transportTestSend(registry: Registry): TestSend {
  return async (delivery) => {
    const context: TransportContext = {
      secret: (name) => Deno.env.get(name),
      fetch: guardedFetchFromEnv(),
      settings: registry.transports?.email ?? {},
      log: (message, detail) => console.log(`supadispatch preview: ${message}`, detail ?? ''),
    };
    const outcome = await transports.email.send(delivery, context);
    if (outcome.status !== 'sent') throw new Error(outcome.error);
    return { id: outcome.providerMessageId };
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
