/**
 * The client side of bench/realtime-soak.ts, in a process of its own so the server's RSS is the
 * server's: opens `count` realtime-js sockets (one RealtimeClient each, as `count` browsers would),
 * joins each to the public broadcast `topic`, and counts the `tick` messages they receive.
 *
 *   node --import tsx bench/support/socket-holder.ts <realtime url> <anon key> <topic> <count>
 *
 * Prints `joined <n>` once all joined (or after 120 s with how many did), then, for every line read
 * on stdin, `received <total> rss <bytes>`; closes every socket and exits when stdin ends.
 */
import { createInterface } from 'node:readline';
import { RealtimeClient } from '@supabase/realtime-js';
import WebSocket from 'ws';

const [url, apikey, topic, countArg] = process.argv.slice(2);
const count = Math.min(Math.max(Number(countArg), 1), 5000);
let received = 0;
let joined = 0;
const clients: RealtimeClient[] = [];
for (let i = 0; i < count; i++) {
  const client = new RealtimeClient(url, {
    params: { apikey },
    transport: WebSocket as never,
    logger: () => {},
  });
  client
    .channel(topic)
    .on('broadcast', { event: 'tick' }, () => {
      received++;
    })
    .subscribe((status) => {
      if (status === 'SUBSCRIBED') joined++;
    });
  clients.push(client);
  // a few at a time, so the joins do not all land on the server in one burst
  if (i % 50 === 49) await new Promise((r) => setTimeout(r, 100));
}
const deadline = Date.now() + 120_000;
while (joined < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
process.stdout.write(`joined ${joined}\n`);

const lines = createInterface({ input: process.stdin });
lines.on('line', () => process.stdout.write(`received ${received} rss ${process.memoryUsage().rss}\n`));
lines.on('close', () => {
  for (const client of clients) client.disconnect();
  process.exit(0);
});
