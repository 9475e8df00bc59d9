/** Relative times ("5 minutes ago", "yesterday") through `Intl.RelativeTimeFormat`. */

// The largest unit that fits is the one shown; months and years are approximate, as in any feed.
const units: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

const formats = new Map<string, Intl.RelativeTimeFormat>();
function formatFor(locale: string | undefined): Intl.RelativeTimeFormat {
  const key = locale ?? '';
  let format = formats.get(key);
  if (!format) {
    format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
    formats.set(key, format);
  }
  return format;
}

/** `date` relative to `now`, in `locale` (the runtime's by default): "3 hours ago", "now". */
export function formatRelativeTime(date: string | Date, now: number = Date.now(), locale?: string): string {
  const seconds = Math.round((new Date(date).getTime() - now) / 1000);
  const [unit, size] = units.find(([, size]) => Math.abs(seconds) >= size) ?? units[units.length - 1];
  // Halves round away from zero in both directions (Math.round alone rounds -1.5 to -1).
  const amount = Math.sign(seconds) * Math.round(Math.abs(seconds) / size);
  return formatFor(locale).format(amount, unit);
}
