/**
 * What delivering a claimed receipt needs from the run (worker/loop.ts builds it): the database, the
 * registry and transports, the limits and clocks, and where outcomes go. Its own module so that
 * deliver.ts and prepare.ts both use it without importing each other.
 */
import type { WorkerDb } from '../delivery/db.ts';
import type { GuardedFetch, PrepareContent, Transport } from '../delivery/types.ts';
import type { Registry } from '../registry.ts';
import type { KeyedLimiter } from './limiter.ts';
import type { OutcomeRecorder } from './recorder.ts';

export interface DeliverContext {
  db: WorkerDb;
  registry: Registry;
  transports: Record<string, Transport>;
  prepareContent: PrepareContent;
  fetch: GuardedFetch;
  secret(name: string): string | undefined;
  limiter: KeyedLimiter;
  /** Every request and every send ends by then (a send over it is a `retry`, reason timeout). */
  sendTimeoutMs: number;
  /** No send starts after this (epoch ms): the receipt is rescheduled now instead. */
  sendUntil: number;
  now(): number;
  random(): number;
  log(message: string, detail?: unknown): void;
  /** Where outcomes go (in groups, with their lease tokens). */
  recorder: OutcomeRecorder;
}
