/**
 * `@supadispatch/react`: React bindings of supadispatch's client core (`supadispatch/client`).
 * Today the provider and access to the core; the counter store's hooks build on them.
 */
export { DispatchProvider, type DispatchProviderProps, useDispatchClient } from './provider.tsx';
