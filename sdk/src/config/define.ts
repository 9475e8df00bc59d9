import type { AnyDatabase, DefinedDispatch, DispatchConfigInput, TransportName } from './types.ts';

type Define<DB> = <
  const A extends string,
  const T extends TransportName,
  const Ev extends Record<string, unknown>,
  const Cn extends Record<string, unknown> = Record<never, never>,
>(
  config: DispatchConfigInput<DB, A, T, Ev, Cn>,
) => DefinedDispatch<A, T, Ev, Cn>;

/**
 * Declares the dispatch config (the default export of `dispatch.config.ts`).
 *
 *   export default defineDispatch({ transports, audiences, events, counters })
 *
 * With the database types from `supabase gen types`, tables and columns are checked too:
 *
 *   export default defineDispatch<Database>()({ ... })
 *
 * It returns the config unchanged; `supadispatch gen` validates it at run time.
 */
export function defineDispatch<DB extends object>(): Define<DB>;
export function defineDispatch<
  const A extends string,
  const T extends TransportName,
  const Ev extends Record<string, unknown>,
  const Cn extends Record<string, unknown> = Record<never, never>,
>(config: DispatchConfigInput<AnyDatabase, A, T, Ev, Cn>): DefinedDispatch<A, T, Ev, Cn>;
export function defineDispatch(config?: unknown): unknown {
  if (config === undefined) return (c: unknown) => c;
  return config;
}
