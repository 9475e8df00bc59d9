/**
 * Every path outside `/api/`: the request is recorded on arrival (body, headers, Standard Webhooks
 * verification with the stack's secret) and answered as the path's next behaviour says, held first
 * when it has a delay.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { verifyStandardWebhook } from '../standard-webhooks.ts';
import { type BehaviourQueues, responseFor } from './behaviours.ts';
import type { RequestLog } from './request-log.ts';
import type { RecordedRequest } from './types.ts';

export interface Sink {
  requests: RequestLog;
  behaviours: BehaviourQueues;
  /** Body bytes kept per recorded request. */
  maxBodyBytes: number;
  /** The stack's webhook secret ('' before start). */
  secret(): string;
  /** Timers of held answers, cleared when the sink stops. */
  timers: Set<NodeJS.Timeout>;
}

export async function handleSink(
  sink: Sink,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const { body, bytes } = await readLimited(req, sink.maxBodyBytes);
  const text = body.toString('utf8');
  let json: unknown = null;
  try {
    json = text.length > 0 ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  const verification = verifyStandardWebhook(sink.secret(), req.headers, body);
  const behaviour = sink.behaviours.take(url.pathname);
  const entry: RecordedRequest = {
    id: randomUUID(),
    method: req.method ?? 'GET',
    path: url.pathname,
    query: queryObject(url),
    headers: flatHeaders(req),
    body: text,
    bodyBytes: bytes,
    json,
    receivedAt: new Date().toISOString(),
    signatureValid: verification.valid,
    signatureError: verification.valid === true ? null : verification.reason,
    behaviour: behaviour?.mode ?? null,
    response: null,
    respondedAt: null,
    aborted: false,
  };
  const response = responseFor(behaviour);
  const answer = () => {
    if (res.destroyed || res.writableEnded) return;
    entry.response = response;
    entry.respondedAt = new Date().toISOString();
    res.writeHead(response.status, {
      ...response.headers,
      'content-length': Buffer.byteLength(response.body),
    });
    res.end(response.body);
    sink.requests.changed();
  };
  const delay = behaviour?.delayMs ?? 0;
  if (delay <= 0) {
    // Record before answering, so a client that polls right after its response finds it.
    entry.response = response;
    entry.respondedAt = new Date().toISOString();
    sink.requests.add(entry);
    answer();
    return;
  }
  sink.requests.add(entry);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      sink.timers.delete(timer);
      answer();
      resolve();
    }, delay);
    sink.timers.add(timer);
    res.on('close', () => {
      if (!res.writableFinished) {
        entry.aborted = true;
        sink.requests.changed();
      }
      clearTimeout(timer);
      sink.timers.delete(timer);
      resolve();
    });
  });
}

/** The body up to `limit` bytes (the rest is read and counted, not kept). */
async function readLimited(req: IncomingMessage, limit: number): Promise<{ body: Buffer; bytes: number }> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let bytes = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    bytes += buffer.length;
    if (kept < limit) {
      const part = buffer.subarray(0, limit - kept);
      chunks.push(part);
      kept += part.length;
    }
  }
  return { body: Buffer.concat(chunks), bytes };
}

function queryObject(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of url.searchParams) {
    const existing = query[key];
    if (existing === undefined) query[key] = value;
    else query[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return query;
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}
