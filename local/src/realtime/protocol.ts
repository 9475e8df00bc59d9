/**
 * Phoenix channel frames as Supabase Realtime speaks them (see shared/facts/realtime.md §1):
 * vsn 1.0.0 sends JSON objects, vsn 2.0.0 JSON arrays `[join_ref, ref, topic, event, payload]`
 * plus two binary kinds for user broadcasts: kind 3 (client → server push) and kind 4
 * (server → client broadcast). Phoenix's other binary kinds (0–2) are never sent: realtime-js
 * throws on them.
 */

export type Vsn = '1.0.0' | '2.0.0';

export interface Frame {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: unknown;
}

/** A user broadcast as carried by a binary frame (or its text equivalent for vsn 1). */
export interface UserBroadcast {
  topic: string;
  event: string;
  /** Parsed JSON (encoding 1) or raw bytes (encoding 0). */
  payload: unknown;
  binary: boolean;
  meta?: Record<string, unknown>;
}

export class ProtocolError extends Error {}

const KIND_USER_BROADCAST_PUSH = 3;
const KIND_USER_BROADCAST = 4;
const ENCODING_BINARY = 0;
const ENCODING_JSON = 1;

export function parseVsn(raw: string | null): Vsn | null {
  if (raw === null || raw === '') return '1.0.0';
  if (raw === '1.0.0' || raw === '2.0.0') return raw;
  return null;
}

const refOf = (value: unknown): string | null =>
  value === null || value === undefined ? null : typeof value === 'string' ? value : String(value);

export function decodeText(vsn: Vsn, text: string): Frame {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ProtocolError('frame is not JSON');
  }
  if (vsn === '2.0.0') {
    if (!Array.isArray(parsed) || parsed.length !== 5)
      throw new ProtocolError('vsn 2.0.0 frame is not a 5-array');
    const [joinRef, ref, topic, event, payload] = parsed;
    if (typeof topic !== 'string' || typeof event !== 'string')
      throw new ProtocolError('topic/event missing');
    return { joinRef: refOf(joinRef), ref: refOf(ref), topic, event, payload };
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ProtocolError('vsn 1.0.0 frame is not an object');
  }
  const o = parsed as Record<string, unknown>;
  if (typeof o.topic !== 'string' || typeof o.event !== 'string')
    throw new ProtocolError('topic/event missing');
  return {
    joinRef: refOf(o.join_ref),
    ref: refOf(o.ref),
    topic: o.topic,
    event: o.event,
    payload: o.payload,
  };
}

/** Decodes a kind-3 frame into the `broadcast` push it stands for. */
export function decodeBinary(data: Buffer): Frame {
  if (data.length < 7) throw new ProtocolError('binary frame too short');
  const kind = data[0];
  if (kind !== KIND_USER_BROADCAST_PUSH) throw new ProtocolError(`unsupported binary frame kind ${kind}`);
  const joinRefLen = data[1];
  const refLen = data[2];
  const topicLen = data[3];
  const eventLen = data[4];
  const metaLen = data[5];
  const encoding = data[6];
  let offset = 7;
  const take = (n: number): Buffer => {
    if (offset + n > data.length) throw new ProtocolError('binary frame truncated');
    const part = data.subarray(offset, offset + n);
    offset += n;
    return part;
  };
  const joinRef = take(joinRefLen).toString('utf8');
  const ref = take(refLen).toString('utf8');
  const topic = take(topicLen).toString('utf8');
  const event = take(eventLen).toString('utf8');
  const metaText = take(metaLen).toString('utf8');
  const body = data.subarray(offset);
  let payload: unknown;
  if (encoding === ENCODING_JSON) {
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      throw new ProtocolError('binary frame JSON payload is invalid');
    }
  } else if (encoding === ENCODING_BINARY) {
    payload = Buffer.from(body);
  } else {
    throw new ProtocolError(`unknown payload encoding ${encoding}`);
  }
  let meta: Record<string, unknown> = {};
  if (metaText) {
    try {
      meta = JSON.parse(metaText) as Record<string, unknown>;
    } catch {
      throw new ProtocolError('binary frame metadata is invalid');
    }
  }
  return {
    joinRef: joinRef === '' ? null : joinRef,
    ref: ref === '' ? null : ref,
    topic,
    event: 'broadcast',
    payload: { type: 'broadcast', event, payload, ...meta, [BINARY_MARK]: encoding === ENCODING_BINARY },
  };
}

/** Set on pushes decoded from kind 3 so fan-out can keep the payload encoding. */
export const BINARY_MARK = Symbol('binaryPayload');

export function encodeText(vsn: Vsn, frame: Frame): string {
  if (vsn === '2.0.0') {
    return JSON.stringify([frame.joinRef, frame.ref, frame.topic, frame.event, frame.payload]);
  }
  // Phoenix's V1 serializer: {topic, event, payload, ref} (join_ref is not part of vsn 1 replies).
  return JSON.stringify({ topic: frame.topic, event: frame.event, payload: frame.payload, ref: frame.ref });
}

/** Kind 4: `04 len(topic) len(event) len(meta) enc topic event meta payload`. */
export function encodeUserBroadcast(message: UserBroadcast): Buffer {
  const topic = Buffer.from(message.topic, 'utf8');
  const event = Buffer.from(message.event, 'utf8');
  const meta = Buffer.from(message.meta ? JSON.stringify(message.meta) : '', 'utf8');
  if (topic.length > 255 || event.length > 255 || meta.length > 255) {
    throw new ProtocolError('topic, event or meta longer than 255 bytes');
  }
  const body = message.binary
    ? Buffer.isBuffer(message.payload)
      ? message.payload
      : Buffer.alloc(0)
    : Buffer.from(JSON.stringify(message.payload ?? {}), 'utf8');
  const header = Buffer.from([
    KIND_USER_BROADCAST,
    topic.length,
    event.length,
    meta.length,
    message.binary ? ENCODING_BINARY : ENCODING_JSON,
  ]);
  return Buffer.concat([header, topic, event, meta, body]);
}

/** The `broadcast` payload realtime-js sees for a user broadcast sent as text. */
export function textBroadcastPayload(message: UserBroadcast): Record<string, unknown> {
  const out: Record<string, unknown> = { type: 'broadcast', event: message.event, payload: message.payload };
  if (message.meta) out.meta = message.meta;
  return out;
}
