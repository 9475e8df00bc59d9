export type { LocalService, StackContext, StackKeys, StackUrls } from './context.ts';
export { resetStack, runningState, StackError, startStack, stopStack } from './control.ts';
export { runStack, stackUrls } from './daemon.ts';
export { findProjectRoot, repoRoot, statePaths } from './paths.ts';
export { defaultPorts, resolvePorts } from './ports.ts';
export { type StackState, statusVariables } from './state.ts';
