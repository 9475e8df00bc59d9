// Dependencies for the worker in the local-stack tests (worker-stack.test.ts): a small webhook-like
// transport over real HTTP, a small content preparation, and fetch with a timeout. The real ones
// (transports/, templates/) are tested by their own suites; the worker's are injected here so
// this suite tests the loop alone.
import type { GuardedFetch, PrepareContent, SendOutcome, Transport } from '../../src/delivery/types.ts';

/** fetch with the request timeout the worker asks for (no SSRF guard: the sink is on loopback). */
export const plainFetch: GuardedFetch = (url, init = {}) => {
  const { timeoutMs, ...rest } = init;
  return fetch(url, { ...rest, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs ?? 10_000) });
};

/** `{{a.b}}` from the occurrence's new record into every string of the event's `payload`. */
export const prepareContent: PrepareContent = async ({ event, occurrence }) => {
  const record = occurrence.newRecord ?? {};
  const render = (template: string) =>
    template.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_m, path: string) => {
      let value: unknown = record;
      for (const key of path.split('.')) value = (value as Record<string, unknown> | null)?.[key];
      return value === undefined || value === null ? '' : String(value);
    });
  const payload = Object.fromEntries(
    Object.entries((event.content.payload ?? {}) as Record<string, unknown>).map(([k, v]) => [
      k,
      typeof v === 'string' ? render(v) : v,
    ]),
  );
  return { content: { payload }, secrets: [] };
};

function retryAfterMs(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) ? seconds * 1000 : undefined;
}

/** POST `{type, data}` with `webhook-id` = the idempotency key; classified like the issue says. */
export const testWebhook: Transport = {
  name: 'webhook',
  // three attempts, quickly (the default schedule waits 5 s, 5 min, ...)
  retrySchedule: [0, 0.2, 0.2],
  destination: (delivery) => new URL(delivery.recipient.address ?? '').origin,
  async send(delivery, context): Promise<SendOutcome> {
    const started = performance.now();
    const durationMs = () => Math.round(performance.now() - started);
    let response: Response;
    try {
      response = await context.fetch(delivery.recipient.address ?? '', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'webhook-id': delivery.idempotencyKey },
        body: JSON.stringify({ type: delivery.eventId, data: delivery.content.payload ?? null }),
      });
    } catch (error) {
      return {
        status: 'retry',
        error: `request failed: ${(error as Error).message}`,
        durationMs: durationMs(),
      };
    }
    const text = await response.text();
    const httpStatus = response.status;
    if (httpStatus >= 200 && httpStatus < 300)
      return { status: 'sent', httpStatus, durationMs: durationMs() };
    const error = `HTTP ${httpStatus}: ${text.slice(0, 100)}`;
    if ([408, 409, 425, 429].includes(httpStatus) || httpStatus >= 500) {
      return {
        status: 'retry',
        error,
        httpStatus,
        retryAfterMs: retryAfterMs(response.headers.get('retry-after')),
        durationMs: durationMs(),
      };
    }
    return { status: 'failed', error, httpStatus, durationMs: durationMs() };
  },
};

/** The same webhook with the default schedule's first steps (again at once, then 5 s): the self-waking tests. */
export const scheduleWebhook: Transport = { ...testWebhook, name: 'webhook5', retrySchedule: [0, 5, 300] };
