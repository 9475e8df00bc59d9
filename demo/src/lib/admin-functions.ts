/**
 * The requests and answers of `dispatch-preview` and `dispatch-trigger` (edge-functions/src/preview.ts
 * and trigger.ts): list the events, render one without sending (sample data or a real row),
 * test-send the rendering to one address, fire an event by hand for a real row.
 */
import { callFunction } from './functions.ts';

export interface EventChannel {
  name: string;
  transport: string;
  audience: string;
  delaySeconds: number;
}

export interface EventInfo {
  id: string;
  table: string | null;
  channels: EventChannel[];
  /** The module decides the channels at run time (none are listed). */
  channelsFromModule: boolean;
  templates: Record<string, unknown>;
  metadata: Record<string, unknown>;
  module: boolean;
  /** Whether a preview from sample data is possible. */
  sampleData: boolean;
}

export interface RenderedContent {
  subject?: string;
  html?: string;
  text?: string;
  from?: string;
  title?: string;
  message?: string;
  actionUrl?: string;
  actionLabel?: string;
  payload?: unknown;
  [field: string]: unknown;
}

export interface PreviewAnswer {
  eventId: string;
  channel: EventChannel;
  /** Where the data came from: `sampleData`, `placeholders` or `record`. */
  source: string;
  content: RenderedContent;
  testSend?: { to: string; test: true; id: string | null };
}

export interface PreviewRequest {
  eventId: string;
  channel?: string;
  recordId?: string;
  testSendTo?: string;
}

export interface TriggerReceipt {
  id?: string;
  channel: string;
  transport: string;
  audience: string;
  userId: string | null;
  address: string | null;
  status: string;
  content?: RenderedContent | null;
  contentError?: string;
}

export interface TriggerAnswer {
  dryRun?: true;
  occurrenceId?: string;
  created?: boolean;
  occurrence: { status: string; error: string | null } | null;
  receiptIds?: string[];
  receipts: TriggerReceipt[];
}

export interface TriggerRequest {
  eventId: string;
  recordId: string;
  dryRun?: boolean;
  idempotencyKey?: string;
}

export async function listEvents(): Promise<EventInfo[]> {
  const { events } = await callFunction<{ events: EventInfo[] }>('dispatch-preview', { method: 'GET' });
  return events;
}

export function preview(request: PreviewRequest): Promise<PreviewAnswer> {
  return callFunction<PreviewAnswer>('dispatch-preview', { body: { ...request } });
}

export function trigger(request: TriggerRequest): Promise<TriggerAnswer> {
  return callFunction<TriggerAnswer>('dispatch-trigger', { body: { ...request } });
}
