/**
 * `<NotificationBell />` and `<Inbox />` in a real DOM (jsdom), driven as a person would with
 * Testing Library's user-event: from the keyboard (Tab, Enter, the arrow keys, Escape), with the
 * accessible names and roles a screen reader sees; loading, empty and error states; mark read.
 */
import './support/dom.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { act, cleanup, render, screen, within } from '@testing-library/react';
import { userEvent } from '@testing-library/user-event';
import { DispatchProvider, formatRelativeTime, Inbox, NotificationBell } from '../src/index.ts';
import { dispatchError, type LiveDouble, liveDouble, notification } from './support/live-double.ts';

afterEach(cleanup);

function renderWith(double: LiveDouble, ui: React.ReactElement) {
  return render(<DispatchProvider client={double.client}>{ui}</DispatchProvider>);
}

const threeNotifications = () =>
  liveDouble({
    status: 'live',
    counters: { unread_notifications: { value: 2, seq: 1 } },
    notifications: [
      notification('n3', {
        title: 'Order shipped',
        actionUrl: '#order-3',
        actionLabel: 'Track it',
        minutesAgo: 5,
      }),
      notification('n2', { title: 'Welcome', minutesAgo: 60 * 3 }),
      notification('n1', { title: 'Old news', read: true, actionUrl: '#order-1', minutesAgo: 60 * 24 * 2 }),
    ],
  });

