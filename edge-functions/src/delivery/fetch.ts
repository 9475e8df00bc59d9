/**
 * The fetch every transport sends with ({@link GuardedFetch}): each URL passes the SSRF guard
 * (ssrf.ts) before it is requested, redirects are followed by hand (at most a few, every hop checked
 * again, credentials dropped when the origin changes), and the whole exchange, body included, is
 * bounded by a timeout.
 */

import { checkUrl, parseAllowedHosts, RefusedUrlError, type Resolver, systemResolver } from './ssrf.ts';
import { FUNCTION_ENV, type GuardedFetch } from './types.ts';

export interface GuardedFetchOptions {
  /** `host:port` entries allowed despite the guard (the `DISPATCH_ALLOWED_HOSTS` format). */
  allowedHosts?: string;
  resolve?: Resolver;
  /** Default timeout of one call (all hops and the body), unless the call passes `timeoutMs`. */
  timeoutMs?: number;
  maxRedirects?: number;
  fetch?: typeof fetch;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_REDIRECTS = 3;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Throws {@link RefusedUrlError} at once when `allowedHosts` is malformed (a configuration error). */
export function createGuardedFetch(options: GuardedFetchOptions = {}): GuardedFetch {
  const policy = {
    allowedHosts: parseAllowedHosts(options.allowedHosts),
    resolve: options.resolve ?? systemResolver,
  };
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const send = options.fetch ?? fetch;

  return async (input, init = {}) => {
    const { timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS, ...rest } = init;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = rest.signal ? AbortSignal.any([rest.signal, timeout]) : timeout;
    let url = new URL(input);
    let method = (rest.method ?? 'GET').toUpperCase();
    let body = rest.body ?? null;
    const headers = new Headers(rest.headers);
    for (let hop = 0; ; hop++) {
      await checkUrl(url, policy);
      const response = await send(url, { ...rest, method, body, headers, signal, redirect: 'manual' });
      const location = response.headers.get('location');
      if (!REDIRECTS.has(response.status) || location === null) return response;
      await response.body?.cancel();
      if (hop >= maxRedirects) {
        throw new RefusedUrlError(`more than ${maxRedirects} redirects (last to ${location})`);
      }
      const next = new URL(location, url);
      // As fetch does: 303 (and 301/302 after a POST) become a GET without a body.
      if (
        response.status === 303 ||
        ((response.status === 301 || response.status === 302) && method === 'POST')
      ) {
        if (method !== 'HEAD') method = 'GET';
        body = null;
        for (const name of ['content-type', 'content-length', 'content-encoding', 'content-language']) {
          headers.delete(name);
        }
      } else if (body instanceof ReadableStream) {
        throw new RefusedUrlError(`redirect to ${next.origin}: a streamed body cannot be sent again`);
      }
      if (next.origin !== url.origin) {
        // Credentials meant for one origin never travel to another.
        headers.delete('authorization');
        headers.delete('cookie');
        headers.delete('proxy-authorization');
      }
      url = next;
    }
  };
}

/** The guarded fetch configured from the functions' environment (`DISPATCH_ALLOWED_HOSTS`). */
export function guardedFetchFromEnv(
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): GuardedFetch {
  return createGuardedFetch({ allowedHosts: env(FUNCTION_ENV.allowedHosts) });
}
