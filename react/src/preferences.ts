/**
 * Preference hooks, on TanStack Query: the list is a query (`queries.preferences` of the core), a
 * change is a mutation through the core's `setPreference`, after which the list is fetched again
 * (preferences broadcast nothing). They use the provider's `queryClient` when it is a TanStack
 * `QueryClient`, else the one of the nearest `<QueryClientProvider>`.
 */
import {
  type QueryClient,
  type UseMutationResult,
  type UseQueryResult,
  useMutation,
  useQuery,
  useQueryClient,
} from '@tanstack/react-query';
import type {
  DispatchError,
  DispatchSchema,
  PreferenceChange,
  PreferenceSet,
  Preferences,
  QueryClientLike,
} from 'supadispatch/client';
import { useDispatchClient } from './context.ts';
import type { RegisteredSchema } from './register.ts';

// The provider takes any QueryClientLike; only a real QueryClient can serve queries.
const asQueryClient = (q: QueryClientLike | null): QueryClient | undefined =>
  q && 'getQueryCache' in q ? (q as QueryClient) : undefined;

/** The configurable events and the user's preferences (`dispatch_preferences`). */
export function usePreferences<S extends DispatchSchema = RegisteredSchema>(): UseQueryResult<
  Preferences<S>,
  DispatchError
> {
  const client = useDispatchClient<S>();
  return useQuery<Preferences<S>, DispatchError>(
    client.queries.preferences(),
    useQueryClient(asQueryClient(client.queryClient)),
  );
}

/** Turns an event or a category on or off; the preferences query is fetched again after it. */
export function useSetPreference<S extends DispatchSchema = RegisteredSchema>(): UseMutationResult<
  PreferenceSet,
  DispatchError,
  PreferenceChange<S>
> {
  const client = useDispatchClient<S>();
  const queryClient = useQueryClient(asQueryClient(client.queryClient));
  return useMutation<PreferenceSet, DispatchError, PreferenceChange<S>>(
    {
      mutationKey: ['dispatch', 'set_preference'],
      mutationFn: async (change) => {
        const { data, error } = await client.setPreference(change);
        if (error) throw error;
        return data;
      },
      onSettled: () => queryClient.invalidateQueries({ queryKey: client.keys.preferences() }),
    },
    queryClient,
  );
}
