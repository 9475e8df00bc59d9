/**
 * The browser's network and visibility, read only when a live client starts and only where they
 * exist: nothing here touches `window` or `document` at import, and on a server (or in Node) there
 * is simply nothing to follow.
 */

/** What the live client hears from the page. */
export interface EnvironmentListener {
  /** The browser went offline. */
  offline(): void;
  /** The browser came back online. */
  online(): void;
  /** The page became visible again. */
  visible(): void;
}

interface PageLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/** Whether the browser says it is offline (false where there is no `navigator.onLine`). */
export function isOffline(): boolean {
  const nav = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
  return nav?.onLine === false;
}

/** Follows online/offline and visibility where a page exists; returns the function that stops. */
export function followEnvironment(listener: EnvironmentListener): () => void {
  const g = globalThis as { window?: PageLike; document?: PageLike & { visibilityState?: string } };
  const win = g.window;
  const doc = g.document;
  if (!win || typeof win.addEventListener !== 'function') return () => {};
  const onOnline = () => listener.online();
  const onOffline = () => listener.offline();
  const onVisibility = () => {
    if (doc?.visibilityState === 'visible') listener.visible();
  };
  win.addEventListener('online', onOnline);
  win.addEventListener('offline', onOffline);
  doc?.addEventListener('visibilitychange', onVisibility);
  return () => {
    win.removeEventListener('online', onOnline);
    win.removeEventListener('offline', onOffline);
    doc?.removeEventListener('visibilitychange', onVisibility);
  };
}
