/**
 * The generated client module (`supadispatch gen` writes it from dispatch.config.ts), which the app
 * imports from here. Its schema is registered with `@supadispatch/react` in register.ts.
 */
export * from './dispatch.generated.ts';
