/**
 * Where a delivery goes. Addresses are what the receipt holds: an email address, a phone number, a
 * URL, or `secret:<NAME>` for URLs that are credentials themselves (Slack and Discord incoming
 * webhooks), resolved from the function's secrets at send time so they are never stored.
 */
import type { Delivery, TransportContext } from '../delivery/types.ts';
import { NotSendableError, requireSecret } from './send.ts';

const SECRET_PREFIX = 'secret:';

/**
 * The delivery's address, with `secret:<NAME>` resolved. Without an address, the transport's
 * `defaultUrlSecret` setting (slack, discord) names the secret to use, when there is one.
 */
export function resolveAddress(
  delivery: Delivery,
  context: TransportContext,
  name = delivery.transport,
): string {
  const address = delivery.recipient.address ?? defaultAddress(context);
  if (address === null || address.trim() === '') {
    throw new NotSendableError(`${name}: the receipt has no address to send to`);
  }
  if (!address.startsWith(SECRET_PREFIX)) return address.trim();
  return requireSecret(context, address.slice(SECRET_PREFIX.length), `${name} address`).trim();
}

/** The URL to send to, which must be an absolute http(s) URL. */
export function resolveUrl(delivery: Delivery, context: TransportContext, name = delivery.transport): URL {
  const address = resolveAddress(delivery, context, name);
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new NotSendableError(`${name}: ${describe(delivery)} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new NotSendableError(`${name}: ${describe(delivery)} is not an http(s) URL`);
  }
  return url;
}

/** For errors and destinations: never the resolved value of a secret address. */
export function describe(delivery: Delivery): string {
  const address = delivery.recipient.address;
  return address === null
    ? 'the default address'
    : address.startsWith(SECRET_PREFIX)
      ? address
      : `"${address}"`;
}

function defaultAddress(context: TransportContext): string | null {
  const name = context.settings.defaultUrlSecret;
  return typeof name === 'string' && name !== '' ? `${SECRET_PREFIX}${name}` : null;
}
