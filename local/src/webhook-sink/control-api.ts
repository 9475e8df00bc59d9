/**
 * The control API under `/api/` (tests and people read what was received and script the answers):
 * recorded requests, with an optional long poll, and the behaviour queues.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { corsHeaders, HttpError, readJson, sendJson } from '../http.ts';
import { type BehaviourQueues, parseBehaviour } from './behaviours.ts';
import type { RequestLog } from './request-log.ts';

export interface ControlApi {
  requests: RequestLog;
  behaviours: BehaviourQueues;
  /** Upper bound for hang / delayMs of a posted behaviour. */
  maxDelayMs: number;
  /** Upper bound for `wait` on GET /api/requests. */
  maxWaitMs: number;
  /** The sink is stopping: long polls end. */
  stopped(): boolean;
}

export async function handleControl(
  api: ControlApi,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  if (method === 'OPTIONS') {
    res.writeHead(204, corsHeaders);
    res.end();
    return;
  }
  if (path === '/api/requests') {
    if (method === 'GET') {
      const wait = parseWait(url.searchParams.get('wait'), api.maxWaitMs);
      const matching = () =>
        api.requests.matching(url.searchParams.get('path'), url.searchParams.get('method'));
      let list = matching();
      if (list.length === 0 && wait > 0) {
        await api.requests.waitFor(() => matching().length > 0 || api.stopped(), wait, req.socket);
        list = matching();
      }
      return sendJson(res, 200, list, corsHeaders);
    }
    if (method === 'DELETE') {
      const cleared = api.requests.clear();
      api.behaviours.clear();
      return sendJson(res, 200, { cleared }, corsHeaders);
    }
  }
  const one = /^\/api\/requests\/([^/]+)$/.exec(path);
  if (one && method === 'GET') {
    const found = api.requests.find(decodeURIComponent(one[1]));
    if (!found) throw new HttpError(404, { error: `no recorded request ${one[1]}` });
    return sendJson(res, 200, found, corsHeaders);
  }
  if (path === '/api/behaviours') {
    if (method === 'GET') return sendJson(res, 200, api.behaviours.list(), corsHeaders);
    if (method === 'POST') {
      const behaviour = parseBehaviour(await readJson(req), api.maxDelayMs);
      api.behaviours.add(behaviour);
      return sendJson(res, 201, behaviour, corsHeaders);
    }
    if (method === 'DELETE') {
      api.behaviours.clear(url.searchParams.get('path'));
      return sendJson(res, 200, { cleared: true }, corsHeaders);
    }
  }
  throw new HttpError(404, { error: `no control endpoint ${method} ${path}` });
}

function parseWait(raw: string | null, max: number): number {
  if (raw === null || raw === '') return 0;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new HttpError(400, { error: 'wait must be milliseconds >= 0' });
  return Math.min(Math.floor(value), max);
}
