import type { IncomingMessage } from 'node:http';

/** Go's url.QueryEscape: everything but A–Z a–z 0–9 - _ . ~ escaped, spaces as '+'. */
export function goQueryEscape(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Go's url.Values.Encode: keys sorted, each pair query-escaped. */
export function goValuesEncode(values: Record<string, string>): string {
  return Object.keys(values)
    .sort()
    .map((key) => `${goQueryEscape(key)}=${goQueryEscape(values[key])}`)
    .join('&');
}

const loopbackHosts = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

function globToRegExp(pattern: string): RegExp {
  // gobwas/glob with separators '.' and '/': `**` crosses them, `*` and `?` do not.
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      out += '.*';
      i++;
    } else if (c === '*') out += '[^./]*';
    else if (c === '?') out += '[^./]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

function isLoopbackIp(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

/** utilities.IsRedirectURLValid: the site's origin (any port on loopback), loopback IPs, or the allow list. */
export function isRedirectUrlValid(siteUrl: string, allowList: string[], redirect: string): boolean {
  if (!redirect) return false;
  let base: URL;
  let ref: URL;
  try {
    base = new URL(siteUrl);
    ref = new URL(redirect);
  } catch {
    return false;
  }
  if (
    base.hostname === ref.hostname &&
    base.protocol === ref.protocol &&
    (base.port === ref.port || loopbackHosts.has(ref.hostname))
  ) {
    return true;
  }
  const isHttp = ref.protocol === 'http:' || ref.protocol === 'https:';
  if (/^[0-9]+$/.test(ref.hostname)) return false;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(ref.hostname) || ref.hostname.startsWith('['))
    return isLoopbackIp(ref.hostname);
  if (isHttp && !/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/.test(ref.hostname)) return false;
  const withoutFragment = redirect.split('#')[0];
  return allowList.some((pattern) => globToRegExp(pattern).test(withoutFragment));
}

/** utilities.GetReferrer: `redirect_to` (header, query or given), then the Referer header, then site_url. */
export function referrer(
  req: IncomingMessage,
  url: URL,
  siteUrl: string,
  allowList: string[],
  fromBody?: string,
): string {
  const header = req.headers.redirect_to;
  const candidate =
    (typeof header === 'string' && header) || url.searchParams.get('redirect_to') || fromBody || '';
  if (isRedirectUrlValid(siteUrl, allowList, candidate)) return candidate;
  const referer = req.headers.referer;
  if (typeof referer === 'string' && isRedirectUrlValid(siteUrl, allowList, referer)) return referer;
  return siteUrl;
}
