/**
 * Names of the database objects the generator creates. The generator emits them from here and
 * `supadispatch doctor` looks for them from here, so the two cannot drift apart.
 */
import type { Operation } from '../../config/types.ts';
import { shortName } from './util.ts';

/**
 * How every trigger the generator names begins, including those of earlier generators (per-event
 * and per-counter triggers), which doctor reports when they are still installed.
 */
export const TRIGGER_PREFIXES = {
  /** The source tables' capture triggers (`dispatch_capture_<op>`). */
  capture: 'dispatch_capture_',
  /** A strict event's own triggers (`dispatch_ev_<event>_<op>`). */
  event: 'dispatch_ev_',
  /** Per-counter triggers of an earlier generator, dropped on install (`dispatch_ct_<counter>_<op>`). */
  counter: 'dispatch_ct_',
} as const;

/** A capture trigger: one per operation and source table. */
export const captureTriggerName = (op: Operation): string => `${TRIGGER_PREFIXES.capture}${op}`;

/** A strict event's trigger of one operation. */
export const eventTriggerName = (eventSlug: string, op: Operation): string =>
  shortName(`${TRIGGER_PREFIXES.event}${eventSlug}_${op}`);

/** A strict event's trigger function, in schema dispatch. */
export const eventTriggerFunctionName = (eventSlug: string): string => shortName(`ev_${eventSlug}_trg`);

/** An event's expander, in schema dispatch. */
export const eventExpanderName = (eventSlug: string): string => shortName(`ev_${eventSlug}_expand`);

/** A counter's trigger of one operation (earlier generators; dropped on install). */
export const counterTriggerName = (counterName: string, op: Operation): string =>
  shortName(`${TRIGGER_PREFIXES.counter}${counterName}_${op}`);

/** A counter's trigger function (earlier generators; dropped on install). */
export const counterTriggerFunctionName = (counterName: string): string => shortName(`ct_${counterName}_trg`);
