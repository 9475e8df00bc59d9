/**
 * The hooks with the REAL client core and the real supabase-js against the stack (npm test's local
 * stack, or a real Supabase): a database write moves the count a mounted hook shows, under
 * StrictMode, with one channel per topic.
 */
import './support/dom.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import type pg from 'pg';
import { StrictMode } from 'react';
import { dbPool, runId, type TestUser, Users } from '../../local/test/support/conformance.ts';
import { missingTargetMessage, type TestTarget, testTarget } from '../../local/test/support/env.ts';
import { DispatchProvider, NotificationBell, useDispatchStatus, useUnreadCount } from '../src/index.ts';

const target: TestTarget | null = testTarget();
const run = runId();

function Status() {
  return <output data-testid="status">{useDispatchStatus()}</output>;
}
function Unread() {
  return <output data-testid="unread">{useUnreadCount()}</output>;
}

describe('hooks over the live client core and the real supabase-js', {
  skip: !target && missingTargetMessage,
}, () => {
  let users: Users;
  let db: pg.Pool;
  let alice: TestUser;
  let skipReason = '';

  before(async () => {
    db = dbPool(target!);
    const [{ has }] = (
      await db.query(`select to_regprocedure('public.dispatch_initial_state()') is not null as has`)
    ).rows;
    if (!has) {
      skipReason = 'the supadispatch core is not installed on the target (public.dispatch_initial_state)';
      return;
    }
    users = new Users(target!, run);
    alice = await users.create('alice');
    await db.query(`select dispatch.notify($1, null, 'First', 'for alice')`, [alice.id]);
  });

  after(async () => {
    cleanup();
    if (users) {
      await db.query('delete from dispatch.notifications where user_id = $1', [alice.id]);
      await users.cleanup();
    }
    await db?.end();
  });

  it('a database write updates the hook; StrictMode joins each topic once', async (t) => {
    if (skipReason) {
      t.skip(skipReason);
      return;
    }
    render(
      <StrictMode>
        <DispatchProvider supabase={alice.client}>
          <Status />
          <Unread />
          <NotificationBell />
        </DispatchProvider>
      </StrictMode>,
    );
    await waitFor(() => assert.equal(screen.getByTestId('status').textContent, 'live'), { timeout: 15_000 });
    assert.equal(screen.getByTestId('unread').textContent, '1');
    const topics = alice.client.getChannels().map((c) => c.topic.replace(/^realtime:/, ''));
    assert.ok(topics.includes(`dispatch:user:${alice.id}`), topics.join(', '));
    assert.deepEqual(topics, [...new Set(topics)], 'one channel per topic under StrictMode');

    await db.query(`select dispatch.notify($1, null, 'Second', 'for alice')`, [alice.id]);
    await waitFor(() => assert.equal(screen.getByTestId('unread').textContent, '2'), { timeout: 15_000 });
    assert.ok(screen.getByRole('button', { name: 'Notifications, 2 unread' }));

    // the new notification is in the inbox; marking all read brings the count to 0 in the database too
    await act(async () => screen.getByRole('button', { name: 'Notifications, 2 unread' }).click());
    await waitFor(() => assert.ok(screen.getByText('Second')), { timeout: 15_000 });
    await act(async () => screen.getByRole('button', { name: 'Mark all read' }).click());
    // optimistic: the count shows 0 at once; the RPC commits after it
    await waitFor(() => assert.equal(screen.getByTestId('unread').textContent, '0'), { timeout: 15_000 });
    await waitFor(
      async () => {
        const { rows } = await db.query(
          'select count(*)::int as unread from dispatch.notifications where user_id = $1 and read_at is null',
          [alice.id],
        );
        assert.equal(rows[0].unread, 0);
      },
      { timeout: 15_000 },
    );
    assert.equal(screen.getByTestId('unread').textContent, '0', 'the count stays 0 once the RPC answered');
  });
});
