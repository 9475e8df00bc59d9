/**
 * The hooks rendered in a real DOM (jsdom, Testing Library) over a test double of the live client
 * core (a real vanilla zustand store): selectors re-render only what changed, the provider's
 * start/stop pairs under StrictMode, the notifications, mark-read, status and preference hooks.
 */
import './support/dom.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { QueryClient } from '@tanstack/react-query';
import { act, cleanup, render, renderHook, screen, waitFor } from '@testing-library/react';
import { type ReactNode, StrictMode } from 'react';
import {
  DispatchProvider,
  useCounter,
  useCounters,
  useDispatchClient,
  useDispatchStatus,
  useMarkAllRead,
  useMarkRead,
  useNotifications,
  usePreferences,
  useSetPreference,
  useUnreadCount,
} from '../src/index.ts';
import { dispatchError, type LiveDouble, liveDouble, notification } from './support/live-double.ts';

afterEach(cleanup);

// The double the module-level components below read (components made inside tests would remount).
let current: LiveDouble;
function Wrapper({ children }: { children?: ReactNode }) {
  return <DispatchProvider client={current.client}>{children}</DispatchProvider>;
}
/** renderHook under a provider of `double`. */
function renderWith<T>(double: LiveDouble, hook: () => T) {
  current = double;
  return renderHook(hook, { wrapper: Wrapper });
}

const renders = { a: 0, b: 0, ab: 0, unread: 0 };
function Counter({ name }: { name: 'a' | 'b' }) {
  renders[name]++;
  return <output data-testid={name}>{useCounter(name)}</output>;
}
function Both() {
  renders.ab++;
  const { a, b } = useCounters(['a', 'b']);
  return <output data-testid="ab">{`${a}/${b}`}</output>;
}
function Unread() {
  renders.unread++;
  return <output data-testid="unread">{useUnreadCount()}</output>;
}
const seenClients = new Set<unknown>();
function ClientProbe() {
  seenClients.add(useDispatchClient());
  return null;
}

