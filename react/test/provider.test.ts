/**
 * `<DispatchProvider>` hands the client core to `useDispatchClient()`, bound to the provider's
 * supabase client; rendered on the server (react-dom/server), which also shows it needs no DOM:
 * the hooks and components render from the store's state, and nothing starts (effects do not run).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import { createElement, type ReactElement } from 'react';
import { renderToString } from 'react-dom/server';
import type { DispatchClient, RpcClient } from 'supadispatch/client';
import WebSocket from 'ws';
import { DispatchProvider, Inbox, NotificationBell, useCounter, useDispatchClient } from '../src/index.ts';
import { liveDouble, notification } from './support/live-double.ts';

function fakeSupabase() {
  const calls: [string, Record<string, unknown> | undefined][] = [];
  const supabase: RpcClient = {
    rpc(fn, args) {
      calls.push([fn, args]);
      return Promise.resolve({ data: 1, error: null, status: 200 });
    },
  };
  return { supabase, calls };
}

let seen: DispatchClient | null = null;
function Probe() {
  seen = useDispatchClient();
  return null;
}

/** Renders `useDispatchClient()` under the element `wrap` makes; returns what the hook gave. */
function renderHook(wrap: (child: ReactElement) => ReactElement): DispatchClient {
  seen = null;
  renderToString(wrap(createElement(Probe)));
  assert.ok(seen, 'the probe rendered');
  return seen;
}

describe('@supadispatch/react: DispatchProvider', () => {
  it('provides the client core bound to its supabase client', async () => {
    const { supabase, calls } = fakeSupabase();
    const queryClient = { invalidateQueries: () => undefined };
    const client = renderHook((child) => createElement(DispatchProvider, { supabase, queryClient }, child));
    assert.equal(client.supabase, supabase);
    assert.equal(client.queryClient, queryClient);
    assert.deepEqual(client.queries.notifications({ maxRows: 5 }).queryKey, [
      'dispatch',
      'notifications',
      { maxRows: 5 },
    ]);
    assert.deepEqual(await client.rpc.markRead(['n1']), { data: 1, error: null });
    assert.equal(
      await client.mutations.setPreference().mutationFn({ category: 'orders', enabled: false }),
      1,
    );
    assert.deepEqual(calls, [
      ['dispatch_mark_read', { ids: ['n1'] }],
      ['dispatch_set_preference', { event_id: null, transport: null, enabled: false, category: 'orders' }],
    ]);
  });

  it('useDispatchClient outside a provider says so', () => {
    assert.throws(
      () => renderHook((child) => child),
      /useDispatchClient: no <DispatchProvider> above this component/,
    );
  });

  it('takes a supabase-js client as it comes', () => {
    const supabase = createClient('http://127.0.0.1:1', 'anon-key', {
      auth: { persistSession: false },
      realtime: { transport: WebSocket as never },
    });
    const client = renderHook((child) => createElement(DispatchProvider, { supabase }, child));
    assert.equal(client.supabase, supabase);
  });

  it('renders the hooks and components on the server without starting the client', () => {
    const double = liveDouble({
      status: 'live',
      counters: { unread_notifications: { value: 4, seq: 2 }, open_tasks: { value: 7, seq: 1 } },
      notifications: [notification('n1', { title: 'Hello', actionUrl: '/tasks/1' })],
    });
    const html = renderToString(
      createElement(
        DispatchProvider,
        { client: double.client },
        createElement(Count),
        createElement(NotificationBell),
        createElement(Inbox),
      ),
    );
    assert.match(html, /<output>7<\/output>/);
    assert.match(html, /aria-label="Notifications, 4 unread"/);
    assert.match(html, /<a class="sd-inbox__open" href="\/tasks\/1"/);
    assert.deepEqual(double.calls, [], 'no start on the server');
  });
});

function Count() {
  return createElement('output', null, useCounter('open_tasks'));
}
