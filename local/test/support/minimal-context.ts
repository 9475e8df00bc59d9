import type { StackContext } from '../../src/context.ts';
import type { Logger } from '../../src/logger.ts';

/** The slice of a StackContext the mail catcher and webhook sink use; ports 0 = any free port. */
export function minimalContext(overrides: { webhookSecret?: string; log?: Logger } = {}): StackContext {
  const lines: string[] = [];
  return {
    ports: { api: 0, db: 0, mail: 0, smtp: 0, webhookSink: 0 },
    keys: {
      jwtSecret: 'test-jwt-secret',
      anonKey: 'anon',
      serviceRoleKey: 'service',
      webhookSecret: overrides.webhookSecret ?? 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    },
    log: overrides.log ?? ((service, message) => lines.push(`[${service}] ${message}`)),
  } as unknown as StackContext;
}
