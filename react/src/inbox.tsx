/**
 * `<Inbox />`: a minimal, accessible rendering of {@link useInbox}. A list of notifications (title,
 * message, relative time, action link), "Mark read" per unread item and "Mark all read", "Load
 * more", and loading, empty and error states. Keyboard: the arrow keys, Home and End move between
 * items, Enter follows an item's action link, Escape calls `onClose`.
 *
 * No styles: plain elements with `sd-inbox*` class names and data attributes (`data-read`,
 * `data-type`, `data-status`) to style or replace.
 */
import { type KeyboardEvent, type ReactElement, useEffect } from 'react';
import type { DispatchNotification } from 'supadispatch/client';
import { formatRelativeTime } from './relative-time.ts';
import { useInbox } from './use-inbox.ts';

/** Props of {@link Inbox}. */
export interface InboxProps {
  id?: string;
  className?: string;
  /** The heading and accessible name. */
  title?: string;
  /** Shown when there are no notifications. */
  emptyText?: string;
  /** Locale of the relative times (the runtime's by default). */
  locale?: string;
  /** Called on Escape (a popup closes itself here). */
  onClose?: () => void;
  /** Moves focus into the inbox when it mounts (as a popup opened from a button should). */
  autoFocus?: boolean;
}

/** The signed-in user's notifications. */
export function Inbox({
  id,
  className,
  title = 'Notifications',
  emptyText = 'No notifications yet.',
  locale,
  onClose,
  autoFocus = false,
}: InboxProps): ReactElement {
  const inbox = useInbox();
  const { notifications, activeIndex, focusActive } = inbox;
  const headingId = id ? `${id}-title` : undefined;
  // biome-ignore lint/correctness/useExhaustiveDependencies: focus once, when opened
  useEffect(() => {
    if (autoFocus) focusActive();
  }, []);
  const onKeyDown = (event: KeyboardEvent<HTMLElement>) => {
    if (event.key === 'Escape' && onClose) {
      event.preventDefault();
      onClose();
    }
  };
  const now = Date.now();
  return (
    <section
      id={id}
      className={className ? `sd-inbox ${className}` : 'sd-inbox'}
      aria-labelledby={headingId}
      aria-label={headingId ? undefined : title}
      aria-busy={inbox.isLoading}
      data-status={inbox.status}
      onKeyDown={onKeyDown}
    >
      <header className="sd-inbox__header">
        <h2 id={headingId} className="sd-inbox__title">
          {title}
        </h2>
        <button
          type="button"
          className="sd-inbox__mark-all"
          disabled={inbox.unreadCount === 0}
          onClick={() => void inbox.markAllRead()}
        >
          Mark all read
        </button>
      </header>
      {inbox.error && (
        <div role="alert" className="sd-inbox__error">
          <span>{inbox.error.message}</span>{' '}
          <button type="button" className="sd-inbox__retry" onClick={() => void inbox.refresh()}>
            Retry
          </button>
        </div>
      )}
      {inbox.isLoading && <p className="sd-inbox__loading">Loading…</p>}
      {inbox.isEmpty && <p className="sd-inbox__empty">{emptyText}</p>}
      {notifications.length > 0 && (
        <ul className="sd-inbox__list">
          {notifications.map((notification, index) => (
            <InboxItem
              key={notification.id}
              notification={notification}
              active={index === activeIndex}
              itemProps={inbox.itemProps(index)}
              onOpen={() => inbox.open(notification)}
              onMarkRead={() => void inbox.markRead(notification.id)}
              time={formatRelativeTime(notification.createdAt, now, locale)}
            />
          ))}
        </ul>
      )}
      {inbox.hasMore && (
        <button
          type="button"
          className="sd-inbox__more"
          disabled={inbox.isFetchingNextPage}
          onClick={() => void inbox.fetchNextPage()}
        >
          Load more
        </button>
      )}
    </section>
  );
}

interface InboxItemProps {
  notification: DispatchNotification;
  active: boolean;
  itemProps: ReturnType<ReturnType<typeof useInbox>['itemProps']>;
  onOpen: () => void;
  onMarkRead: () => void;
  time: string;
}

// The item's focusable element is its action link, or a button (which marks it read) when it has
// none: Enter then follows the link or presses the button, as the browser does.
/**
 * The action URL as a link target, or null when it is not one a notification may open: relative, or
 * http(s) / mailto. An action URL is rendered from record fields, so `javascript:`, `data:` and the
 * like (which would run or show attacker content) never become links; the item is then a button.
 */
export function safeActionUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  // browsers drop tabs and newlines inside a scheme and trim leading control characters and spaces
  let cleaned = url.replace(/[\t\n\r]/g, '');
  while (cleaned !== '' && cleaned.charCodeAt(0) <= 0x20) cleaned = cleaned.slice(1);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(cleaned);
  if (!scheme) return url;
  return ['http', 'https', 'mailto'].includes(scheme[1].toLowerCase()) ? url : null;
}

function InboxItem({ notification: n, active, itemProps, onOpen, onMarkRead, time }: InboxItemProps) {
  const href = safeActionUrl(n.actionUrl);
  const body = (
    <>
      <span className="sd-inbox__item-title">{n.title}</span>
      {n.message && <span className="sd-inbox__message">{n.message}</span>}
      <time className="sd-inbox__time" dateTime={n.createdAt} suppressHydrationWarning>
        {time}
      </time>
      {href && <span className="sd-inbox__action-label">{n.actionLabel ?? 'Open'}</span>}
    </>
  );
  return (
    <li className="sd-inbox__item" data-read={n.read} data-type={n.type} data-active={active || undefined}>
      {href ? (
        <a className="sd-inbox__open" href={href} onClick={onOpen} {...itemProps}>
          {body}
        </a>
      ) : (
        <button type="button" className="sd-inbox__open" onClick={onOpen} {...itemProps}>
          {body}
        </button>
      )}
      {!n.read && (
        <button
          type="button"
          className="sd-inbox__mark-read"
          tabIndex={active ? 0 : -1}
          aria-label={`Mark "${n.title}" read`}
          onClick={onMarkRead}
        >
          Mark read
        </button>
      )}
    </li>
  );
}
