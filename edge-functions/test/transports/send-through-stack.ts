// Run by transports.test.ts (Node) under Deno: sends through the transports to the local stack's
// mail catcher (Resend API) and webhook sink, as the worker will, and prints the outcomes as JSON.
// Reads RUN_ID, MAIL_URL, WEBHOOK_SINK_URL, WEBHOOK_SECRET and DISPATCH_ALLOWED_HOSTS.
import { guardedFetchFromEnv } from '../../src/delivery/fetch.ts';
import type { Delivery, SendOutcome, TransportContext } from '../../src/delivery/types.ts';
import { transports } from '../../src/transports/index.ts';

const env = (name: string) => {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const run = env('RUN_ID');
const secrets: Record<string, string> = {
  RESEND_API_KEY: 're_local_test',
  RESEND_API_URL: env('MAIL_URL'),
  DISPATCH_WEBHOOK_SECRET: env('WEBHOOK_SECRET'),
};
const fetch = guardedFetchFromEnv();
const context = (settings: Record<string, unknown>): TransportContext => ({
  secret: (name) => secrets[name],
  fetch,
  settings,
  log: () => {},
});
const email = context({
  provider: 'resend',
  from: 'Shop <noreply@shop.example>',
  apiKeySecret: 'RESEND_API_KEY',
});
const webhook = context({ signingSecret: 'DISPATCH_WEBHOOK_SECRET' });

const delivery = (key: string, transport: string, address: string, payload?: unknown): Delivery => ({
  receiptId: key,
  idempotencyKey: `dispatch-${run}-${key}`,
  eventId: 'order.shipped',
  channel: `${transport}:buyer`,
  transport,
  recipient: { userId: null, address },
  content: {
    subject: `Order ${key} shipped`,
    html: `<p>Order <b>${key}</b></p>`,
    text: `Order ${key}`,
    ...(payload === undefined ? {} : { payload }),
  },
  attempt: 1,
  occurredAt: '2026-01-01T10:00:00.000Z',
});

const sink = env('WEBHOOK_SINK_URL').replace(/\/+$/, '');
const single = delivery('single', 'email', `single-${run}@shop.example`);
const batch = [1, 2].map((i) => delivery(`batch${i}`, 'email', `batch${i}-${run}@shop.example`));
const hook = delivery('hook', 'webhook', `${sink}/transports-${run}/ok`, { orderId: 7 });
const limited = delivery('limited', 'webhook', `${sink}/transports-${run}/limited`, { orderId: 8 });
const gone = delivery('gone', 'webhook', `${sink}/transports-${run}/gone`, { orderId: 9 });

const outcomes: Record<string, SendOutcome | SendOutcome[]> = {
  single: await transports.email.send(single, email),
  singleAgain: await transports.email.send(single, email),
  batch: await transports.email.sendBatch!(batch, email),
  batchAgain: await transports.email.sendBatch!(batch, email),
  webhook: await transports.webhook.send(hook, webhook),
  limited: await transports.webhook.send(limited, webhook),
  gone: await transports.webhook.send(gone, webhook),
};
console.log(JSON.stringify(outcomes));
