import { randomUUID } from 'node:crypto';
import type WebSocket from 'ws';
import type { JwtClaims } from '../jwt.ts';
import {
  encodeText,
  encodeUserBroadcast,
  type Frame,
  textBroadcastPayload,
  type UserBroadcast,
  type Vsn,
} from './protocol.ts';

/**
 * Who is subscribed to what. A channel is one `phx_join`ed topic on one socket; channels on the
 * same sub-topic and privacy form a room (Realtime keeps public and private rooms apart).
 */

export interface PgBinding {
  id: number;
  event: string;
  schema: string;
  table?: string;
  filter?: string;
}

export interface Channel {
  readonly conn: SocketConn;
  readonly topic: string;
  readonly subTopic: string;
  readonly joinRef: string;
  readonly isPrivate: boolean;
  self: boolean;
  ack: boolean;
  presenceEnabled: boolean;
  presenceKey: string;
  claims: JwtClaims;
  token: string;
  read: { broadcast: boolean; presence: boolean };
  write: { broadcast?: boolean; presence?: boolean };
  pgBindings: PgBinding[];
  /** phx_ref of this channel's tracked presence meta, if any. */
  presenceRef: string | null;
  expiryTimer: NodeJS.Timeout | null;
  closed: boolean;
}

/** The socket side a channel talks through. */
export interface SocketConn {
  readonly vsn: Vsn;
  readonly ws: WebSocket;
}

export function sendFrame(conn: SocketConn, frame: Frame): void {
  if (conn.ws.readyState !== conn.ws.OPEN) return;
  conn.ws.send(encodeText(conn.vsn, frame));
}

/**
 * The frame a user broadcast is sent as on one socket: kind 4 for vsn 2 (unless `asText`), a text
 * frame otherwise (as bytes, sent with `binary: false`), or null when it cannot be carried (raw-byte
 * payloads on vsn 1, which has no binary frames).
 */
export interface BroadcastFrame {
  data: Buffer;
  binary: boolean;
}

export function encodeBroadcast(vsn: Vsn, message: UserBroadcast, asText = false): BroadcastFrame | null {
  if (vsn === '2.0.0' && !asText) return { data: encodeUserBroadcast(message), binary: true };
  if (message.binary) return null;
  const text = encodeText(vsn, {
    joinRef: null,
    ref: null,
    topic: message.topic,
    event: 'broadcast',
    payload: textBroadcastPayload(message),
  });
  return { data: Buffer.from(text, 'utf8'), binary: false };
}

export interface PresenceMeta {
  phx_ref: string;
  [key: string]: unknown;
}

type PresenceMap = Record<string, { metas: PresenceMeta[] }>;

const roomKey = (subTopic: string, isPrivate: boolean): string =>
  `${isPrivate ? 'private' : 'public'}:${subTopic}`;

let presenceCounter = 0;
const nextPresenceRef = (): string => `F${(++presenceCounter).toString(36)}${Date.now().toString(36)}`;

export class Hub {
  private readonly rooms = new Map<string, Set<Channel>>();
  /** Presence per room: key → metas, each meta owned by one channel. */
  private readonly presence = new Map<string, Map<Channel, { key: string; meta: PresenceMeta }>>();

  add(channel: Channel): void {
    const key = roomKey(channel.subTopic, channel.isPrivate);
    let room = this.rooms.get(key);
    if (!room) {
      room = new Set();
      this.rooms.set(key, room);
    }
    room.add(channel);
  }

  remove(channel: Channel): void {
    const key = roomKey(channel.subTopic, channel.isPrivate);
    this.untrack(channel);
    const room = this.rooms.get(key);
    room?.delete(channel);
    if (room && room.size === 0) this.rooms.delete(key);
  }

  room(subTopic: string, isPrivate: boolean): Channel[] {
    return [...(this.rooms.get(roomKey(subTopic, isPrivate)) ?? [])];
  }

  channelCount(): number {
    let n = 0;
    for (const room of this.rooms.values()) n += room.size;
    return n;
  }

  /**
   * Fan-out of a broadcast to a room: only channels allowed to read broadcasts (decided when the
   * channel joined or refreshed its token, as hosted Realtime's RLS check on realtime.messages).
   * The frame is encoded once per serializer and topic and the same bytes are written to every
   * subscriber, as hosted Realtime's fastlane does (RealtimeChannel.MessageDispatcher caches the
   * encoded message per serializer): N subscribers cost N socket writes, not N encodings.
   */
  broadcast(
    subTopic: string,
    isPrivate: boolean,
    message: Omit<UserBroadcast, 'topic'>,
    options: { except?: Channel; asText?: boolean } = {},
  ): void {
    const room = this.rooms.get(roomKey(subTopic, isPrivate));
    if (!room) return;
    const frames = new Map<string, BroadcastFrame | null>();
    for (const channel of room) {
      if (channel === options.except || channel.closed) continue;
      if (isPrivate && !channel.read.broadcast) continue;
      const { ws, vsn } = channel.conn;
      if (ws.readyState !== ws.OPEN) continue;
      const key = `${vsn} ${channel.topic}`;
      let frame = frames.get(key);
      if (frame === undefined) {
        frame = encodeBroadcast(vsn, { ...message, topic: channel.topic }, options.asText);
        frames.set(key, frame);
      }
      if (frame) ws.send(frame.data, { binary: frame.binary });
    }
  }

  presenceState(channel: Channel): PresenceMap {
    const state: PresenceMap = {};
    const entries = this.presence.get(roomKey(channel.subTopic, channel.isPrivate));
    for (const { key, meta } of entries?.values() ?? []) {
      if (!state[key]) state[key] = { metas: [] };
      state[key].metas.push(meta);
    }
    return state;
  }

  /** Tracks (or re-tracks) the channel's presence and fans out the diff. */
  track(channel: Channel, payload: Record<string, unknown>): void {
    const key = roomKey(channel.subTopic, channel.isPrivate);
    let entries = this.presence.get(key);
    if (!entries) {
      entries = new Map();
      this.presence.set(key, entries);
    }
    const previous = entries.get(channel);
    const meta: PresenceMeta = { ...payload, phx_ref: nextPresenceRef() };
    if (previous) meta.phx_ref_prev = previous.meta.phx_ref;
    const presenceKey = channel.presenceKey || randomUUID();
    channel.presenceKey = presenceKey;
    entries.set(channel, { key: presenceKey, meta });
    channel.presenceRef = meta.phx_ref;
    const leaves: PresenceMap = previous ? { [previous.key]: { metas: [previous.meta] } } : {};
    this.presenceDiff(channel, { joins: { [presenceKey]: { metas: [meta] } }, leaves });
  }

  untrack(channel: Channel): void {
    const key = roomKey(channel.subTopic, channel.isPrivate);
    const entries = this.presence.get(key);
    const previous = entries?.get(channel);
    if (!entries || !previous) return;
    entries.delete(channel);
    if (entries.size === 0) this.presence.delete(key);
    channel.presenceRef = null;
    this.presenceDiff(channel, { joins: {}, leaves: { [previous.key]: { metas: [previous.meta] } } });
  }

  private presenceDiff(origin: Channel, diff: { joins: PresenceMap; leaves: PresenceMap }): void {
    for (const channel of this.room(origin.subTopic, origin.isPrivate)) {
      if (channel.closed || !channel.presenceEnabled) continue;
      if (origin.isPrivate && !channel.read.presence && !channel.read.broadcast) continue;
      sendFrame(channel.conn, {
        joinRef: null,
        ref: null,
        topic: channel.topic,
        event: 'presence_diff',
        payload: diff,
      });
    }
  }
}
