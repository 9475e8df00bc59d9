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
import { client, subscribe, waitFor } from './helpers.ts';

/**
 * Private-channel checks run on the superuser pool; a token whose role the API may not act as
 * (not a role `authenticator` is a member of, e.g. postgres or supabase_admin) must not pass them:
 * the join fails with Realtime's Unauthorized reason and REST broadcasts to the topic are dropped.
 */

const skip = adminDbUrlOrNull() ? false : missingAdminDbMessage;
const run = randomUUID().slice(0, 8);
const topic = `rtrole:${run}`;

describe('realtime: privileged JWT roles on private channels', { skip }, () => {
  let stack: TestStack;
  let admin: pg.Pool;
  const clients: SupabaseClient[] = [];

  before(async () => {
    const service = createRealtimeService();
    stack = await startTestStack({ services: [service] });
    await service.ready();
    admin = new pg.Pool({ connectionString: stack.adminDbUrl, max: 2 });
    // Readable and writable by every role the policy names: a privileged role would pass it too.
    await admin.query(`
      drop policy if exists "rtrole read" on realtime.messages;
      drop policy if exists "rtrole write" on realtime.messages;
      create policy "rtrole read" on realtime.messages for select
        using (realtime.topic() like 'rtrole:%');
      create policy "rtrole write" on realtime.messages for insert
        with check (realtime.topic() like 'rtrole:%');
    `);
  });

  after(async () => {
    for (const c of clients) await c.removeAllChannels().catch(() => {});
    await admin
      ?.query(`drop policy if exists "rtrole read" on realtime.messages;
        drop policy if exists "rtrole write" on realtime.messages;`)
      .catch(() => {});
    await admin?.end();
    await stack?.stop();
  });

  test('an authenticated user may join (the policy allows it)', async () => {
    const c = await client(stack.url, stack.anonKey, { token: stack.signUserToken(randomUUID()) });
    clients.push(c);
    await subscribe(c.channel(topic, { config: { private: true } }));
  });

  for (const role of ['postgres', 'supabase_admin']) {
    test(`a JWT with role ${role} is refused with Unauthorized`, async () => {
      const c = await client(stack.url, stack.anonKey, {
        token: stack.signUserToken(randomUUID(), { role }),
      });
      clients.push(c);
      const channel = c.channel(topic, { config: { private: true } });
      await assert.rejects(
        subscribe(channel),
        new RegExp(`Unauthorized: You do not have permissions to read from this Channel topic: ${topic}`),
      );
      await c.removeChannel(channel);
    });

    test(`a REST broadcast with role ${role} to a private topic is dropped`, async () => {
      const c = await client(stack.url, stack.anonKey, { token: stack.signUserToken(randomUUID()) });
      clients.push(c);
      const got: string[] = [];
      const listener = c
        .channel(topic, { config: { private: true } })
        .on('broadcast', { event: '*' }, (m) => got.push(m.event as string));
      await subscribe(listener);
      const send = async (token: string, event: string) => {
        const r = await fetch(`${stack.url}/realtime/v1/api/broadcast`, {
          method: 'POST',
          headers: {
            apikey: stack.anonKey,
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ messages: [{ topic, event, payload: {}, private: true }] }),
        });
        assert.equal(r.status, 202);
        await r.arrayBuffer();
      };
      await send(stack.signUserToken(randomUUID(), { role }), 'forged');
      await send(stack.signUserToken(randomUUID()), 'allowed');
      await waitFor(() => got.includes('allowed'), 5000, 'the allowed broadcast');
      assert.deepEqual(got, ['allowed']);
      await c.removeChannel(listener);
    });
  }

  test('postgres_changes for a JWT with role postgres carries no row, only Unauthorized', async () => {
    const table = `rtrole_${run}`;
    await admin.query(`
      create table public.${table} (id bigint generated always as identity primary key, secret text);
      alter table public.${table} enable row level security; -- no policy: only BYPASSRLS roles see rows
      grant select on public.${table} to authenticated;
      alter publication supabase_realtime add table public.${table};`);
    try {
      const c = await client(stack.url, stack.anonKey, {
        token: stack.signUserToken(randomUUID(), { role: 'postgres' }),
      });
      clients.push(c);
      type Change = { new: Record<string, unknown>; errors: string[] | null };
      const changes: Change[] = [];
      let ready = 0;
      const channel = c
        .channel(`rtrole-changes-${run}`)
        .on('postgres_changes', { event: 'INSERT', schema: 'public', table }, (p) => changes.push(p as never))
        .on('system', {}, (p: { extension: string; status: string }) => {
          if (p.extension === 'postgres_changes' && p.status === 'ok') ready++;
        });
      await subscribe(channel);
      await waitFor(() => ready > 0, 10_000, '"Subscribed to PostgreSQL"');
      await admin.query(`insert into public.${table} (secret) values ('top secret')`);
      await waitFor(() => changes.length > 0, 10_000, 'the change notice');
      assert.deepEqual(changes[0].new, {});
      assert.deepEqual(changes[0].errors, ['Error 401: Unauthorized']);
      await c.removeChannel(channel);
    } finally {
      await admin.query(`alter publication supabase_realtime drop table public.${table};
        drop table public.${table};`);
    }
  });
});
