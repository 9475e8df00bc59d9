/**
 * How an app types every hook to its config at once: it registers the generated schema, the way
 * TanStack Router registers its router.
 *
 * ```ts
 * import type { AppDispatchSchema } from './dispatch.generated';
 * declare module '@supadispatch/react' {
 *   interface Register {
 *     schema: AppDispatchSchema;
 *   }
 * }
 * ```
 *
 * Then `useCounter('pending_ordrs')` is a compile error. Without it, names are plain strings; a
 * hook can also be typed on its own: `useCounter<AppDispatchSchema>('pending_orders')`.
 */
import type { DispatchSchema } from 'supadispatch/client';

/** Empty until the app adds `schema` to it (module augmentation, above). */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by the app's module augmentation
export interface Register {}

/** The app's registered schema, or the untyped {@link DispatchSchema}. */
export type RegisteredSchema = Register extends { schema: infer S extends DispatchSchema }
  ? S
  : DispatchSchema;
