/** How the demo writes money, moments and ids. */

const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

/** `1250` → `$12.50`. */
export function formatPrice(cents: number): string {
  return money.format(cents / 100);
}

const dateTime = new Intl.DateTimeFormat('en-US', {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});

const timeOnly = new Intl.DateTimeFormat('en-US', { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/**
 * A timestamp as a short local date and time (the time alone when it is today, relative to `now`);
 * an empty string for null.
 */
export function formatDateTime(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toDateString() === now.toDateString() ? timeOnly.format(date) : dateTime.format(date);
}

/** The first block of a uuid: enough to tell orders apart on screen. */
export function shortId(id: string | null | undefined): string {
  return id ? id.split('-')[0] : '';
}

/** `in_app` → `In-app`, `email` → `Email`: transports as people read them. */
export function transportLabel(transport: string): string {
  const known: Record<string, string> = {
    in_app: 'In-app',
    email: 'Email',
    webhook: 'Webhook',
    slack: 'Slack',
    discord: 'Discord',
    sms: 'SMS',
  };
  return known[transport] ?? transport;
}

/** A delay as people say it: `0` → `at once`, `90` → `after 1 min 30 s`. */
export function formatDelay(seconds: number): string {
  if (!seconds) return 'at once';
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  const parts = [minutes ? `${minutes} min` : '', rest ? `${rest} s` : ''].filter(Boolean);
  return `after ${parts.join(' ')}`;
}
