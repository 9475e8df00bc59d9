/** The short text of a delivery, for transports without html (chat, SMS), from the rendered fields. */
import type { RenderedContent } from '../delivery/types.ts';

export const TEST_PREFIX = '[Test] ';

export function field(content: RenderedContent, name: string): string | undefined {
  const value = content[name];
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** `actionUrl` when it is absolute http(s); a relative path means nothing outside the app. */
export function absoluteActionUrl(content: RenderedContent): string | undefined {
  const url = field(content, 'actionUrl');
  return url && /^https?:\/\//i.test(url) ? url : undefined;
}

/** The payload when it is a JSON object (a message the event spells out in the target's format). */
export function objectPayload(content: RenderedContent): Record<string, unknown> | undefined {
  const payload = content.payload;
  return typeof payload === 'object' && payload !== null && !Array.isArray(payload)
    ? (payload as Record<string, unknown>)
    : undefined;
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
