/**
 * `<NotificationBell />`: a button with the unread count as a badge that opens and closes an
 * `<Inbox />` below it. The button's accessible name says the count ("Notifications, 3 unread"),
 * `aria-expanded` says whether the inbox is open; Escape in the inbox closes it and puts focus back
 * on the button. Unstyled: `sd-bell*` class names and `data-open`, `data-count` to style.
 */
import { type ReactElement, useCallback, useId, useRef, useState } from 'react';
import { useUnreadCount } from './counters.ts';
import { Inbox, type InboxProps } from './inbox.tsx';

/** Props of {@link NotificationBell}. */
export interface NotificationBellProps {
  className?: string;
  /** The button's accessible name for an unread count (English by default). */
  label?: (unread: number) => string;
  /** Props of the inbox it opens. */
  inbox?: Omit<InboxProps, 'id' | 'onClose' | 'autoFocus'>;
}

const defaultLabel = (unread: number) =>
  unread === 0 ? 'Notifications, none unread' : `Notifications, ${unread} unread`;

/** A bell button with the unread count, opening the inbox. */
export function NotificationBell({
  className,
  label = defaultLabel,
  inbox,
}: NotificationBellProps): ReactElement {
  const unread = useUnreadCount();
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const inboxId = useId();
  const close = useCallback(() => {
    setOpen(false);
    button.current?.focus();
  }, []);
  return (
    <div className={className ? `sd-bell ${className}` : 'sd-bell'} data-open={open || undefined}>
      <button
        ref={button}
        type="button"
        className="sd-bell__button"
        aria-label={label(unread)}
        aria-expanded={open}
        aria-controls={open ? inboxId : undefined}
        onClick={() => setOpen((was) => !was)}
      >
        <svg className="sd-bell__icon" aria-hidden="true" viewBox="0 0 24 24" width="20" height="20">
          <path
            fill="currentColor"
            d="M12 22a2 2 0 0 0 2-2h-4a2 2 0 0 0 2 2Zm6-6V11a6 6 0 0 0-5-5.9V4a1 1 0 0 0-2 0v1.1A6 6 0 0 0 6 11v5l-2 2v1h16v-1Z"
          />
        </svg>
        {unread > 0 && (
          <span className="sd-bell__badge" data-count={unread} aria-hidden="true">
            {unread > 99 ? '99+' : unread}
          </span>
        )}
      </button>
      {open && <Inbox {...inbox} id={inboxId} onClose={close} autoFocus />}
    </div>
  );
}
