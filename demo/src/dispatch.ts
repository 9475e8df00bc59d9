/**
 * The generated client module (`supadispatch gen` writes it from dispatch.config.ts), and its schema
 * registered with `@supadispatch/react`, so every hook takes only this config's counter and event names.
 */
import type { AppDispatchSchema } from './dispatch.generated.ts';

export * from './dispatch.generated.ts';

declare module '@supadispatch/react' {
  interface Register {
    schema: AppDispatchSchema;
  }
}
