/**
 * Where one broadcast's fan-out in the Realtime stand-in spends its time (session 5, issue 20):
 * N real loopback websockets (vsn 2.0.0, private channels already authorized at join) in one
 * Hub; the synchronous time of one `hub.broadcast` of a counter-sized message, against the
 * per-socket encoding the stand-in did before (encode, then send, per subscriber), and split into
 * encoding alone and sending pre-encoded bytes alone. The clients read in a process of their own.
 *
 *   node --import tsx bench/support/client-fanout-probe.ts [--sockets 100,1000,2000] [--rounds 30]
 *
 * A development probe (not part of `npm run bench`): its figures are recorded in bench/RESULTS.md.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket, { WebSocketServer } from 'ws';
import { type Channel, encodeBroadcast, Hub } from '../../local/src/realtime/hub.ts';

const { values } = parseArgs({
  options: { sockets: { type: 'string' }, rounds: { type: 'string' }, reader: { type: 'boolean' } },
});

if (values.reader) {
  // the reading side: opens the sockets it is told to and drops what it reads
  const sockets: WebSocket[] = [];
  process.on('message', async (m: { url: string; n: number }) => {
    for (let i = 0; i < m.n; i++) {
      const ws = new WebSocket(m.url);
      ws.on('message', () => {});
      await new Promise((resolve) => ws.once('open', resolve));
      sockets.push(ws);
    }
    process.send?.('open');
  });
  process.on('disconnect', () => process.exit(0));
} else {
  const levels = (values.sockets ?? '100,1000,2000').split(',').map(Number);
  const rounds = Number(values.rounds ?? 30);
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
  const hub = new Hub();
  const subTopic = `dispatch:audience:${randomUUID()}`;
  const topic = `realtime:${subTopic}`;
  let made = 0;
  wss.on('connection', (ws) => {
    hub.add({
      conn: { vsn: '2.0.0', ws },
      topic,
      subTopic,
      joinRef: String(++made),
      isPrivate: true,
      read: { broadcast: true, presence: false },
      closed: false,
    } as unknown as Channel);
  });
  const message = (value: number) => ({
    event: 'counter',
    payload: { name: 'team_tasks', scope: randomUUID(), value, delta: 1, seq: value },
    binary: false,
    meta: { id: randomUUID() },
  });
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const reader = fork(fileURLToPath(import.meta.url), ['--reader'], { execArgv: process.execArgv });
  console.log(
    `fan-out of one counter broadcast, vsn 2.0.0 kind 4; load ${loadavg().map((l) => l.toFixed(1))}`,
  );
  console.log(
    '  sockets  per-socket encode+send  once+send (now)  encode only  send only  socket.write only  (ms, median of rounds)',
  );
  let value = 0;
  for (const n of levels) {
    reader.send({ url, n: n - made });
    await new Promise((resolve) => reader.once('message', resolve));
    const channels = hub.room(subTopic, true);
    const t = {
      old: [] as number[],
      now: [] as number[],
      encode: [] as number[],
      send: [] as number[],
      write: [] as number[],
    };
    for (let r = 0; r < rounds; r++) {
      // interleaved: the old way, the new way, then the two halves
      let start = performance.now();
      const m1 = message(++value);
      for (const ch of channels) {
        const f = encodeBroadcast(ch.conn.vsn, { ...m1, topic: ch.topic });
        if (f) ch.conn.ws.send(f.data, { binary: f.binary });
      }
      t.old.push(performance.now() - start);
      await new Promise((resolve) => setTimeout(resolve, 50));
      start = performance.now();
      hub.broadcast(subTopic, true, message(++value));
      t.now.push(performance.now() - start);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const m2 = message(++value);
      start = performance.now();
      for (const ch of channels) encodeBroadcast(ch.conn.vsn, { ...m2, topic: ch.topic });
      t.encode.push(performance.now() - start);
      const f = encodeBroadcast('2.0.0', { ...m2, topic });
      start = performance.now();
      for (const ch of channels) if (f) ch.conn.ws.send(f.data, { binary: true });
      t.send.push(performance.now() - start);
      await new Promise((resolve) => setTimeout(resolve, 50));
      // the same bytes, framed once, written straight to each TCP socket (what ws.send costs above a write)
      const body = f?.data ?? Buffer.alloc(0);
      const head =
        body.length < 126
          ? Buffer.from([0x82, body.length])
          : Buffer.from([0x82, 126, body.length >> 8, body.length & 255]);
      const framed = Buffer.concat([head, body]);
      start = performance.now();
      for (const ch of channels)
        (ch.conn.ws as unknown as { _socket: { write(b: Buffer): void } })._socket.write(framed);
      t.write.push(performance.now() - start);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    console.log(
      `  ${String(n).padStart(7)}  ${median(t.old).toFixed(2).padStart(22)}  ${median(t.now).toFixed(2).padStart(15)}  ${median(t.encode).toFixed(2).padStart(11)}  ${median(t.send).toFixed(2).padStart(9)}  ${median(t.write).toFixed(2).padStart(16)}`,
    );
  }
  reader.kill();
  wss.close();
  process.exit(0);
}
