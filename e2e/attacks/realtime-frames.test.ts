/**
 * Malformed Realtime frames, property-based (fast-check), on a raw WebSocket to the Realtime
 * endpoint with mallory's token (the protocol realtime-js speaks, vsn 2.0.0 array frames): random
 * JSON, wrong shapes and types, joins with hostile configs, broadcasts and presence on the victim's
 * topic without a join, a 1 MB frame. After each frame the server still answers a heartbeat on the
 * same socket (or closed it cleanly, and a new socket is served); the victim, subscribed to their
 * private topic with supabase-js, receives nothing from mallory; realtime.messages gets no row on
 * a dispatch topic.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import WebSocket from 'ws';
import { subscribe } from '../../local/test/support/conformance.ts';
import { missingTargetMessage, testTarget } from '../../local/test/support/env.ts';
import { type Cast, createCast } from './cast.ts';
import { Scoreboard } from './support.ts';

const target = testTarget();
const board = new Scoreboard('realtime-frames');
const RUNS = Number(process.env.SUPADISPATCH_ATTACK_RUNS ?? 12) * 4;

/** One socket with a heartbeat check: resolves true when `phoenix` answers within 5 s. */
class RawSocket {
  private ref = 0;
  private readonly replies = new Map<string, () => void>();
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.ws.on('error', () => {});
    this.ws.on('message', (data) => {
      try {
        const frame = JSON.parse(String(data));
        const ref = Array.isArray(frame) ? frame[1] : frame?.ref;
        this.replies.get(String(ref))?.();
      } catch {}
    });
  }
  send(text: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
  }
  heartbeat(): Promise<boolean> {
    if (this.ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
    const ref = `hb${++this.ref}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), 5000);
      this.replies.set(ref, () => {
        clearTimeout(timer);
        resolve(true);
      });
      this.ws.send(JSON.stringify([null, ref, 'phoenix', 'heartbeat', {}]));
    });
  }
  close(): void {
    this.ws.terminate();
  }
}

describe('malformed Realtime frames (fast-check, raw WebSocket)', {
  skip: !target && missingTargetMessage,
}, () => {
  let cast: Cast;
  before(async () => {
    cast = await createCast(target!);
  });
  after(async () => {
    await cast?.cleanup();
    board.write();
  });

  test('every frame gets an error or is ignored; the server keeps serving; nothing reaches the victim', async () => {
    const topic = `dispatch:user:${cast.victim.id}`;
    const victimGot: unknown[] = [];
    const channel = cast.victim.client
      .channel(topic, { config: { private: true } })
      .on('broadcast', { event: '*' }, (m) => victimGot.push(m));
    await subscribe(channel);
    const { rows: before } = await cast.db.query<{ n: number }>(
      `select count(*)::int as n from realtime.messages where topic like 'dispatch:%'`,
    );

    const url = `${target!.url.replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${target!.anonKey}&vsn=2.0.0`;
    const token = cast.mallory.session.access_token;
    const rtTopic = `realtime:${topic}`;
    const frame = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 200 }),
      fc
        .tuple(
          fc.oneof(fc.constant(null), fc.string({ maxLength: 5 }), fc.integer()),
          fc.oneof(fc.constant(null), fc.string({ maxLength: 5 })),
          fc.oneof(
            fc.constant(rtTopic),
            fc.constant('phoenix'),
            fc.string({ maxLength: 40 }),
            fc.constant('realtime:'),
          ),
          fc.constantFrom(
            'phx_join',
            'broadcast',
            'presence',
            'access_token',
            'phx_leave',
            'heartbeat',
            'nope',
          ),
          fc.oneof(
            fc.jsonValue({ maxDepth: 3 }),
            fc.record({
              config: fc.oneof(
                fc.record({
                  private: fc.oneof(fc.boolean(), fc.string()),
                  broadcast: fc.jsonValue({ maxDepth: 1 }),
                }),
                fc.jsonValue({ maxDepth: 2 }),
              ),
              access_token: fc.oneof(
                fc.constant(token),
                fc.string({ maxLength: 40 }),
                fc.jsonValue({ maxDepth: 1 }),
              ),
            }),
            fc.record({
              type: fc.constant('broadcast'),
              event: fc.constant('notification'),
              payload: fc.constant({ title: 'pwned' }),
            }),
          ),
        )
        .map((v) => JSON.stringify(v)),
      fc.constant(
        JSON.stringify([
          null,
          '1',
          rtTopic,
          'broadcast',
          { type: 'broadcast', event: 'counter', payload: { name: 'unread_notifications', value: 999 } },
        ]),
      ),
      fc.constant(`["1","1","${rtTopic}","phx_join",{"config":{"private":true},"access_token":"${token}"}]`),
      fc.constant('x'.repeat(1024 * 1024)),
    );

    let socket = new RawSocket(url);
    await socket.opened;
    let breached = false;
    try {
      await fc.assert(
        fc.asyncProperty(frame, async (text) => {
          socket.send(text);
          if (!(await socket.heartbeat())) {
            // the server may close a socket it cannot parse (as Realtime does): a new one must work
            socket.close();
            socket = new RawSocket(url);
            await socket.opened;
            assert.ok(await socket.heartbeat(), `the server stopped serving after ${text.slice(0, 120)}`);
          }
        }),
        { numRuns: RUNS },
      );
    } catch (error) {
      breached = true;
      throw error;
    } finally {
      socket.close();
      board.count('malformed Realtime frames', RUNS, breached);
    }
    const { rows: afterRows } = await cast.db.query<{ n: number }>(
      `select count(*)::int as n from realtime.messages where topic like 'dispatch:%'`,
    );
    await board.attack('a raw frame wrote a realtime.messages row on a dispatch topic', () =>
      assert.equal(afterRows[0].n, before[0].n),
    );
    await board.attack('a raw frame from mallory reached the victim', () =>
      assert.ok(
        !JSON.stringify(victimGot).includes('pwned') && !JSON.stringify(victimGot).includes('999'),
        JSON.stringify(victimGot),
      ),
    );
    await cast.victim.client.removeChannel(channel);
  });
});
