/** `useDispatchStatus()`: where the client stands with Realtime (`idle`, `connecting`, `live`, ...). */
import type { DispatchStatus } from 'supadispatch/client';
import { useDispatchState } from './dispatch-state.ts';

/**
 * The live client's status: `idle` (not started or signed out), `connecting`, `live`,
 * `reconnecting` or `offline`. Counts shown while not `live` may be behind.
 */
export function useDispatchStatus(): DispatchStatus {
  return useDispatchState((state) => state.status);
}
