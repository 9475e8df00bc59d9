import { randomUUID } from 'node:crypto';
import { signStandardWebhook } from '../standard-webhooks.ts';
import { AuthError, badRequest, internal, unprocessable } from './errors.ts';

/**
 * An HTTP auth hook call as GoTrue makes it (internal/hooks/hookshttp): POST JSON, signed per
 * Standard Webhooks with every `v1,whsec_…` secret (several separated by `|`), 5 s for all
 * attempts together, up to 3 attempts on network errors with a 2 s back-off.
 */
export interface HookOptions {
  timeoutMs?: number;
  backoffMs?: number;
  retries?: number;
}

const payloadLimit = 200 * 1024;

/** `v1,<base64 HMAC-SHA256(key, id.timestamp.body)>` for each secret (GoTrue accepts several, `|`-separated). */
export function signWebhook(secrets: string, id: string, timestamp: number, body: string): string {
  const parts = secrets.split('|').filter((part) => part !== '');
  if (parts.length === 0) throw internal('Error generating signatures: no hook secret configured');
  return parts
    .map((secret) => {
      if (!secret.startsWith('v1,')) throw internal('Error generating signatures: invalid signature format');
      try {
        return signStandardWebhook(secret, id, timestamp, body);
      } catch (error) {
        throw internal(`Error generating signatures: ${(error as Error).message}`);
      }
    })
    .join(', ');
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

function timeoutError(timeoutMs: number): AuthError {
  return unprocessable(
    'hook_timeout',
    `Failed to reach hook within maximum time of ${(timeoutMs / 1000).toFixed(6)} seconds`,
  );
}

export async function invokeHttpHook(
  uri: string,
  secrets: string,
  payload: unknown,
  options: HookOptions = {},
): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const backoffMs = options.backoffMs ?? 2000;
  const retries = options.retries ?? 3;
  const body = JSON.stringify(payload);
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(), timeoutMs);
  try {
    for (let attempt = 0; attempt < retries; attempt++) {
      const id = randomUUID();
      const timestamp = Math.floor(Date.now() / 1000);
      const signature = signWebhook(secrets, id, timestamp, body);
      let response: Response;
      try {
        response = await fetch(uri, {
          method: 'POST',
          body,
          signal: controller.signal,
          headers: {
            'content-type': 'application/json',
            'webhook-id': id,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': signature,
            'accept-encoding': 'identity',
          },
        });
      } catch (error) {
        if (controller.signal.aborted) throw timeoutError(timeoutMs);
        if (attempt < retries - 1) {
          await sleep(backoffMs, controller.signal);
          if (controller.signal.aborted) throw timeoutError(timeoutMs);
          continue;
        }
        void error;
        throw unprocessable('hook_timeout_after_retry', 'Failed to reach hook after maximum retries');
      }
      switch (response.status) {
        case 204:
          await response.body?.cancel();
          return null;
        case 200:
        case 202: {
          const contentType = response.headers.get('content-type');
          if (!contentType) {
            await response.body?.cancel();
            throw badRequest(
              'hook_payload_invalid_content_type',
              'Invalid Content-Type: Missing Content-Type header',
            );
          }
          if (contentType.split(';')[0].trim().toLowerCase() !== 'application/json') {
            await response.body?.cancel();
            throw badRequest(
              'hook_payload_invalid_content_type',
              `Invalid JSON response. Received content-type: ${contentType}`,
            );
          }
          let text: string;
          try {
            text = await response.text();
          } catch {
            if (controller.signal.aborted) throw timeoutError(timeoutMs);
            throw internal('Error reading hook response');
          }
          if (Buffer.byteLength(text) > payloadLimit) {
            throw unprocessable(
              'hook_payload_over_size_limit',
              `Payload size exceeded size limit of ${payloadLimit} bytes`,
            );
          }
          let parsed: unknown = null;
          try {
            parsed = text.trim() === '' ? null : JSON.parse(text);
          } catch {
            throw internal('Error unmarshaling JSON output.');
          }
          const hookError =
            parsed && typeof parsed === 'object' ? (parsed as { error?: unknown }).error : undefined;
          if (hookError && typeof hookError === 'object') {
            const { http_code: httpCode, message } = hookError as { http_code?: unknown; message?: unknown };
            if (typeof message === 'string' && message !== '') {
              const status = typeof httpCode === 'number' && httpCode > 0 ? httpCode : 500;
              throw new AuthError(status, status === 500 ? 'unexpected_failure' : 'unknown', message);
            }
          }
          return parsed;
        }
        case 429:
        case 503:
          await response.body?.cancel();
          if (response.headers.get('retry-after')) continue;
          throw internal('Service currently unavailable due to hook');
        case 400:
          await response.body?.cancel();
          throw internal('Invalid payload sent to hook');
        case 401:
          await response.body?.cancel();
          throw internal('Hook requires authorization token');
        default:
          await response.body?.cancel();
          throw internal(`Unexpected status code returned from hook: ${response.status}`);
      }
    }
    throw internal('Service currently unavailable due to hook');
  } finally {
    clearTimeout(deadline);
  }
}
