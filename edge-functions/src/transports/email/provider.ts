/**
 * What an email provider is to the email transport, so Postmark, SES or SendGrid can be added
 * beside Resend: it sends one message, and maybe many in one request. Messages arrive complete
 * (from, reply-to, subject, html and text decided by the transport); the provider maps them to its
 * API, sends through the guarded fetch and classifies the answer.
 */
import type { SendOutcome, TransportContext } from '../../delivery/types.ts';

export interface EmailMessage {
  from: string;
  to: string[];
  replyTo?: string;
  subject: string;
  html?: string;
  text?: string;
  /** Extra MIME headers (e.g. marking a test send). */
  headers?: Record<string, string>;
  /** Provider tags, `[A-Za-z0-9_-]` names and values. */
  tags?: { name: string; value: string }[];
  /** The receipt's key: a repeated request must not send a second email. */
  idempotencyKey: string;
}

export interface EmailProvider {
  readonly name: string;
  send(message: EmailMessage, context: TransportContext): Promise<SendOutcome>;
  /** Many messages in one request; outcomes in order. */
  sendBatch?(messages: EmailMessage[], context: TransportContext): Promise<SendOutcome[]>;
  /** Most messages one batch request may hold. */
  readonly maxBatchSize?: number;
}
