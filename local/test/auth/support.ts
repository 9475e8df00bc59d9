import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import WebSocket from 'ws';

/** A supabase-js client as an app on Node 20 makes one, without storage or auto-refresh timers. */
export function client(url: string, key: string): SupabaseClient {
  return createClient(url, key, {
    realtime: { transport: WebSocket as never },
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
}

export const uniqueEmail = (label = 'user') => `${label}-${randomUUID().slice(0, 8)}@example.test`;

export interface CaughtMail {
  to: string[];
  subject: string;
  html: string;
}

/** A tiny SMTP catcher for the mail path: waitFor(to) polls, bounded, for a message to `to`. */
export async function startSmtpCatcher(): Promise<{
  port: number;
  mails: CaughtMail[];
  waitFor(to: string, predicate?: (mail: CaughtMail) => boolean): Promise<CaughtMail>;
  close(): Promise<void>;
}> {
  const mails: CaughtMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    disableReverseLookup: true,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          mails.push({
            to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
            subject: parsed.subject ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : '',
          });
          callback();
        })
        .catch((error) => callback(error));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    mails,
    async waitFor(to, predicate = () => true) {
      for (let i = 0; i < 200; i++) {
        const found = mails.find((m) => m.to.includes(to.toLowerCase()) && predicate(m));
        if (found) return found;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(
        `no mail to ${to} arrived (caught: ${JSON.stringify(mails.map((m) => [m.to, m.subject]))})`,
      );
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The link and the code of an Auth email. */
export function parseAuthMail(mail: CaughtMail): { link: string; otp: string } {
  const link = /href="([^"]+)"/.exec(mail.html)?.[1]?.replace(/&amp;/g, '&');
  const otp = /code: (\d{6})/.exec(mail.html)?.[1];
  if (!link || !otp) throw new Error(`mail without link or code: ${mail.html}`);
  return { link, otp };
}

export interface HookCall {
  headers: IncomingMessage['headers'];
  body: string;
  payload: {
    metadata: Record<string, unknown>;
    user: Record<string, unknown>;
    email_data: Record<string, string>;
  };
  signatureValid: boolean;
}

/** Standard Webhooks verification with a `v1,whsec_<base64>` secret, as the hook's receiver does it. */
export function verifyStandardWebhook(
  secret: string,
  headers: IncomingMessage['headers'],
  body: string,
): boolean {
  const id = String(headers['webhook-id'] ?? '');
  const timestamp = String(headers['webhook-timestamp'] ?? '');
  const signatures = String(headers['webhook-signature'] ?? '').split(' ');
  if (!id || !/^\d+$/.test(timestamp)) return false;
  const key = Buffer.from(secret.replace(/^v1,/, '').replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.some((entry) => {
    const [version, value] = entry.replace(/,$/, '').split(',');
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** An HTTP endpoint standing in for the Send Email Hook; `respond` decides each answer. */
export async function startHookServer(secret: string): Promise<{
  url: string;
  calls: HookCall[];
  respond: (call: HookCall, res: ServerResponse) => void;
  close(): Promise<void>;
}> {
  const calls: HookCall[] = [];
  const state = {
    respond: (_call: HookCall, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const call: HookCall = {
        headers: req.headers,
        body,
        payload: JSON.parse(body),
        signatureValid: verifyStandardWebhook(secret, req.headers, body),
      };
      calls.push(call);
      state.respond(call, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/auth-email`,
    calls,
    get respond() {
      return state.respond;
    },
    set respond(fn) {
      state.respond = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function decodeClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}
