/**
 * The generated schema registered with `@supadispatch/react`, so every hook takes only this config's
 * counter and event names (`useCounter('pending_ordrs')` does not compile).
 *
 * Why a module nobody imports: the augmentation is global to a TypeScript program. demo/tsconfig.json
 * includes it (the demo is checked typed to its config); the root tsconfig.json excludes it, so the
 * root program, which also holds @supadispatch/react's own tests of the untyped hooks, stays untyped.
 */
import type { AppDispatchSchema } from './dispatch.generated.ts';

declare module '@supadispatch/react' {
  interface Register {
    schema: AppDispatchSchema;
  }
}
