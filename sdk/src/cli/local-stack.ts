/**
 * The local stack is its own package, `@supadispatch/local`, loaded only when a `supadispatch local …`
 * command runs: `gen`, `check`, `init` and `doctor` never load its services or their dependencies.
 * This module is the one place that imports it, and says how to install it when it is missing.
 */

/** What the CLI uses of `@supadispatch/local` (kept here so the sdk builds without it). */
export interface LocalStackModule {
  findProjectRoot(start?: string): string | null;
  startStack(projectRoot: string): Promise<{ state: StackStateLike; alreadyRunning: boolean }>;
  stopStack(projectRoot: string): Promise<boolean>;
  resetStack(projectRoot: string): Promise<void>;
  runningState(projectRoot: string): StackStateLike | null;
  statusVariables(state: StackStateLike): Record<string, string>;
  StackError: new (message: string) => Error;
}

/** Opaque to the CLI: it only hands the state back to `statusVariables`. */
export type StackStateLike = object;

export const LOCAL_PACKAGE = '@supadispatch/local';

export class LocalStackMissingError extends Error {
  constructor(cause: unknown) {
    super(
      `the local stack is not installed: \`supadispatch local\` needs the package ${LOCAL_PACKAGE}.\n` +
        `  install it next to supadispatch:  npm install --save-dev ${LOCAL_PACKAGE}\n` +
        '  (it brings PostgreSQL glue, Deno and the Supabase CLI; `gen`, `check` and `doctor` do not need it)',
      { cause },
    );
    this.name = 'LocalStackMissingError';
  }
}

/** Imports `@supadispatch/local`, or throws {@link LocalStackMissingError} naming the install command. */
export async function loadLocalStack(
  importer: (specifier: string) => Promise<unknown> = (specifier) => import(specifier),
): Promise<LocalStackModule> {
  try {
    return (await importer(LOCAL_PACKAGE)) as LocalStackModule;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Only "not installed" becomes the install hint; a broken install keeps its own error.
    if (code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(LOCAL_PACKAGE))
      throw new LocalStackMissingError(error);
    throw error;
  }
}
