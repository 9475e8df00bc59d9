/**
 * The real client core (`createDispatchClient`) over a Supabase stand-in that answers RPCs from a
 * table and records every call; `start` does nothing (no Realtime in jsdom), so the store holds what
 * a test sets.
 */
import { QueryClient } from '@tanstack/react-query';
import { createDispatchClient, type DispatchClient, type RpcResponse } from 'supadispatch/client';

export interface ClientDouble {
  client: DispatchClient;
  queryClient: QueryClient;
  calls: [string, Record<string, unknown> | undefined][];
  answers: Record<string, (args: Record<string, unknown> | undefined) => unknown>;
  setCounter(name: string, value: number): void;
}

export function clientDouble(): ClientDouble {
  const calls: ClientDouble['calls'] = [];
  const answers: ClientDouble['answers'] = {};
  // gcTime Infinity: no garbage-collection timer keeps the test process alive after its last test
  const queryClient = new QueryClient({
    defaultOptions: { queries: { retry: false, gcTime: Infinity }, mutations: { gcTime: Infinity } },
  });
  const supabase = {
    async rpc(fn: string, args?: Record<string, unknown>): Promise<RpcResponse> {
      calls.push([fn, args]);
      const answer = answers[fn];
      if (!answer)
        return { data: null, error: { message: `no answer for ${fn}`, code: 'TEST' }, status: 500 };
      return { data: answer(args), error: null, status: 200 };
    },
  };
  const core = createDispatchClient({ supabase, queryClient });
  const client = { ...core, start: () => () => {} } as DispatchClient;
  let seq = 0;
  return {
    client,
    queryClient,
    calls,
    answers,
    setCounter(name, value) {
      const counters = {
        ...client.store.getState().counters,
        [name]: { value, seq: ++seq, invalidates: [] },
      };
      client.store.setState({ counters });
    },
  };
}
