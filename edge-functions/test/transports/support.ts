// A local HTTP server that records requests and answers from a script, and a transport context
// whose guarded fetch allows exactly that server (the way the local stack allows its sink).
import { createGuardedFetch } from '../../src/delivery/fetch.ts';
import type { Delivery, TransportContext } from '../../src/delivery/types.ts';

export interface Recorded {
  method: string;
  path: string;
  search: string;
  headers: Headers;
  body: string;
}

export interface TestServer {
  url: string;
  hostPort: string;
  requests: Recorded[];
  /** The next answers (first in, first used); afterwards `200 {}`. */
  answers: (() => Response | Promise<Response>)[];
  close(): Promise<void>;
}

export function startServer(): TestServer {
  const requests: Recorded[] = [];
  const answers: (() => Response | Promise<Response>)[] = [];
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    requests.push({
      method: req.method,
      path: url.pathname,
      search: url.search,
      headers: req.headers,
      body: await req.text(),
    });
    return (await answers.shift()?.()) ?? Response.json({});
  });
  const { port } = server.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    requests,
    answers,
    close: () => server.shutdown(),
  };
}

export function context(
  server: TestServer,
  settings: Record<string, unknown> = {},
  secrets: Record<string, string> = {},
): TransportContext {
  return {
    secret: (name) => secrets[name],
    fetch: createGuardedFetch({ allowedHosts: server.hostPort, timeoutMs: 5000 }),
    settings,
    log: () => {},
  };
}

export function delivery(overrides: Partial<Delivery> = {}): Delivery {
  return {
    receiptId: '11111111-2222-3333-4444-555555555555',
    idempotencyKey: 'dispatch-11111111-2222-3333-4444-555555555555',
    eventId: 'order.shipped',
    channel: 'email:buyer',
    transport: 'email',
    recipient: { userId: null, address: 'buyer@shop.example' },
    content: { subject: 'Order #7 shipped', html: '<p>On its way</p>', text: 'On its way' },
    attempt: 1,
    occurredAt: '2026-01-01T10:00:00.000Z',
    ...overrides,
  };
}
