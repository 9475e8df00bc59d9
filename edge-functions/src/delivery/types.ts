/**
 * The shapes the parts of the Edge Functions library agree on (issue 17): the worker claims receipts
 * and records outcomes (worker/), the content of a receipt is prepared once before its first send
 * (templates/, modules/), and transports send it (transports/, over delivery/'s guarded fetch).
 * Types only.
 */
import type { RegistryChannel, RegistryEvent } from '../registry.ts';

/** What a receipt's content holds once rendered (stored on the receipt, secrets redacted). */
export interface RenderedContent {
  /** email */
  subject?: string;
  html?: string;
  text?: string;
  from?: string;
  replyTo?: string;
  /** in-app style fields, also used by slack/discord/sms text */
  title?: string;
  message?: string;
  actionUrl?: string;
  actionLabel?: string;
  /** webhook: the `data` of `{ type, timestamp, data }`; slack/discord: their message body */
  payload?: unknown;
  /** a test send from the preview (providers tag it, e.g. a subject prefix or a header) */
  test?: boolean;
  [field: string]: unknown;
}

/** The occurrence a receipt belongs to (dispatch.occurrences), as the library reads it. */
export interface OccurrenceRecord {
  id: string;
  eventId: string;
  operation: string;
  newRecord: Record<string, unknown> | null;
  oldRecord: Record<string, unknown> | null;
  actor: string | null;
  createdAt: string;
}

/** Who a receipt goes to: a user, an address (email, URL, phone, `secret:<NAME>`), or both. */
export interface Recipient {
  userId: string | null;
  address: string | null;
}

/** The request to prepare one receipt's content (templates/ and modules/ answer it). */
export interface ContentRequest {
  event: RegistryEvent;
  channel: RegistryChannel;
  occurrence: OccurrenceRecord;
  recipient: Recipient;
  /** `send`: real data, real tokens (generateSendVariables); `preview`: sample data, never tokens. */
  mode: 'send' | 'preview';
}

/** Prepared content, and the values to replace by `[redacted]` when it is stored. */
export interface PreparedContent {
  content: RenderedContent;
  secrets: string[];
}

/** Prepares content; throws a {@link ContentError} when the send must stop (the receipt fails with it). */
export type PrepareContent = (request: ContentRequest) => Promise<PreparedContent>;

/** A reason not to send: the receipt is marked failed with `message`, never sent with fallback data. */
export class ContentError extends Error {
  override name = 'ContentError';
}

/** One receipt to deliver, as the worker hands it to a transport. */
export interface Delivery {
  receiptId: string;
  /** `dispatch-<receipt id>`: the provider's `Idempotency-Key`, the webhook's `webhook-id`. */
  idempotencyKey: string;
  eventId: string;
  channel: string;
  transport: string;
  recipient: Recipient;
  content: RenderedContent;
  /** 1 for the first attempt. */
  attempt: number;
  /** When the occurrence was captured (ISO 8601). */
  occurredAt: string;
}

/** What became of one send. `retry` and `failed` name the reason (stored on the receipt). */
export type SendOutcome =
  | {
      status: 'sent';
      providerMessageId?: string;
      httpStatus?: number;
      response?: unknown;
      durationMs: number;
    }
  | { status: 'retry'; error: string; httpStatus?: number; retryAfterMs?: number; durationMs: number }
  | { status: 'failed'; error: string; httpStatus?: number; durationMs: number };

/** fetch with the SSRF guard, no redirects to refused addresses, and a timeout on every request. */
export type GuardedFetch = (url: string, init?: RequestInit & { timeoutMs?: number }) => Promise<Response>;

/** What a transport may use besides the delivery. */
export interface TransportContext {
  /** A function secret by name (Deno.env in production; injected in tests). */
  secret(name: string): string | undefined;
  fetch: GuardedFetch;
  /** The registry's `transports[<name>]` settings (provider, from, signing secret name, ...). */
  settings: Record<string, unknown>;
  log(message: string, detail?: unknown): void;
}

/** A way to deliver (email, webhook, slack, discord, sms). `in_app` stays in SQL. */
export interface Transport {
  readonly name: string;
  /**
   * Deliveries with the same destination are sent at most a few at a time, so one slow or failing
   * endpoint never stalls the others (e.g. the webhook URL's origin, the email provider).
   */
  destination(delivery: Delivery, context: TransportContext): string;
  send(delivery: Delivery, context: TransportContext): Promise<SendOutcome>;
  /** Many deliveries in one request where the provider has batch sending; outcomes in order. */
  sendBatch?(deliveries: Delivery[], context: TransportContext): Promise<SendOutcome[]>;
  /**
   * The attempt schedule, in seconds: entry n is the wait before attempt n+1 (entry 0, the first
   * attempt, is immediate). Default {@link DEFAULT_RETRY_SCHEDULE}. The SQL setting `max_attempts`
   * (default 8) bounds how many attempts a receipt gets.
   */
  readonly retrySchedule?: readonly number[];
}

/** Like Svix: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (jitter added when scheduling). */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = [0, 5, 300, 1800, 7200, 18000, 36000, 36000];

/** Environment variables the functions read (set by `supadispatch local start`; `supabase secrets set` on hosted). */
export const FUNCTION_ENV = {
  /** Shared secret of pg_net/pg_cron → dispatch-worker (Vault `dispatch_worker_secret`). */
  workerSecret: 'DISPATCH_WORKER_SECRET',
  /** Postgres URL the worker connects with (hosted sets it for every function). */
  dbUrl: 'SUPABASE_DB_URL',
  /** Base URL of the Resend API (default https://api.resend.com; the local stack's mail catcher speaks it). */
  resendApiUrl: 'RESEND_API_URL',
  /** `host:port` list allowed despite the SSRF guard (the local stack sets its webhook sink and mail catcher). */
  allowedHosts: 'DISPATCH_ALLOWED_HOSTS',
} as const;
