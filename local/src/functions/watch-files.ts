import { existsSync, watch } from 'node:fs';

/**
 * Hot reload: watches the functions folder and reports which functions changed, in one batch
 * per burst of events (editors write a file in several steps). A change inside a function's own
 * folder names that function; shared code (`_shared`), `.env`, deno.json or import maps at the
 * top name none, meaning all. Null when there is no folder or it cannot be watched.
 */
export function watchFunctionsFolder(
  dir: string,
  onChange: (names: string[] | null) => void,
  log: (message: string, extra?: unknown) => void,
): { close(): void } | null {
  if (!existsSync(dir)) return null;
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  const schedule = (name: string | null) => {
    pending.add(name ?? '*');
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      const names = pending.has('*') ? null : [...pending];
      pending.clear();
      onChange(names);
    }, 150);
    timer.unref();
  };
  try {
    const watcher = watch(dir, { recursive: true }, (_event, filename) => {
      if (!filename) return schedule(null);
      const first = filename.toString().split(/[\\/]/)[0];
      const isFunctionDir = filename.toString().includes('/') || filename.toString().includes('\\');
      schedule(isFunctionDir && !first.startsWith('_') && !first.startsWith('.') ? first : null);
    });
    watcher.on('error', (error) => log('file watcher failed; hot reload is off', error));
    watcher.unref();
    return {
      close() {
        watcher.close();
        if (timer) clearTimeout(timer);
        timer = null;
      },
    };
  } catch (error) {
    log('cannot watch functions folder; hot reload is off', error);
    return null;
  }
}
