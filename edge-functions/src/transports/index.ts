/**
 * The transports the worker sends with, by name (`in_app` stays in SQL). Each sends through the
 * context's guarded fetch and reads its settings (the registry's `transports.<name>`) and secrets
 * from the context; none reads the environment itself.
 */
import type { Transport } from '../delivery/types.ts';
import { discord } from './discord.ts';
import { createEmailTransport, type EmailProvider, emailProviders } from './email/index.ts';
import { slack } from './slack.ts';
import { sms } from './sms.ts';
import { createWebhookTransport } from './webhook/index.ts';

export interface TransportsOptions {
  /** Email providers by name (default: resend); add Postmark, SES, SendGrid here. */
  emailProviders?: Record<string, EmailProvider>;
  /** The clock of `webhook-timestamp` (ms since the epoch). */
  now?: () => number;
}

export function createTransports(options: TransportsOptions = {}): Record<string, Transport> {
  return {
    email: createEmailTransport(options.emailProviders ?? emailProviders),
    webhook: createWebhookTransport(options.now),
    slack,
    discord,
    sms,
  };
}

export const transports: Record<string, Transport> = createTransports();
