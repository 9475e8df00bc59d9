import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { type AddressObject, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { Logger } from '../logger.ts';
import { bareAddress, type MailMessage, type MailStore } from './store.ts';

/** Largest message accepted over SMTP (bytes). */
const MAX_MESSAGE_BYTES = 25 * 1024 * 1024;

/**
 * Plain SMTP (no TLS, STARTTLS not offered), any or no AUTH accepted, as Inbucket/Mailpit in
 * `supabase start`. Every message is parsed with mailparser and put in the store.
 */
export async function startSmtp(
  store: MailStore,
  port: number,
  log: Logger,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    banner: 'supadispatch mail catcher',
    size: MAX_MESSAGE_BYTES,
    logger: false,
    disableReverseLookup: true,
    closeTimeout: 1000,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? 'anonymous' });
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          if ((stream as { sizeExceeded?: boolean }).sizeExceeded) {
            const error = new Error('Message exceeds fixed maximum message size') as Error & {
              responseCode: number;
            };
            error.responseCode = 552;
            callback(error);
            return;
          }
          const envelopeTo = session.envelope.rcptTo.map((r) => r.address);
          const to = addresses(parsed.to);
          const cc = addresses(parsed.cc);
          const listed = new Set([...to, ...cc].map(bareAddress));
          const headers: Record<string, string> = {};
          for (const line of parsed.headerLines) {
            const colon = line.line.indexOf(':');
            const value = (colon >= 0 ? line.line.slice(colon + 1) : '').replace(/\r?\n[ \t]+/g, ' ').trim();
            headers[line.key] = headers[line.key] === undefined ? value : `${headers[line.key]}, ${value}`;
          }
          const mailFrom = session.envelope.mailFrom;
          const message: MailMessage = {
            id: randomUUID(),
            from: parsed.from?.text ?? (mailFrom ? mailFrom.address : ''),
            to: to.length > 0 ? to : envelopeTo,
            cc,
            bcc: envelopeTo.filter((a) => !listed.has(bareAddress(a))),
            replyTo: addresses(parsed.replyTo),
            subject: parsed.subject ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : null,
            text: parsed.text ?? null,
            headers,
            tags: [],
            attachments: parsed.attachments.map((a) => ({
              filename: a.filename ?? null,
              contentType: a.contentType ?? null,
              size: a.size,
            })),
            receivedAt: new Date().toISOString(),
            via: 'smtp',
            idempotencyKey: null,
            envelope: { from: mailFrom ? mailFrom.address : null, to: envelopeTo },
          };
          store.add(message);
          log('mail', `smtp: "${message.subject}" to ${envelopeTo.join(', ')}`);
          callback(null, `Queued as ${message.id}`);
        })
        .catch((error: Error) => {
          log('mail', 'smtp: could not parse a message', error);
          callback(error);
        });
    },
  });

  // smtp-server re-emits its net.Server's errors: a listener must exist before listen().
  let listening = false;
  await new Promise<void>((resolve, reject) => {
    server.on('error', (error) => {
      if (!listening) reject(error);
      else log('mail', 'smtp error', error);
    });
    server.listen(port, '127.0.0.1', () => {
      listening = true;
      resolve();
    });
  });
  const bound = (server.server.address() as AddressInfo).port;
  return {
    port: bound,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  if (!field) return [];
  const list = Array.isArray(field) ? field : [field];
  const out: string[] = [];
  for (const object of list) {
    for (const entry of object.value) {
      if (entry.address) out.push(entry.name ? `${entry.name} <${entry.address}>` : entry.address);
      for (const member of entry.group ?? []) {
        if (member.address) out.push(member.name ? `${member.name} <${member.address}>` : member.address);
      }
    }
  }
  return out;
}
