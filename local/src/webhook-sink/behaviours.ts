/**
 * Behaviours: how the sink answers a path, queued per path (`*` for paths with no queue of their
 * own), parsed from the control API's POST body, and the response each one gives.
 */
import { randomUUID } from 'node:crypto';
import { HttpError } from '../http.ts';
import type { Behaviour, BehaviourMode, SinkResponse } from './types.ts';

const MODES: readonly BehaviourMode[] = ['ok', 'fail', 'rate_limit', 'gone', 'hang'];

export class BehaviourQueues {
  private readonly queues = new Map<string, Behaviour[]>();

  /** Appends to the path's queue; a persistent `ok` is the default, so it just clears the queue. */
  add(behaviour: Behaviour): void {
    if (behaviour.mode === 'ok' && behaviour.remaining === null) {
      this.queues.delete(behaviour.path);
      return;
    }
    const queue = this.queues.get(behaviour.path) ?? [];
    queue.push(behaviour);
    this.queues.set(behaviour.path, queue);
  }

  /** Takes the behaviour that answers a request to `path`, consuming one of its counted uses. */
  take(path: string): Behaviour | null {
    for (const key of [path, '*']) {
      const queue = this.queues.get(key);
      if (!queue || queue.length === 0) continue;
      const head = queue[0];
      if (head.remaining !== null) {
        head.remaining -= 1;
        if (head.remaining <= 0) queue.shift();
        if (queue.length === 0) this.queues.delete(key);
      }
      return { ...head };
    }
    return null;
  }

  list(): Behaviour[] {
    return [...this.queues.values()].flat();
  }

  /** Forgets the queue of one path, or every queue (path null). */
  clear(path: string | null = null): void {
    if (path === null) this.queues.clear();
    else this.queues.delete(path);
  }
}

/** A behaviour from the body of `POST /api/behaviours`, with its defaults; 400 when it is not one. */
export function parseBehaviour(input: unknown, maxDelayMs: number): Behaviour {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new HttpError(400, {
      error: 'body must be a JSON object {path, mode, count?, status?, retryAfter?, delayMs?}',
    });
  }
  const body = input as Record<string, unknown>;
  const path = body.path;
  if (typeof path !== 'string' || !(path === '*' || path.startsWith('/'))) {
    throw new HttpError(400, { error: 'path must be a string starting with "/" (or "*" for any path)' });
  }
  if (path === '/api' || path.startsWith('/api/')) {
    throw new HttpError(400, { error: 'paths under /api/ are the control API, not a sink' });
  }
  const mode = body.mode;
  if (typeof mode !== 'string' || !MODES.includes(mode as BehaviourMode)) {
    throw new HttpError(400, { error: `mode must be one of ${MODES.join(', ')}` });
  }
  const integer = (name: string, min: number, max: number): number | undefined => {
    const value = body[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new HttpError(400, { error: `${name} must be an integer between ${min} and ${max}` });
    }
    return value;
  };
  const count = integer('count', 1, 1_000_000);
  const status = integer('status', 100, 599);
  const retryAfter = integer('retryAfter', 0, 86_400);
  const delayRequested = integer('delayMs', 0, Number.MAX_SAFE_INTEGER);
  const delayMs = Math.min(delayRequested ?? (mode === 'hang' ? maxDelayMs : 0), maxDelayMs);
  const m = mode as BehaviourMode;
  const defaults: Record<BehaviourMode, { status: number; remaining: number | null }> = {
    ok: { status: 200, remaining: count ?? null },
    fail: { status: 500, remaining: count ?? 1 },
    rate_limit: { status: 429, remaining: count ?? 1 },
    gone: { status: 410, remaining: null },
    hang: { status: 200, remaining: count ?? 1 },
  };
  if (m === 'fail' && status !== undefined && status < 400) {
    throw new HttpError(400, { error: 'status for fail must be 400-599' });
  }
  return {
    id: randomUUID(),
    path,
    mode: m,
    remaining: defaults[m].remaining,
    status: m === 'rate_limit' || m === 'gone' ? defaults[m].status : (status ?? defaults[m].status),
    retryAfter: m === 'rate_limit' ? (retryAfter ?? 1) : null,
    delayMs,
    createdAt: new Date().toISOString(),
  };
}

/** What the sink answers under a behaviour (none: 200 `{"ok":true}`). */
export function responseFor(behaviour: Behaviour | null): SinkResponse {
  const json = (status: number, body: unknown, headers: Record<string, string> = {}): SinkResponse => ({
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body),
  });
  switch (behaviour?.mode ?? 'ok') {
    case 'fail':
      return json(behaviour!.status, { error: 'simulated failure', status: behaviour!.status });
    case 'rate_limit':
      return json(
        429,
        { error: 'rate limited', retryAfter: behaviour!.retryAfter },
        { 'retry-after': String(behaviour!.retryAfter) },
      );
    case 'gone':
      return json(410, { error: 'gone' });
    case 'hang':
      return json(behaviour!.status, { ok: behaviour!.status < 400, held: behaviour!.delayMs });
    default:
      return json(behaviour?.status ?? 200, { ok: true });
  }
}
