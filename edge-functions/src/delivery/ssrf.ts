/**
 * The SSRF guard: which URLs a transport may call. A URL is refused when its scheme is not http(s),
 * or when its host is (or resolves to) an address a request must never reach from the functions:
 * loopback, private (RFC 1918, ULA), link-local, CGNAT, unspecified, multicast/reserved, or a cloud
 * metadata address. Hosts on the allowlist (`DISPATCH_ALLOWED_HOSTS`, `host:port` entries, set by
 * the local stack for its webhook sink and mail catcher) skip the check; there is no exception in code.
 *
 * Known limit: the name is resolved here and again by fetch, so a DNS answer that changes in
 * between (rebinding) is not caught; fetch in Deno has no way to pin the checked address.
 */
import { lookup } from 'node:dns/promises';

/** A request the guard will not make (permanent: retrying cannot change the answer). */
export class RefusedUrlError extends Error {
  override name = 'RefusedUrlError';
}

/** Every address a host name resolves to (IPv4 and IPv6, as text). */
export type Resolver = (host: string) => Promise<string[]>;

/** Resolves like fetch does (getaddrinfo, so /etc/hosts counts): what is checked is what would be dialled. */
export const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

export interface UrlPolicy {
  /** `host:port` entries (lower case, IPv6 without brackets) allowed whatever they resolve to. */
  allowedHosts: ReadonlySet<string>;
  resolve: Resolver;
}

/** Parses `DISPATCH_ALLOWED_HOSTS` (comma-separated `host:port`, `[v6]:port` for IPv6). */
export function parseAllowedHosts(value: string | undefined): Set<string> {
  const hosts = new Set<string>();
  for (const raw of (value ?? '').split(',')) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    const match = /^(\[[0-9a-f:.]+\]|[^:[\]\s/]+):(\d{1,5})$/.exec(entry);
    if (!match || Number(match[2]) > 65535) {
      throw new RefusedUrlError(
        `DISPATCH_ALLOWED_HOSTS: "${raw.trim()}" is not host:port (e.g. 127.0.0.1:54326, [::1]:54326)`,
      );
    }
    hosts.add(`${stripBrackets(match[1])}:${Number(match[2])}`);
  }
  return hosts;
}

/** Throws {@link RefusedUrlError} naming why the URL may not be requested. */
export async function checkUrl(url: URL, policy: UrlPolicy): Promise<void> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RefusedUrlError(`refused ${url.protocol} URL: only http and https are allowed`);
  }
  const host = stripBrackets(url.hostname.toLowerCase());
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  if (policy.allowedHosts.has(`${host}:${port}`)) return;
  if (parseIp(host)) {
    const range = refusedRange(host);
    if (range) throw new RefusedUrlError(`refused ${url.host}: ${range} address`);
    return;
  }
  const addresses = await policy.resolve(host);
  if (addresses.length === 0) throw new Error(`${host} resolves to no address`);
  for (const address of addresses) {
    const range = refusedRange(address);
    if (range) throw new RefusedUrlError(`refused ${url.host}: resolves to ${address} (${range} address)`);
  }
}

/** The name of the refused range an IP address is in, or null when it may be called. */
export function refusedRange(address: string): string | null {
  const ip = parseIp(stripBrackets(address));
  if (!ip) return 'unparsable';
  return ip.length === 4 ? refusedV4(ip) : refusedV6(ip);
}

type Range = [prefix: number[], bits: number, name: string];

// Most specific first: the metadata addresses sit inside link-local and ULA.
const V4_RANGES: Range[] = [
  [[169, 254, 169, 254], 32, 'metadata'],
  [[100, 100, 100, 200], 32, 'metadata'],
  [[0, 0, 0, 0], 8, 'unspecified'],
  [[10, 0, 0, 0], 8, 'private'],
  [[100, 64, 0, 0], 10, 'CGNAT'],
  [[127, 0, 0, 0], 8, 'loopback'],
  [[169, 254, 0, 0], 16, 'link-local'],
  [[172, 16, 0, 0], 12, 'private'],
  [[192, 0, 0, 0], 24, 'reserved'],
  [[192, 168, 0, 0], 16, 'private'],
  [[198, 18, 0, 0], 15, 'reserved'],
  [[224, 0, 0, 0], 4, 'multicast'],
  [[240, 0, 0, 0], 4, 'reserved'],
];

const V6_RANGES: Range[] = [
  [[0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54], 128, 'metadata'],
  [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 128, 'unspecified'],
  [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 128, 'loopback'],
  [[0x01, 0x00, 0, 0, 0, 0, 0, 0], 64, 'reserved'],
  [[0xfc], 7, 'private'],
  [[0xfe, 0x80], 10, 'link-local'],
  [[0xfe, 0xc0], 10, 'private'],
  [[0xff], 8, 'multicast'],
];

function refusedV4(ip: number[]): string | null {
  for (const [prefix, bits, name] of V4_RANGES) if (inRange(ip, prefix, bits)) return name;
  return null;
}

function refusedV6(ip: number[]): string | null {
  for (const [prefix, bits, name] of V6_RANGES) if (inRange(ip, prefix, bits)) return name;
  // Forms that carry an IPv4 address reach that address: judge it instead.
  const zero = (from: number, to: number) => ip.slice(from, to).every((b) => b === 0);
  if (zero(0, 10) && ip[10] === 0xff && ip[11] === 0xff) return refusedV4(ip.slice(12)); // ::ffff:a.b.c.d
  if (zero(0, 12)) return refusedV4(ip.slice(12)); // ::a.b.c.d (deprecated)
  if (inRange(ip, [0x00, 0x64, 0xff, 0x9b], 96)) return refusedV4(ip.slice(12)); // NAT64 64:ff9b::/96
  if (ip[0] === 0x20 && ip[1] === 0x02) return refusedV4(ip.slice(2, 6)); // 6to4 2002::/16
  return null;
}

function inRange(ip: number[], prefix: number[], bits: number): boolean {
  for (let i = 0; i < bits; i += 8) {
    const take = Math.min(8, bits - i);
    const mask = (0xff << (8 - take)) & 0xff;
    if ((ip[i / 8] & mask) !== ((prefix[i / 8] ?? 0) & mask)) return false;
  }
  return true;
}

/** The bytes of an IPv4 (4) or IPv6 (16) address in text form, or null when it is not one. */
export function parseIp(text: string): number[] | null {
  return parseV4(text) ?? parseV6(text);
}

function parseV4(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes = parts.map((p) => (/^(0|[1-9]\d{0,2})$/.test(p) ? Number(p) : Number.NaN));
  return bytes.every((b) => b >= 0 && b <= 255) ? bytes : null;
}

function parseV6(text: string): number[] | null {
  let input = text.replace(/%.*$/, ''); // a zone id (fe80::1%eth0) names an interface, not an address
  if (!/^[0-9a-f:.]+$/i.test(input) || !input.includes(':')) return null;
  let tail: number[] = [];
  const lastColon = input.lastIndexOf(':');
  if (input.slice(lastColon + 1).includes('.')) {
    const v4 = parseV4(input.slice(lastColon + 1));
    if (!v4) return null;
    tail = v4;
    input = `${input.slice(0, lastColon + 1)}0:0`;
  }
  const halves = input.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  const bytes: number[] = [];
  for (const group of all) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return null;
    const value = Number.parseInt(group, 16);
    bytes.push(value >> 8, value & 0xff);
  }
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
