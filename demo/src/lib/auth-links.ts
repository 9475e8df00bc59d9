/** What the auth pages read from their URL: where to go after signing in, and a failed link's error. */

/** `?next=` after sign-in: only paths of this app, never an address elsewhere. */
export function safeNext(next: string | null): string {
  return next?.startsWith('/') && !next.startsWith('//') ? next : '/shop';
}

/** The error a failed email link carries in the fragment (`#error=...&error_description=...`), if any. */
export function linkError(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const description = params.get('error_description');
  const code = params.get('error_code') ?? params.get('error');
  if (!description && !code) return null;
  return description ?? code;
}
