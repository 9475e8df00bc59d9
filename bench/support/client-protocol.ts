/**
 * The messages between bench/client-latency.ts and its client processes (bench/support/client-worker.ts),
 * over Node's IPC channel. Times are absolute milliseconds of the machine's monotonic clock
 * (`monotonicMs`), which every process on the machine reads alike, so an arrival in a client
 * process and a COMMIT sent in the parent are on one time line.
 */
import type { Session } from '@supabase/supabase-js';

/** What a client process needs to open its clients: the stack, the broadcast topic, the counter. */
export interface ClientSetup {
  url: string;
  anonKey: string;
  /** The audience topic without `realtime:` (dispatch:audience:<id>). */
  topic: string;
  /** The counter name whose value the clients wait for. */
  counter: string;
}

export type ToWorker =
  | { type: 'setup'; setup: ClientSetup }
  /** Adds live client + raw listener pairs, one after the other, each waiting for its client to be live. */
  | { type: 'add'; pairs: { index: number; session: Session }[] }
  /** Reports how many live clients are not live yet, after waiting at most `waitMs`. */
  | { type: 'live'; waitMs: number }
  /** Arms write `seq`: from now on, the first time each store / listener sees `value` is recorded. */
  | { type: 'expect'; seq: number; value: number }
  /** Asks for write `seq`'s arrivals now (the wait is over), complete or not. */
  | { type: 'collect'; seq: number }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'added'; clients: number }
  | { type: 'live'; notLive: number; value: number | null }
  | { type: 'armed'; seq: number }
  /** Arrivals of write `seq` (absolute monotonic ms); sent once, when all arrived or when collected. */
  | { type: 'arrivals'; seq: number; store: number[]; raw: number[]; complete: boolean }
  | { type: 'error'; message: string }
  | { type: 'stopped' };

/** The machine's monotonic clock in ms (CLOCK_MONOTONIC through libuv: the same in every process). */
export const monotonicMs = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;
