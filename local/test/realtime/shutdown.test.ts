/**
 * `local stop` with a Realtime client connected (issue 22, item 12): the service closes each socket
 * with 1001 and destroys the ones whose peer does not answer the close frame, instead of leaving them
 * to ws's 30 s close timeout (which kept `local stop` waiting ~33 s). The peer here is a raw socket
 * that upgrades and then never answers anything.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { createRealtimeService } from '../../src/realtime/index.ts';
import { adminDbUrlOrNull, missingAdminDbMessage, startTestStack } from '../support/test-stack.ts';
import { withTimeout } from './helpers.ts';

function rawUpgrade(url: string, apikey: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(target.port), target.hostname);
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    let head = '';
    socket.once('error', reject);
    socket.on('data', function onData(chunk) {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      if (!head.startsWith('HTTP/1.1 101')) reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
      else resolve({ socket, closed });
    });
    socket.write(
      [
        `GET /realtime/v1/websocket?apikey=${encodeURIComponent(apikey)}&vsn=2.0.0 HTTP/1.1`,
        `Host: ${target.host}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
        '',
        '',
      ].join('\r\n'),
    );
  });
}

test('stopping Realtime closes a socket whose client never answers the close frame', async (t) => {
  if (!adminDbUrlOrNull()) return t.skip(missingAdminDbMessage);
  const service = createRealtimeService();
  const stack = await startTestStack({ services: [service] });
  let peer: Socket | undefined;
  try {
    await service.ready();
    const { socket, closed } = await rawUpgrade(stack.url, stack.anonKey);
    peer = socket;
    socket.resume(); // reads the close frame, answers nothing
    await service.stop();
    // Bounded well below ws's 30 s close timeout: the server destroyed the socket itself.
    await withTimeout(closed, 10_000, 'the server to close the unresponsive socket');
    assert.equal(socket.destroyed, true);
  } finally {
    peer?.destroy();
    await stack.stop();
  }
});