describe('<NotificationBell /> and <Inbox /> (jsdom, user-event)', () => {
  it('the bell names the unread count, opens the inbox from the keyboard, Escape closes it', async () => {
    const user = userEvent.setup();
    const double = threeNotifications();
    renderWith(double, <NotificationBell />);
    await user.tab();
    const bell = screen.getByRole('button', { name: 'Notifications, 2 unread' });
    assert.equal(document.activeElement, bell);
    assert.equal(bell.getAttribute('aria-expanded'), 'false');
    assert.equal(bell.querySelector('.sd-bell__badge')?.textContent, '2');

    await user.keyboard('{Enter}');
    assert.equal(bell.getAttribute('aria-expanded'), 'true');
    const inbox = screen.getByRole('region', { name: 'Notifications' });
    assert.equal(bell.getAttribute('aria-controls'), inbox.id);
    const items = within(inbox).getAllByRole('listitem');
    assert.equal(items.length, 3);
    // focus moved into the inbox, on the first item's action link
    assert.equal(document.activeElement, within(items[0]).getByRole('link'));

    await user.keyboard('{Escape}');
    assert.equal(screen.queryByRole('region', { name: 'Notifications' }), null);
    assert.equal(bell.getAttribute('aria-expanded'), 'false');
    assert.equal(document.activeElement, bell, 'focus back on the bell');

    act(() => double.setCounter('unread_notifications', 0));
    assert.ok(screen.getByRole('button', { name: 'Notifications, none unread' }));
    assert.equal(bell.querySelector('.sd-bell__badge'), null);
  });

  it('in the inbox the arrow keys move between items; Enter follows the action link and marks it read', async () => {
    const user = userEvent.setup();
    const double = threeNotifications();
    renderWith(double, <NotificationBell />);
    await user.click(screen.getByRole('button', { name: /Notifications/ }));
    const [first, second, third] = screen.getAllByRole('listitem');
    const focusable = (item: HTMLElement) => item.querySelector<HTMLElement>('.sd-inbox__open')!;
    assert.equal(document.activeElement, focusable(first));

    await user.keyboard('{ArrowDown}');
    assert.equal(document.activeElement, focusable(second));
    assert.equal(second.dataset.active, 'true');
    assert.equal(focusable(second).tabIndex, 0, 'the roving tab stop follows');
    assert.equal(focusable(first).tabIndex, -1);
    await user.keyboard('{ArrowDown}{ArrowDown}');
    assert.equal(document.activeElement, focusable(third), 'stops at the last item');
    await user.keyboard('{Home}');
    assert.equal(document.activeElement, focusable(first));
    await user.keyboard('{End}{ArrowUp}{ArrowUp}');
    assert.equal(document.activeElement, focusable(first));

    // Enter on the first item: its link, to #order-3, marked read
    assert.equal(focusable(first).getAttribute('href'), '#order-3');
    await user.keyboard('{Enter}');
    assert.equal(window.location.hash, '#order-3');
    assert.deepEqual(double.methodCalls('markRead'), [[['n3']]]);
    assert.equal(first.dataset.read, 'true');

    // an item without a link is a button: Enter marks it read
    await user.keyboard('{ArrowDown}{Enter}');
    assert.deepEqual(double.methodCalls('markRead'), [[['n3']], [['n2']]]);
    // a read item opened again marks nothing
    await user.keyboard('{ArrowDown}{Enter}');
    assert.equal(double.methodCalls('markRead').length, 2);
  });

  it('the inbox shows title, message, relative time and the action label; mark read and mark all read', async () => {
    const user = userEvent.setup();
    const double = threeNotifications();
    renderWith(double, <Inbox />);
    const [first, second, third] = screen.getAllByRole('listitem');
    assert.match(first.textContent ?? '', /Order shipped/);
    assert.match(first.textContent ?? '', /Message n3/);
    assert.equal(first.querySelector('.sd-inbox__action-label')?.textContent, 'Track it');
    assert.equal(first.querySelector('time')?.textContent, '5 minutes ago');
    assert.equal(second.querySelector('time')?.textContent, '3 hours ago');
    assert.equal(third.querySelector('time')?.textContent, '2 days ago');
    assert.equal(third.dataset.read, 'true');
    assert.equal(within(third).queryByRole('button', { name: /Mark .* read/ }), null);

    await user.click(within(second).getByRole('button', { name: 'Mark "Welcome" read' }));
    assert.deepEqual(double.methodCalls('markRead'), [[['n2']]]);
    await user.click(screen.getByRole('button', { name: 'Mark all read' }));
    assert.equal(double.methodCalls('markAllRead').length, 1);
    act(() => double.setCounter('unread_notifications', 0));
    assert.equal((screen.getByRole('button', { name: 'Mark all read' }) as HTMLButtonElement).disabled, true);
  });

  it('empty, loading and error states; Retry refreshes; Load more when older ones exist', async () => {
    const user = userEvent.setup();
    const double = liveDouble({ status: 'connecting' });
    renderWith(double, <Inbox emptyText="Nothing here" />);
    const region = screen.getByRole('region', { name: 'Notifications' });
    assert.equal(region.getAttribute('aria-busy'), 'true');
    assert.ok(screen.getByText('Loading…'));
    assert.equal(screen.queryByText('Nothing here'), null);

    act(() => double.store.setState({ status: 'live' }));
    assert.ok(screen.getByText('Nothing here'));
    assert.equal(screen.queryByRole('list'), null);
    assert.equal(region.dataset.status, 'live');

    act(() => double.store.setState({ error: dispatchError('dispatch: the network is down') }));
    const alert = screen.getByRole('alert');
    assert.match(alert.textContent ?? '', /dispatch: the network is down/);
    await user.click(within(alert).getByRole('button', { name: 'Retry' }));
    assert.equal(double.methodCalls('refresh').length, 1);
    assert.equal(screen.queryByRole('alert'), null, 'the refresh cleared the error');

    act(() => double.store.setState({ notifications: [notification('n1')], hasMore: true }));
    await user.click(screen.getByRole('button', { name: 'Load more' }));
    assert.equal(double.methodCalls('loadMore').length, 1);
  });

  it('formatRelativeTime: Intl.RelativeTimeFormat in the largest unit that fits', () => {
    const now = Date.parse('2026-06-15T12:00:00Z');
    const ago = (seconds: number) => new Date(now - seconds * 1000);
    assert.equal(formatRelativeTime(ago(0), now, 'en'), 'now');
    assert.equal(formatRelativeTime(ago(45), now, 'en'), '45 seconds ago');
    assert.equal(formatRelativeTime(ago(90), now, 'en'), '2 minutes ago');
    assert.equal(formatRelativeTime(ago(26 * 3600), now, 'en'), 'yesterday');
    assert.equal(formatRelativeTime(ago(400 * 86400), now, 'en'), 'last year');
    assert.equal(formatRelativeTime(ago(3 * 3600), now, 'de'), 'vor 3 Stunden');
  });
});
