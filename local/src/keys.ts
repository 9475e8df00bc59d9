import { randomBytes } from 'node:crypto';
import type { StackKeys } from './context.ts';
import { signJwt } from './jwt.ts';

/** Ten years, as the keys `supabase start` prints: long-lived, rotated by wiping the stack. */
const keyLifetimeSeconds = 10 * 365 * 24 * 3600;

export function apiKey(role: 'anon' | 'service_role', jwtSecret: string, issuedAt: number): string {
  return signJwt(
    { iss: 'supabase-demo', role, iat: issuedAt, exp: issuedAt + keyLifetimeSeconds },
    jwtSecret,
  );
}

/** New secrets for a new stack; `jwtSecret` is 40 random characters as Supabase's are at least 32. */
export function generateKeys(): StackKeys {
  const jwtSecret = randomBytes(30).toString('base64url');
  const issuedAt = Math.floor(Date.now() / 1000);
  return {
    jwtSecret,
    anonKey: apiKey('anon', jwtSecret, issuedAt),
    serviceRoleKey: apiKey('service_role', jwtSecret, issuedAt),
    webhookSecret: `whsec_${randomBytes(24).toString('base64')}`,
    workerSecret: generateWorkerSecret(),
  };
}

/** The pg_net → dispatch-worker shared secret (Vault `dispatch_worker_secret`). */
export function generateWorkerSecret(): string {
  return randomBytes(32).toString('base64url');
}
