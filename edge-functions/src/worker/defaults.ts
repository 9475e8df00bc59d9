/**
 * The worker's default dependencies, from the modules the rest of the library provides, imported
 * on first use (by literal paths, so `supabase functions deploy` bundles them):
 *   ../transports/index.ts   `transports: Record<string, Transport>`
 *   ../templates/prepare.ts  `prepareContent: PrepareContent`
 *   ../modules/expand.ts     `expandModuleOccurrences(db, registry): Promise<number>` (optional: no-op)
 *   ../delivery/fetch.ts     the SSRF-guarded fetch: `guardedFetchFromEnv()` (or a `guardedFetch`)
 * A missing module is named in the error, so a build without it fails loudly instead of sending
 * unrendered or unguarded.
 */
import type { GuardedFetch, PrepareContent, Transport } from '../delivery/types.ts';
import type { ExpandModuleOccurrences } from './loop.ts';

export interface WorkerDefaults {
  transports: Record<string, Transport>;
  prepareContent: PrepareContent;
  expandModuleOccurrences: ExpandModuleOccurrences;
  fetch: GuardedFetch;
}

export class MissingDependencyError extends Error {
  override name = 'MissingDependencyError';
}

async function load<T>(
  path: string,
  importer: () => Promise<unknown>,
  pick: (m: Record<string, unknown>) => T | undefined,
): Promise<T> {
  let module: Record<string, unknown>;
  try {
    module = (await importer()) as Record<string, unknown>;
  } catch (error) {
    throw new MissingDependencyError(
      `dispatch-worker: cannot load ${path} (${(error as Error).message}); pass the dependency to serve() or update the library`,
    );
  }
  const value = pick(module);
  if (value === undefined)
    throw new MissingDependencyError(`dispatch-worker: ${path} does not export what the worker needs`);
  return value;
}

/** The dependencies: those `have` gives, the others loaded from the library. */
export async function loadWorkerDefaults(have: Partial<WorkerDefaults>): Promise<WorkerDefaults> {
  return {
    transports:
      have.transports ??
      (await load(
        '../transports/index.ts',
        () => import('../transports/index.ts'),
        (m) => m.transports as Record<string, Transport>,
      )),
    prepareContent:
      have.prepareContent ??
      (await load(
        '../templates/prepare.ts',
        () => import('../templates/prepare.ts'),
        (m) => m.prepareContent as PrepareContent,
      )),
    expandModuleOccurrences:
      have.expandModuleOccurrences ??
      // optional: without the module expander, events with only a module get no receipts (no-op)
      (await load(
        '../modules/expand.ts',
        () => import('../modules/expand.ts'),
        (m) => m.expandModuleOccurrences as ExpandModuleOccurrences,
      ).catch((): ExpandModuleOccurrences => async () => 0)),
    fetch:
      have.fetch ??
      (await load(
        '../delivery/fetch.ts',
        () => import('../delivery/fetch.ts'),
        (m) => {
          // configured from the environment (DISPATCH_ALLOWED_HOSTS: the local stack's sink and catcher)
          if (typeof m.guardedFetchFromEnv === 'function')
            return (m.guardedFetchFromEnv as () => GuardedFetch)();
          if (typeof m.guardedFetch === 'function') return m.guardedFetch as GuardedFetch;
          return undefined;
        },
      )),
  };
}
