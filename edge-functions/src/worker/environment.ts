/**
 * Which function secrets the worker needs and lacks, by name (never values), for the probe's answer:
 * `supadispatch doctor` names them, since they cannot be read from SQL.
 */
import { FUNCTION_ENV } from '../delivery/types.ts';
import type { Registry } from '../registry.ts';

/** The webhook signing secret's name when the config names none (`transports.webhook.signingSecret`). */
export const DEFAULT_WEBHOOK_SECRET_NAME = 'DISPATCH_WEBHOOK_SECRET';

export function requiredEnv(registry: Registry): string[] {
  const transports = new Set(
    Object.values(registry.events).flatMap((event) => (event.channels ?? []).map((c) => c.transport)),
  );
  const names: string[] = [FUNCTION_ENV.dbUrl];
  if (transports.has('email')) names.push('RESEND_API_KEY');
  if (transports.has('webhook')) {
    const named = registry.transports?.webhook?.signingSecret;
    names.push(typeof named === 'string' && named !== '' ? named : DEFAULT_WEBHOOK_SECRET_NAME);
  }
  return names;
}

export function missingEnv(registry: Registry, env: (name: string) => string | undefined): string[] {
  return requiredEnv(registry).filter((name) => (env(name) ?? '') === '');
}
