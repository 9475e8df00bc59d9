import type { LocalService } from './context.ts';

/**
 * The stack's services in start order (stopped in reverse). Sinks come first so that the
 * services that send to them (Auth's mail, pg_net's requests) find them up.
 */
export async function createStackServices(): Promise<LocalService[]> {
  return [];
}
