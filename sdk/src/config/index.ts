export type { ValidateOptions } from './checker.ts';
export { defineDispatch } from './define.ts';
export { ConfigError, type ConfigIssue, didYouMean, formatIssue, formatPath } from './errors.ts';
export { ConfigLoadError, findConfig, importConfig, type LoadedConfig, loadConfig } from './load.ts';
export type * from './model.ts';
export { checkConfig, validateConfig } from './schema.ts';
export { looksLikeSecret } from './secrets.ts';
export * from './types.ts';
