/**
 * Who may join what on Realtime, with realtime-js through supabase-js: the victim's private topic
 * `dispatch:user:<victim>` and the admin audience topic `dispatch:audience:admin`, tried by anon
 * and by another signed-in user (private join refused); a public channel of the same name gets
 * none of the private broadcasts; a broadcast sent by the attacker on that name never reaches the
 * victim's private channel. The victim and the admin join their own topics (not vacuous).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SupabaseClient } from '@supabase/supabase-js';
import { sleep, subscribe, waitFor } from '../../local/test/support/conformance.ts';
import { missingTargetMessage, testTarget } from '../../local/test/support/env.ts';
import { broadcastMessages } from '../../sdk/src/client/index.ts';
import { type Cast, createCast } from './cast.ts';
import { Scoreboard } from './support.ts';

const target = testTarget();
const board = new Scoreboard('realtime-topics');

describe('Realtime topics: private dispatch channels', { skip: !target && missingTargetMessage }, () => {
  let cast: Cast;
  before(async () => {
    cast = await createCast(target!);
  });
  after(async () => {
    await cast?.cleanup();
    board.write();
  });

  // A refused channel is removed at once: realtime-js would keep rejoining it, and hands the same
  // channel object back for a later channel() of that topic.
  const join = async (client: SupabaseClient, topic: string, isPrivate = true) => {
    const channel = client.channel(topic, { config: { private: isPrivate } });
    try {
      await subscribe(channel);
    } catch (error) {
      await client.removeChannel(channel);
      throw error;
    }
  };

  test("anon and another user cannot join the victim's topic or the admin audience topic", async () => {
    const topics = [
      `dispatch:user:${cast.victim.id}`,
      'dispatch:audience:admin',
      `dispatch:user:${cast.admin.id}`,
    ];
    for (const [who, client] of [
      ['anon', cast.anon],
      ['mallory', cast.mallory.client],
    ] as const) {
      for (const topic of topics) {
        await board.attack(`${who} joins ${topic.replace(/[0-9a-f-]{36}/, '<uuid>')}`, () =>
          assert.rejects(join(client, topic), /CHANNEL_ERROR/, `${who} joined ${topic}`),
        );
      }
      for (const variant of [
        `dispatch:user:${cast.victim.id.toUpperCase()}`,
        `dispatch:user:${cast.victim.id.replaceAll('-', '')}`,
        `dispatch:user:${cast.victim.id} `,
        'dispatch:audience:%',
        'dispatch:%',
        'dispatch:audience:',
      ]) {
        await board.attack(
          `${who} joins a look-alike topic "${variant.replace(/[0-9a-fA-F-]{32,36}/, '<uuid>')}"`,
          () => assert.rejects(join(client, variant), /CHANNEL_ERROR/, `${who} joined ${variant}`),
        );
      }
    }
  });

  test("a public channel named like the victim's topic gets none of the victim's broadcasts; the attacker's broadcasts never reach the victim", async () => {
    const topic = `dispatch:user:${cast.victim.id}`;
    const victimGot: { event: string; payload: unknown }[] = [];
    const victimChannel = cast.victim.client
      .channel(topic, { config: { private: true } })
      .on('broadcast', { event: '*' }, (m) => victimGot.push(...broadcastMessages(m.event, m.payload)));
    await subscribe(victimChannel);
    const malloryGot: unknown[] = [];
    const spy = cast.mallory.client
      .channel(topic, { config: { private: false, broadcast: { self: false } } })
      .on('broadcast', { event: '*' }, (m) => malloryGot.push(m));
    await subscribe(spy); // a public channel is joinable by design; what matters is what it carries

    await cast.db.query('select dispatch.notify($1, $2, $3, $4)', [
      cast.victim.id,
      cast.eventId,
      `${cast.victimMarker} live`,
      'live',
    ]);
    await waitFor(() => victimGot.some((m) => m.event === 'notification'), 10_000, 'the victim notification');
    const forged = await spy.send({
      type: 'broadcast',
      event: 'notification',
      payload: { id: 'forged', title: 'pwned' },
    });
    // bounded wait for anything that would leak either way
    await sleep(1500);
    await board.attack('mallory listens on a public channel with the victim topic name', () =>
      assert.deepEqual(malloryGot, [], JSON.stringify(malloryGot).slice(0, 300)),
    );
    await board.attack("mallory's broadcast reaches the victim's private channel", () => {
      assert.ok(
        !victimGot.some((m) => JSON.stringify(m.payload).includes('pwned')),
        `send answered ${forged}; the victim got ${JSON.stringify(victimGot)}`,
      );
    });
    await cast.victim.client.removeChannel(victimChannel);
    await cast.mallory.client.removeChannel(spy);
  });

  test('nobody but the database may insert into realtime.messages on dispatch topics', async () => {
    // The REST path is closed (realtime is not an exposed schema); the policy also holds in SQL.
    const { rows } = await cast.db.query<{ qual: string }>(
      `select with_check as qual from pg_policies
        where schemaname = 'realtime' and tablename = 'messages' and policyname = 'dispatch_send_guard'
          and permissive = 'RESTRICTIVE' and cmd = 'INSERT'`,
    );
    await board.attack('no restrictive send guard on realtime.messages', () => {
      assert.equal(rows.length, 1);
      assert.match(rows[0].qual, /dispatch:%/);
    });
  });

  test('the victim and the admin join their own topics (the refusals are about who)', async () => {
    await join(cast.victim.client, `dispatch:user:${cast.victim.id}`);
    await join(cast.admin.client, 'dispatch:audience:admin');
    await join(cast.admin.client, `dispatch:user:${cast.admin.id}`);
  });
});
