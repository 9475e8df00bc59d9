import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { SupabaseClient } from '@supabase/supabase-js';
import pg from 'pg';
import { createRealtimeService } from '../../src/realtime/index.ts';
import {
  adminDbUrlOrNull,
  missingAdminDbMessage,
  startTestStack,
  type TestStack,
} from '../support/test-stack.ts';
import { client, sleep, subscribe, type Vsn, waitFor, withTimeout } from './helpers.ts';

/**
 * The Realtime stand-in driven by the official supabase-js / realtime-js, unmodified.
 * Needs the stack database (SUPABASE_ADMIN_DB_URL); skipped, saying so, without it.
 */

const skip = adminDbUrlOrNull() ? false : missingAdminDbMessage;
const run = randomUUID().slice(0, 8);
const userA = randomUUID();
const userB = randomUUID();
const table = `rt_todos_${run}`;

let stack: TestStack;
let admin: pg.Pool;
const clients: SupabaseClient[] = [];

function track(c: SupabaseClient): SupabaseClient {
  clients.push(c);
  return c;
}

describe('realtime stand-in', { skip }, () => {
  before(async () => {
    const service = createRealtimeService();
    stack = await startTestStack({ services: [service] });
    await service.ready();
    admin = new pg.Pool({ connectionString: stack.adminDbUrl, max: 4 });
    // Private topics `rttest:user:<uid>` readable and writable by that user only.
    await admin.query(`
      drop policy if exists "rttest user topic read" on realtime.messages;
      drop policy if exists "rttest user topic write" on realtime.messages;
      create policy "rttest user topic read" on realtime.messages for select to authenticated
        using (realtime.topic() = 'rttest:user:' || (select auth.uid())::text);
      create policy "rttest user topic write" on realtime.messages for insert to authenticated
        with check (realtime.topic() = 'rttest:user:' || (select auth.uid())::text);
      create table public.${table} (id bigserial primary key, owner uuid not null, title text, n int);
      alter table public.${table} enable row level security;
      create policy owner_reads on public.${table} for select to authenticated using (owner = (select auth.uid()));
      grant select on public.${table} to authenticated, anon;
      alter publication supabase_realtime add table public.${table};
    `);
  });

  after(async () => {
    for (const c of clients) await c.removeAllChannels().catch(() => {});
    await admin?.query(`drop table if exists public.${table}`).catch(() => {});
    await admin?.end();
    await stack?.stop();
  });

  for (const vsn of ['1.0.0', '2.0.0'] as Vsn[]) {
    describe(`vsn ${vsn}`, () => {
      test('joins a public channel and gets client broadcasts with self and ack', async () => {
        const topic = `rttest-public-${vsn}-${run}`;
        const a = track(await client(stack.url, stack.anonKey, { vsn }));
        const b = track(await client(stack.url, stack.anonKey, { vsn }));
        const seenA: unknown[] = [];
        const seenB: unknown[] = [];
        const chA = a
          .channel(topic, { config: { broadcast: { self: true, ack: true } } })
          .on('broadcast', { event: 'ping' }, (m) => seenA.push(m.payload));
        const chB = b.channel(topic).on('broadcast', { event: '*' }, (m) => seenB.push(m.payload));
        await subscribe(chA);
        await subscribe(chB);
        assert.equal(await chA.send({ type: 'broadcast', event: 'ping', payload: { n: 1 } }), 'ok');
        await waitFor(() => seenA.length === 1 && seenB.length === 1, 5000, 'broadcast on both');
        assert.deepEqual(seenA, [{ n: 1 }]);
        assert.deepEqual(seenB, [{ n: 1 }]);
        // Without self, the sender does not get its own message.
        assert.equal(await chB.send({ type: 'broadcast', event: 'ping', payload: { n: 2 } }), 'ok');
        await waitFor(() => seenA.length === 2, 5000, 'broadcast from b');
        await sleep(100);
        assert.equal(seenB.length, 1);
      });

      test('private channel: the owner receives realtime.send rows, another user is refused', async () => {
        const topic = `rttest:user:${userA}`;
        const a = track(await client(stack.url, stack.anonKey, { vsn, token: stack.signUserToken(userA) }));
        const got: { event: string; payload: Record<string, unknown>; meta?: { id: string } }[] = [];
        const channel = a
          .channel(topic, { config: { private: true } })
          .on('broadcast', { event: '*' }, (m) => got.push(m as never));
        await subscribe(channel);
        await admin.query(`select realtime.send('{"hello":"world"}'::jsonb, 'greeting', $1, true)`, [topic]);
        await waitFor(() => got.length === 1, 5000, 'the realtime.send row');
        assert.equal(got[0].event, 'greeting');
        assert.equal(got[0].payload.hello, 'world');
        assert.equal(typeof got[0].payload.id, 'string');
        if (vsn === '2.0.0') assert.deepEqual(got[0].meta, { id: got[0].payload.id });

        const b = track(await client(stack.url, stack.anonKey, { vsn, token: stack.signUserToken(userB) }));
        const refused = b.channel(topic, { config: { private: true } });
        await assert.rejects(
          subscribe(refused),
          new RegExp(`Unauthorized: You do not have permissions to read from this Channel topic: ${topic}`),
        );
        await b.removeChannel(refused);
      });
    });
  }

  test('database broadcasts arrive once each, in commit order, never from rolled-back transactions', async () => {
    const topic = `rttest-order-${run}`;
    const c = track(await client(stack.url, stack.anonKey));
    const got: number[] = [];
    const channel = c
      .channel(topic)
      .on('broadcast', { event: 'seq' }, (m) => got.push(m.payload.i as number));
    await subscribe(channel);
    const expected: number[] = [];
    const conn = await admin.connect();
    try {
      for (let i = 0; i < 60; i++) {
        await conn.query('begin');
        await conn.query(`select realtime.send(jsonb_build_object('i', $1::int), 'seq', $2, false)`, [
          i,
          topic,
        ]);
        if (i % 3 === 0) {
          // Two rows in one transaction keep their order.
          await conn.query(`select realtime.send(jsonb_build_object('i', $1::int), 'seq', $2, false)`, [
            i + 1000,
            topic,
          ]);
        }
        if (i % 5 === 4) {
          await conn.query('rollback');
        } else {
          await conn.query('commit');
          expected.push(i);
          if (i % 3 === 0) expected.push(i + 1000);
        }
      }
      // A savepoint rolled back inside a committed transaction is not delivered either.
      await conn.query('begin');
      await conn.query('savepoint s');
      await conn.query(`select realtime.send('{"i":-1}'::jsonb, 'seq', $1, false)`, [topic]);
      await conn.query('rollback to savepoint s');
      await conn.query(`select realtime.send('{"i":9999}'::jsonb, 'seq', $1, false)`, [topic]);
      await conn.query('commit');
      expected.push(9999);
    } finally {
      conn.release();
    }
    await waitFor(() => got.length >= expected.length, 10_000, 'all committed sends');
    await sleep(100);
    assert.deepEqual(got, expected);
  });

  test('private rows do not reach public subscribers of the same topic, and vice versa', async () => {
    const topic = `rttest:user:${userA}`;
    const pub = track(await client(stack.url, stack.anonKey));
    const got: unknown[] = [];
    await subscribe(pub.channel(topic).on('broadcast', { event: '*' }, (m) => got.push(m.payload)));
    await admin.query(`select realtime.send('{"secret":true}'::jsonb, 'x', $1, true)`, [topic]);
    await admin.query(`select realtime.send('{"public":true}'::jsonb, 'x', $1, false)`, [topic]);
    await waitFor(() => got.length >= 1, 5000, 'the public row');
    await sleep(100);
    assert.equal(got.length, 1);
    assert.equal((got[0] as { public?: boolean }).public, true);
  });

  test('REST broadcast: batch endpoint (send before join) and httpSend', async () => {
    const topic = `rttest-rest-${run}`;
    const listener = track(await client(stack.url, stack.anonKey));
    const got: { event: string; payload: unknown }[] = [];
    await subscribe(listener.channel(topic).on('broadcast', { event: '*' }, (m) => got.push(m as never)));

    const sender = track(await client(stack.url, stack.anonKey));
    const unjoined = sender.channel(topic);
    const originalWarn = console.warn;
    console.warn = () => {};
    try {
      assert.equal(
        await unjoined.send({ type: 'broadcast', event: 'batch', payload: { via: 'batch' } }),
        'ok',
      );
    } finally {
      console.warn = originalWarn;
    }
    assert.deepEqual(await unjoined.httpSend('single', { via: 'httpSend' }), { success: true });

    const raw = await fetch(`${stack.url}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: { apikey: stack.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ topic, event: 'raw', payload: { via: 'fetch' } }] }),
    });
    assert.equal(raw.status, 202);
    const bad = await fetch(`${stack.url}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: {
        apikey: stack.anonKey,
        authorization: 'Bearer not-a-jwt',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ messages: [{ topic, event: 'raw', payload: {} }] }),
    });
    assert.equal(bad.status, 401);
    const invalid = await fetch(`${stack.url}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: { apikey: stack.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ topic, event: 'raw', payload: 'not an object' }] }),
    });
    assert.equal(invalid.status, 422);

    await waitFor(() => got.length === 3, 5000, 'three REST broadcasts');
    assert.deepEqual(
      got.map((m) => [m.event, m.payload]),
      [
        ['batch', { via: 'batch' }],
        ['single', { via: 'httpSend' }],
        ['raw', { via: 'fetch' }],
      ],
    );
  });

  test('private REST broadcast needs the INSERT policy', async () => {
    const topic = `rttest:user:${userA}`;
    const owner = track(await client(stack.url, stack.anonKey, { token: stack.signUserToken(userA) }));
    const got: unknown[] = [];
    await subscribe(
      owner
        .channel(topic, { config: { private: true } })
        .on('broadcast', { event: '*' }, (m) => got.push(m.payload)),
    );
    const post = (token: string, n: number) =>
      fetch(`${stack.url}/realtime/v1/api/broadcast`, {
        method: 'POST',
        headers: {
          apikey: stack.anonKey,
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ messages: [{ topic, event: 'p', payload: { n }, private: true }] }),
      });
    assert.equal((await post(stack.signUserToken(userB), 1)).status, 202); // skipped: no permission
    assert.equal((await post(stack.signUserToken(userA), 2)).status, 202);
    await waitFor(() => got.length >= 1, 5000, 'the permitted message');
    await sleep(100);
    assert.deepEqual(got, [{ n: 2 }]);
  });

  test('presence: state after join, diffs on track and untrack', async () => {
    const topic = `rttest-presence-${run}`;
    const a = track(await client(stack.url, stack.anonKey));
    const b = track(await client(stack.url, stack.anonKey));
    const chA = a.channel(topic, { config: { presence: { key: 'alice' } } });
    const chB = b.channel(topic, { config: { presence: { key: 'bob' } } });
    let syncs = 0;
    chA.on('presence', { event: 'sync' }, () => syncs++);
    chB.on('presence', { event: 'sync' }, () => {});
    await subscribe(chA);
    assert.equal(await chA.track({ status: 'online' }), 'ok');
    await subscribe(chB);
    assert.equal(await chB.track({ status: 'away' }), 'ok');
    await waitFor(() => Object.keys(chA.presenceState()).length === 2, 5000, 'both presences at a');
    await waitFor(() => Object.keys(chB.presenceState()).length === 2, 5000, 'both presences at b');
    assert.equal((chA.presenceState().bob[0] as { status?: string }).status, 'away');
    assert.equal((chB.presenceState().alice[0] as { status?: string }).status, 'online');
    assert.ok(syncs > 0);
    assert.equal(await chB.untrack(), 'ok');
    await waitFor(() => !('bob' in chA.presenceState()), 5000, 'bob leaving');
    await b.removeChannel(chB);
    await chB.unsubscribe();
  });

  test('postgres_changes: filter, RLS per subscriber, UPDATE and DELETE', async () => {
    const a = track(await client(stack.url, stack.anonKey, { token: stack.signUserToken(userA) }));
    type Change = { eventType: string; new: Record<string, unknown>; old: Record<string, unknown> };
    const filtered: Change[] = [];
    const inList: Change[] = [];
    const deletes: Change[] = [];
    let ready = 0;
    const channel = a
      .channel(`rttest-changes-${run}`)
      .on('postgres_changes', { event: '*', schema: 'public', table, filter: 'n=gt.5' }, (p) =>
        filtered.push(p as never),
      )
      .on(
        'postgres_changes',
        { event: 'INSERT', schema: 'public', table, filter: 'title=in.(x,"y,z")' },
        (p) => inList.push(p as never),
      )
      .on('postgres_changes', { event: 'DELETE', schema: 'public', table }, (p) => deletes.push(p as never))
      .on('system', {}, (p: { extension: string; status: string }) => {
        if (p.extension === 'postgres_changes' && p.status === 'ok') ready++;
      });
    await subscribe(channel);
    await waitFor(() => ready > 0, 10_000, '"Subscribed to PostgreSQL"');

    await admin.query(`insert into public.${table} (owner, title, n) values ($1, 'a', 3)`, [userA]); // n too small
    await admin.query(`insert into public.${table} (owner, title, n) values ($1, 'b', 11)`, [userB]); // RLS hides
    await admin.query(`insert into public.${table} (owner, title, n) values ($1, 'y,z', 10)`, [userA]); // both
    const rolledBack = await admin.connect();
    await rolledBack.query('begin');
    await rolledBack.query(`insert into public.${table} (owner, title, n) values ($1, 'x', 99)`, [userA]);
    await rolledBack.query('rollback');
    rolledBack.release();
    // RLS is checked by selecting the row as the subscriber after commit (as Supabase's walrus
    // does), so let each change arrive before the row changes again.
    await waitFor(() => filtered.length >= 1 && inList.length >= 1, 10_000, 'the insert');
    await admin.query(`update public.${table} set n = 12 where title = 'y,z'`);
    await waitFor(() => filtered.length >= 2, 10_000, 'the update');
    await admin.query(`delete from public.${table} where title = 'y,z'`);
    await waitFor(() => deletes.length >= 1, 10_000, 'the delete');

    await sleep(150);
    // As on Supabase, a DELETE carries only the primary key (RLS on), so a filter on another
    // column does not match it; the unfiltered DELETE binding gets it.
    assert.deepEqual(
      filtered.map((c) => c.eventType),
      ['INSERT', 'UPDATE'],
    );
    assert.equal(deletes.length, 1);
    assert.deepEqual(Object.keys(deletes[0].old), ['id']);
    assert.equal(filtered[0].new.title, 'y,z');
    assert.equal(filtered[0].new.n, 10);
    assert.equal(filtered[1].new.n, 12);
    assert.equal(typeof filtered[1].old.id, 'number');
    assert.equal(inList.length, 1);
    assert.equal(inList[0].new.owner, userA);
  });

  test('postgres_changes on a table outside the publication gets a system error', async () => {
    const c = track(await client(stack.url, stack.anonKey));
    const errors: string[] = [];
    const channel = c
      .channel(`rttest-nopub-${run}`)
      .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'no_such_table' }, () => {})
      .on('system', {}, (p: { status: string; message: string }) => {
        if (p.status === 'error') errors.push(p.message);
      });
    await subscribe(channel);
    await waitFor(() => errors.length > 0, 10_000, 'a system error');
    assert.match(errors[0], /Unable to subscribe to changes/);
  });

  test('tokens: expired at join is refused; expiry closes a joined channel', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = track(
      await client(stack.url, stack.anonKey, { token: stack.signUserToken(userA, { exp: now - 10 }) }),
    );
    const refused = expired.channel(`rttest-exp-${run}`);
    await assert.rejects(subscribe(refused), /InvalidJWTToken: Token has expired \d+ seconds ago/);
    await expired.removeChannel(refused);

    const bad = track(await client(stack.url, stack.anonKey, { token: 'not.a.jwt' }));
    const malformed = bad.channel(`rttest-bad-${run}`);
    await assert.rejects(subscribe(malformed), /MalformedJWT|JwtSignatureError/);
    await bad.removeChannel(malformed);

    const soon = track(
      await client(stack.url, stack.anonKey, {
        token: stack.signUserToken(userA, { exp: Math.floor(Date.now() / 1000) + 2 }),
      }),
    );
    const statuses: string[] = [];
    const systems: string[] = [];
    const channel = soon.channel(`rttest-soon-${run}`).on('system', {}, (p: { message: string }) => {
      systems.push(p.message);
    });
    await withTimeout(
      new Promise<void>((resolve) => {
        channel.subscribe((status) => {
          statuses.push(status);
          if (status === 'SUBSCRIBED') resolve();
        });
      }),
      10_000,
      'join',
    );
    await waitFor(() => statuses.includes('CLOSED'), 10_000, 'the channel closing at expiry');
    assert.ok(systems.some((m) => /Token has expired/.test(m)));
  });

  test('access_token refresh: a revoked read on a private channel closes it', async () => {
    const topic = `rttest:user:${userA}`;
    const c = track(await client(stack.url, stack.anonKey, { token: stack.signUserToken(userA) }));
    const statuses: string[] = [];
    const channel = c.channel(topic, { config: { private: true } });
    await withTimeout(
      new Promise<void>((resolve) => {
        channel.subscribe((status) => {
          statuses.push(status);
          if (status === 'SUBSCRIBED') resolve();
        });
      }),
      10_000,
      'join',
    );
    // Same user, new token: still allowed.
    await c.realtime.setAuth(stack.signUserToken(userA, { session_id: randomUUID() }));
    await sleep(200);
    assert.deepEqual(statuses, ['SUBSCRIBED']);
    // Another user's token on this topic: read is re-checked and refused.
    await c.realtime.setAuth(stack.signUserToken(userB));
    await waitFor(() => statuses.includes('CLOSED'), 5000, 'the channel closing');
  });

  test('raw protocol: heartbeat, unmatched topic, phx_leave, binary frames', async () => {
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(
      `${stack.url.replace('http', 'ws')}/realtime/v1/websocket?apikey=${stack.anonKey}&vsn=2.0.0`,
    );
    const frames: unknown[] = [];
    ws.on('message', (data, isBinary) =>
      frames.push(isBinary ? Buffer.from(data as Buffer) : JSON.parse(String(data))),
    );
    await withTimeout(new Promise((r) => ws.once('open', r)), 5000, 'open');
    const next = async (pred: (f: unknown) => boolean, what: string) => {
      await waitFor(() => frames.some(pred), 5000, what);
      const i = frames.findIndex(pred);
      return frames.splice(i, 1)[0];
    };
    ws.send(JSON.stringify([null, '1', 'phoenix', 'heartbeat', {}]));
    assert.deepEqual(await next((f) => Array.isArray(f) && f[1] === '1', 'heartbeat reply'), [
      null,
      '1',
      'phoenix',
      'phx_reply',
      { status: 'ok', response: {} },
    ]);
    ws.send(
      JSON.stringify([
        null,
        '2',
        'realtime:nope',
        'broadcast',
        { type: 'broadcast', event: 'e', payload: {} },
      ]),
    );
    assert.deepEqual(await next((f) => Array.isArray(f) && f[1] === '2', 'unmatched reply'), [
      null,
      '2',
      'realtime:nope',
      'phx_reply',
      { status: 'error', response: { reason: 'unmatched topic' } },
    ]);
    const topic = `realtime:rttest-raw-${run}`;
    ws.send(
      JSON.stringify([
        '3',
        '3',
        topic,
        'phx_join',
        {
          config: {
            broadcast: { self: true, ack: true },
            presence: { enabled: false },
            postgres_changes: [],
          },
        },
      ]),
    );
    assert.deepEqual(await next((f) => Array.isArray(f) && f[1] === '3', 'join reply'), [
      '3',
      '3',
      topic,
      'phx_reply',
      { status: 'ok', response: { postgres_changes: [] } },
    ]);
    // Kind 3 in (JSON payload), kind 4 out.
    const enc = (s: string) => Buffer.from(s, 'utf8');
    const [jr, ref, tp, ev] = [enc('3'), enc('4'), enc(topic), enc('evt')];
    const body = enc(JSON.stringify({ a: 1 }));
    ws.send(
      Buffer.concat([
        Buffer.from([3, jr.length, ref.length, tp.length, ev.length, 0, 1]),
        jr,
        ref,
        tp,
        ev,
        body,
      ]),
    );
    const kind4 = (await next((f) => Buffer.isBuffer(f), 'kind 4 frame')) as Buffer;
    assert.equal(kind4[0], 4);
    assert.equal(kind4.subarray(5, 5 + kind4[1]).toString(), topic);
    assert.equal(kind4.subarray(5 + kind4[1], 5 + kind4[1] + kind4[2]).toString(), 'evt');
    assert.deepEqual(JSON.parse(kind4.subarray(5 + kind4[1] + kind4[2] + kind4[3]).toString()), { a: 1 });
    assert.deepEqual(await next((f) => Array.isArray(f) && f[1] === '4', 'ack'), [
      '3',
      '4',
      topic,
      'phx_reply',
      { status: 'ok', response: {} },
    ]);
    ws.send(JSON.stringify(['3', '5', topic, 'phx_leave', {}]));
    assert.deepEqual(await next((f) => Array.isArray(f) && f[1] === '5', 'leave reply'), [
      '3',
      '5',
      topic,
      'phx_reply',
      { status: 'ok', response: {} },
    ]);
    assert.deepEqual(await next((f) => Array.isArray(f) && f[3] === 'phx_close', 'phx_close'), [
      '3',
      '3',
      topic,
      'phx_close',
      {},
    ]);
    ws.close();
    const refused = await fetch(`${stack.url}/realtime/v1/websocket?apikey=bogus&vsn=2.0.0`, {
      headers: {
        connection: 'upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    }).catch((e: Error) => e);
    assert.ok(refused instanceof Error || refused.status >= 400);
  });
});