describe('@supadispatch/react hooks (jsdom)', () => {
  it('a change to counter A re-renders the component showing A, not the one showing B', () => {
    const double = liveDouble({ counters: { a: { value: 1, seq: 1 }, b: { value: 10, seq: 1 } } });
    render(
      <DispatchProvider client={double.client}>
        <Counter name="a" />
        <Counter name="b" />
        <Both />
        <Unread />
      </DispatchProvider>,
    );
    assert.deepEqual(renders, { a: 1, b: 1, ab: 1, unread: 1 });
    assert.equal(screen.getByTestId('unread').textContent, '0', 'a counter the store lacks counts 0');

    act(() => double.setCounter('a', 2));
    assert.equal(screen.getByTestId('a').textContent, '2');
    assert.equal(screen.getByTestId('ab').textContent, '2/10');
    assert.deepEqual(renders, { a: 2, b: 1, ab: 2, unread: 1 });

    // another counter, and a new seq with the same value: nothing shown changes, nothing re-renders
    act(() => double.setCounter('c', 7));
    act(() => double.setCounter('b', 10));
    assert.deepEqual(renders, { a: 2, b: 1, ab: 2, unread: 1 });

    act(() => double.setCounter('unread_notifications', 3));
    assert.equal(screen.getByTestId('unread').textContent, '3');
    assert.deepEqual(renders, { a: 2, b: 1, ab: 2, unread: 2 });
  });

  it('useCounters() without names: every counter held; the same object while values stay', () => {
    const double = liveDouble({ counters: { a: { value: 1, seq: 1 } } });
    const { result } = renderWith(double, () => useCounters());
    const first = result.current;
    assert.deepEqual(first, { a: 1 });
    act(() => double.setCounter('a', 1));
    assert.equal(result.current, first, 'shallow-equal: the same object');
    act(() => double.setCounter('b', 4));
    assert.deepEqual(result.current, { a: 1, b: 4 });
  });

  it('StrictMode: start and stop pair up, one start live at a time, none left after unmount', () => {
    const double = liveDouble();
    const { unmount } = render(
      <StrictMode>
        <DispatchProvider client={double.client}>
          <p>app</p>
        </DispatchProvider>
      </StrictMode>,
    );
    const methods = () => double.calls.map((c) => c.method);
    // React's development build mounts, unmounts and mounts again under StrictMode
    assert.deepEqual(methods(), ['start', 'stop', 'start']);
    assert.deepEqual(double.live(), { now: 1, most: 1 });
    unmount();
    assert.deepEqual(methods(), ['start', 'stop', 'start', 'stop']);
    assert.deepEqual(double.live(), { now: 0, most: 1 });
  });

  it('the provider keeps its client across renders; a new client stops the old one', () => {
    const first = liveDouble();
    const second = liveDouble();
    const { rerender } = render(
      <DispatchProvider client={first.client}>
        <ClientProbe />
      </DispatchProvider>,
    );
    rerender(
      <DispatchProvider client={first.client}>
        <ClientProbe />
      </DispatchProvider>,
    );
    assert.equal(seenClients.size, 1);
    rerender(
      <DispatchProvider client={second.client}>
        <ClientProbe />
      </DispatchProvider>,
    );
    assert.equal(seenClients.size, 2);
    assert.deepEqual(first.live(), { now: 0, most: 1 });
    assert.deepEqual(second.live(), { now: 1, most: 1 });
  });

  it('useNotifications: the store newest first; fetchNextPage calls loadMore once at a time', async () => {
    const double = liveDouble({
      status: 'live',
      notifications: [notification('n2'), notification('n1')],
      hasMore: true,
    });
    const { result } = renderWith(double, () => useNotifications());
    assert.deepEqual(
      result.current.notifications.map((n) => n.id),
      ['n2', 'n1'],
    );
    assert.equal(result.current.hasMore, true);
    assert.equal(result.current.status, 'live');
    let pages: unknown[] = [];
    await act(async () => {
      pages = await Promise.all([result.current.fetchNextPage(), result.current.fetchNextPage()]);
    });
    assert.deepEqual(pages, [
      { data: 0, error: null },
      { data: 0, error: null },
    ]);
    assert.equal(double.methodCalls('loadMore').length, 1, 'the second call joined the first');
    assert.equal(result.current.isFetchingNextPage, false);
  });

  it('useMarkRead and useMarkAllRead call the core; a failure leaves the rollback and the error', async () => {
    const double = liveDouble({ notifications: [notification('n1'), notification('n2')] });
    const { result } = renderWith(double, () => ({
      markRead: useMarkRead(),
      markAllRead: useMarkAllRead(),
      list: useNotifications(),
    }));
    await act(async () => {
      assert.deepEqual(await result.current.markRead('n1'), { data: 1, error: null });
    });
    assert.deepEqual(double.methodCalls('markRead'), [[['n1']]]);
    assert.deepEqual(
      result.current.list.notifications.map((n) => n.read),
      [true, false],
    );

    double.fail('markAllRead', dispatchError('dispatch: boom'));
    await act(async () => {
      const { error } = await result.current.markAllRead();
      assert.equal(error?.message, 'dispatch: boom');
    });
    assert.equal(double.methodCalls('markAllRead').length, 1);
    assert.deepEqual(
      result.current.list.notifications.map((n) => n.read),
      [true, false],
      'rolled back',
    );
    assert.equal(result.current.list.error?.message, 'dispatch: boom');
  });

  it('useDispatchStatus follows the store', () => {
    const double = liveDouble();
    const { result } = renderWith(double, () => useDispatchStatus());
    assert.equal(result.current, 'idle');
    act(() => double.store.setState({ status: 'reconnecting' }));
    assert.equal(result.current, 'reconnecting');
  });

  it('usePreferences and useSetPreference: a TanStack query of the core, refetched after a change', async () => {
    const queryClient = new QueryClient({
      // no garbage-collection timers left behind when the test ends
      defaultOptions: { queries: { retry: false, gcTime: Infinity }, mutations: { gcTime: Infinity } },
    });
    const double = liveDouble({}, { queryClient });
    const preferences = { events: [], preferences: [] };
    double.rpcAnswers.dispatch_preferences = { data: preferences, error: null, status: 200 };
    const { result } = renderWith(double, () => ({ list: usePreferences(), set: useSetPreference() }));
    await waitFor(() => assert.equal(result.current.list.isSuccess, true));
    assert.deepEqual(result.current.list.data, preferences);
    await act(async () => {
      await result.current.set.mutateAsync({ category: 'orders', enabled: false });
    });
    assert.deepEqual(double.methodCalls('setPreference'), [[{ category: 'orders', enabled: false }]]);
    await waitFor(() =>
      assert.equal(double.rpcCalls.filter(([fn]) => fn === 'dispatch_preferences').length, 2),
    );
    queryClient.clear();
  });
});
