/**
 * `dispatch-trigger`: an admin sends an event by hand, with real data, and gets the receipt ids.
 *
 * Not part of this supadispatch version: every request answers 501 and does nothing. The entrypoint
 * `supadispatch init` writes already imports this module, so upgrading the package is the only step.
 */
import { problem } from './http.ts';
import type { Registry } from './registry.ts';

export function serve(_registry: Registry): (req: Request) => Promise<Response> {
  return () =>
    Promise.resolve(
      problem(501, 'not_implemented', 'dispatch-trigger is not part of this supadispatch version'),
    );
}
