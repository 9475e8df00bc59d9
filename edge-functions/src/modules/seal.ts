/**
 * Sealed values: what must reach the worker but never rest readable in the database (the Auth hook's
 * tokens, kept in the occurrence until the receipt is rendered). AES-256-GCM with a key derived from
 * a secret every function of the project has (`SEND_EMAIL_HOOK_SECRET`, set with `supabase secrets
 * set`): an admin reading the occurrence sees ciphertext, the worker opens it when it renders.
 */

import { Buffer } from 'node:buffer';
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const INFO = 'supadispatch seal v1';

function keyOf(secret: string): Buffer {
  if (secret.trim() === '') throw new Error('no sealing secret');
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), INFO, 32));
}

/** `v1.<iv>.<ciphertext+tag>` (base64url) of the JSON of `value`. */
export function seal(value: unknown, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyOf(secret), iv);
  const body = Buffer.concat([
    cipher.update(JSON.stringify(value), 'utf8'),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  return `v1.${iv.toString('base64url')}.${body.toString('base64url')}`;
}

/** The sealed value; throws when the text was not sealed with this secret or was altered. */
export function unseal(sealed: string, secret: string): unknown {
  const [version, ivText, bodyText] = sealed.split('.');
  if (version !== 'v1' || !ivText || !bodyText) throw new Error('not a sealed value');
  const body = Buffer.from(bodyText, 'base64url');
  if (body.length < 16) throw new Error('sealed value too short');
  const decipher = createDecipheriv('aes-256-gcm', keyOf(secret), Buffer.from(ivText, 'base64url'));
  decipher.setAuthTag(body.subarray(body.length - 16));
  const plain = Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]);
  return JSON.parse(plain.toString('utf8'));
}
