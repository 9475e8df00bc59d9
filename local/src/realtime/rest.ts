import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StackContext } from '../context.ts';
import { bearerToken, HttpError, readBody, sendJson } from '../http.ts';
import { checkToken, checkWriteAccess } from './auth.ts';
import type { Hub } from './hub.ts';

/**
 * Realtime's REST broadcast (shared/facts/realtime.md §6):
 * - `POST /api/broadcast` `{messages:[{topic,event,payload,private?,id?}]}` — what `send()` falls
 *   back to when the channel is not joined;
 * - `POST /api/broadcast/<topic>/events/<event>[?private=true]` — `httpSend()`; JSON or
 *   `application/octet-stream` body.
 * Both answer 202 with an empty body. The token is the Bearer one, else the apikey; a bad one is
 * 401. Private messages are sent only if the token may INSERT broadcast rows for the topic
 * (RLS on realtime.messages), and skipped silently otherwise.
 */

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);

export async function handleRest(
  ctx: StackContext,
  hub: Hub,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://realtime');
  const single = /^\/api\/broadcast\/([^/]+)\/events\/([^/]+)\/?$/.exec(path);
  if (path !== '/api/broadcast' && path !== '/api/broadcast/' && !single) {
    throw new HttpError(404, { message: 'Not Found' });
  }
  if (req.method !== 'POST') throw new HttpError(405, { message: 'Method Not Allowed' });

  const token =
    bearerToken(req) ?? (req.headers.apikey as string | undefined) ?? url.searchParams.get('apikey');
  const checked = token ? checkToken(token, ctx.keys.jwtSecret) : null;
  if (!checked?.ok) throw new HttpError(401, { message: 'Unauthorized' });
  const { claims } = checked;

  const writeCache = new Map<string, boolean>();
  const mayWrite = async (topic: string): Promise<boolean> => {
    let allowed = writeCache.get(topic);
    if (allowed === undefined) {
      allowed = await checkWriteAccess(ctx.adminPool, topic, claims, 'broadcast').catch(() => false);
      writeCache.set(topic, allowed);
    }
    return allowed;
  };

  const raw = await readBody(req);
  if (single) {
    const topic = decodeURIComponent(single[1]);
    const event = decodeURIComponent(single[2]);
    const isPrivate = url.searchParams.get('private') === 'true';
    const binary = (req.headers['content-type'] ?? '').startsWith('application/octet-stream');
    let payload: unknown = raw;
    if (!binary) {
      try {
        payload = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new HttpError(400, { error: 'invalid JSON body' });
      }
    }
    if (!isPrivate || (await mayWrite(topic))) {
      hub.broadcast(topic, isPrivate, { event, payload, binary }, { asText: !binary });
    }
    res.writeHead(202, { 'content-length': '0' });
    res.end();
    return;
  }

  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8') || 'null');
  } catch {
    throw new HttpError(400, { message: 'invalid JSON body' });
  }
  const messages = isDict(body) && Array.isArray(body.messages) ? body.messages : null;
  if (!messages) {
    sendJson(res, 422, { errors: { messages: ["can't be blank"] } });
    return;
  }
  const problems: Record<string, string[]> = {};
  messages.forEach((m, i) => {
    if (!isDict(m) || typeof m.topic !== 'string' || typeof m.event !== 'string' || !isDict(m.payload)) {
      problems[`messages[${i}]`] = ['topic, event and an object payload are required'];
    }
  });
  if (Object.keys(problems).length > 0) {
    sendJson(res, 422, { errors: problems });
    return;
  }
  for (const m of messages as Dict[]) {
    const topic = m.topic as string;
    const isPrivate = m.private === true;
    if (isPrivate && !(await mayWrite(topic))) continue;
    const id = typeof m.id === 'string' ? m.id : undefined;
    hub.broadcast(
      topic,
      isPrivate,
      { event: m.event as string, payload: m.payload, binary: false, meta: id ? { id } : undefined },
      { asText: true },
    );
  }
  res.writeHead(202, { 'content-length': '0' });
  res.end();
}
