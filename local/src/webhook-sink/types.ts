/** The webhook sink's shapes: what it records, the behaviours it plays, and the service itself. */
import type { LocalService } from '../context.ts';

export type BehaviourMode = 'ok' | 'fail' | 'rate_limit' | 'gone' | 'hang';

export interface Behaviour {
  id: string;
  /** Exact request path (no query), or `*` for any path without a behaviour of its own. */
  path: string;
  mode: BehaviourMode;
  /**
   * Requests left; null = persistent. fail, rate_limit and hang default to 1; gone is always
   * persistent; ok without count is not queued (it clears the path's queue, 200 being the default).
   */
  remaining: number | null;
  status: number;
  /** Seconds, for rate_limit (the `Retry-After` header). */
  retryAfter: number | null;
  /** Held before answering; for hang the whole point, for others an optional slow answer. */
  delayMs: number;
  createdAt: string;
}

export interface SinkResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RecordedRequest {
  id: string;
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  body: string;
  /** Body bytes received (body above is cut at the record limit). */
  bodyBytes: number;
  json: unknown;
  receivedAt: string;
  /** Standard Webhooks verification with the stack's secret; null when the request was not signed. */
  signatureValid: boolean | null;
  signatureError: string | null;
  /** Which behaviour answered (null = default ok). */
  behaviour: BehaviourMode | null;
  /** What the sink answered; null while the request is still being held, or if the client left first. */
  response: SinkResponse | null;
  respondedAt: string | null;
  /** The client closed the connection before the sink answered (e.g. a timeout during hang). */
  aborted: boolean;
}

export interface WebhookSinkOptions {
  /** Requests kept (oldest dropped first). Default 1000. */
  maxRequests?: number;
  /** Upper bound for hang / delayMs. Default 60 000. */
  maxDelayMs?: number;
  /** Upper bound for `wait` on GET /api/requests. Default 30 000. */
  maxWaitMs?: number;
  /** Body bytes kept per recorded request. Default 1 MiB. */
  maxBodyBytes?: number;
}

export interface WebhookSink extends LocalService {
  /** The bound port (after start; useful with port 0). */
  readonly port: number;
  /** http://127.0.0.1:<port> (after start). */
  readonly url: string;
  requests(): RecordedRequest[];
}
