// The supadispatch package: config DSL, generator and the framework-agnostic client core.
export * from './config/index.ts';
