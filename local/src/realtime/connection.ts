import { createHash } from 'node:crypto';
import type WebSocket from 'ws';
import type { StackContext } from '../context.ts';
import type { JwtClaims } from '../jwt.ts';
import { AuthorizationError, checkReadAccess, checkToken, checkWriteAccess, reasonMessage } from './auth.ts';
import type { ChangeFeed } from './changes/feed.ts';
import { type Channel, type Hub, type SocketConn, sendFrame } from './hub.ts';
import { BINARY_MARK, decodeBinary, decodeText, type Frame, ProtocolError, type Vsn } from './protocol.ts';

/**
 * One websocket: Phoenix's socket and channel server rolled into one, speaking Realtime's
 * `realtime:*` channel. Frames of one socket are handled strictly in arrival order.
 */

const MAX_BROADCAST_BYTES = 3000 * 1024;
/** Realtime re-checks a channel's token at most every five minutes (§5). */
const EXPIRY_RECHECK_MS = 5 * 60 * 1000;

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ServiceDeps {
  ctx: StackContext;
  hub: Hub;
  changes: ChangeFeed;
}

/** A stable positive 31-bit id for a postgres_changes entry (Realtime uses :erlang.phash2). */
export function bindingId(entry: Dict): number {
  const digest = createHash('sha1')
    .update(JSON.stringify([entry.event, entry.schema, entry.table ?? null, entry.filter ?? null]))
    .digest();
  return digest.readUInt32BE(0) & 0x7fffffff;
}

export class Connection implements SocketConn {
  private readonly channels = new Map<string, Channel>();
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    readonly ws: WebSocket,
    readonly vsn: Vsn,
    private readonly apiKeyToken: string,
    private readonly deps: ServiceDeps,
  ) {
    ws.on('message', (data, isBinary) => {
      const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      this.queue = this.queue
        .then(() => this.onMessage(buffer, isBinary))
        .catch((error) => {
          deps.ctx.log('realtime', 'error handling a frame', error);
        });
    });
    ws.on('close', () => this.teardown());
    ws.on('error', () => this.teardown());
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const channel of this.channels.values()) this.dropChannel(channel);
    this.channels.clear();
  }

  private async onMessage(data: Buffer, isBinary: boolean): Promise<void> {
    let frame: Frame;
    try {
      frame =
        isBinary && this.vsn === '2.0.0' ? decodeBinary(data) : decodeText(this.vsn, data.toString('utf8'));
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.deps.ctx.log('realtime', `dropping an undecodable frame: ${error.message}`);
        return;
      }
      throw error;
    }
    await this.dispatch(frame);
  }

  private reply(frame: Frame, status: 'ok' | 'error', response: Dict, joinRef = frame.joinRef): void {
    sendFrame(this, {
      joinRef,
      ref: frame.ref,
      topic: frame.topic,
      event: 'phx_reply',
      payload: { status, response },
    });
  }

  private async dispatch(frame: Frame): Promise<void> {
    if (frame.topic === 'phoenix' && frame.event === 'heartbeat') {
      this.reply(frame, 'ok', {});
      return;
    }
    if (frame.event === 'phx_join') {
      await this.join(frame);
      return;
    }
    const channel = this.channels.get(frame.topic);
    if (!channel || (frame.joinRef !== null && frame.joinRef !== channel.joinRef)) {
      this.reply(frame, 'error', { reason: 'unmatched topic' });
      return;
    }
    switch (frame.event) {
      case 'phx_leave':
        this.reply(frame, 'ok', {});
        this.closeChannel(channel);
        return;
      case 'access_token':
        await this.refreshToken(channel, isDict(frame.payload) ? frame.payload.access_token : null);
        return;
      case 'broadcast':
        await this.clientBroadcast(channel, frame);
        return;
      case 'presence':
        await this.presence(channel, frame);
        return;
      default:
        // Realtime ignores other pushes on the channel without replying.
        return;
    }
  }

  // ---- join ---------------------------------------------------------------------------------

  private async join(frame: Frame): Promise<void> {
    const { topic } = frame;
    if (!topic.startsWith('realtime:')) {
      this.reply(frame, 'error', { reason: 'unmatched topic' });
      return;
    }
    const existing = this.channels.get(topic);
    if (existing) {
      // Phoenix closes the existing channel when the same topic is joined again.
      this.closeChannel(existing, false);
    }
    const payload = isDict(frame.payload) ? frame.payload : {};
    const config = isDict(payload.config) ? payload.config : {};
    const broadcast = isDict(config.broadcast) ? config.broadcast : {};
    const presence = isDict(config.presence) ? config.presence : {};
    const isPrivate = config.private === true;
    const subTopic = topic.slice('realtime:'.length);

    const given = typeof payload.access_token === 'string' ? payload.access_token : null;
    const token = given && !given.startsWith('sb_') ? given : this.apiKeyToken;
    const checked = checkToken(token, this.deps.ctx.keys.jwtSecret);
    if (!checked.ok) {
      this.reply(frame, 'error', { reason: checked.reason });
      return;
    }

    const rawBindings = Array.isArray(config.postgres_changes) ? config.postgres_changes.filter(isDict) : [];
    const presenceEnabled = presence.enabled === true;
    let read = { broadcast: true, presence: true };
    if (isPrivate) {
      try {
        read = await checkReadAccess(this.deps.ctx.adminPool, subTopic, checked.claims, presenceEnabled);
      } catch (error) {
        const message = error instanceof AuthorizationError ? error.message : String(error);
        this.reply(frame, 'error', { reason: `RlsPolicyError: ${message}` });
        return;
      }
      if (!read.broadcast && !read.presence) {
        this.reply(frame, 'error', {
          reason: `Unauthorized: You do not have permissions to read from this Channel topic: ${subTopic}`,
        });
        return;
      }
    }
    if (this.closed) return;

    const echoed: Dict[] = rawBindings.map((entry) => ({ ...entry, id: bindingId(entry) }));
    const channel: Channel = {
      conn: this,
      topic,
      subTopic,
      joinRef: frame.joinRef ?? frame.ref ?? '',
      isPrivate,
      self: broadcast.self === true,
      ack: broadcast.ack === true,
      presenceEnabled,
      presenceKey: typeof presence.key === 'string' ? presence.key : '',
      claims: checked.claims,
      token: checked.token,
      read,
      write: {},
      pgBindings: echoed.map((e) => ({
        id: e.id as number,
        event: String(e.event ?? '*'),
        schema: String(e.schema ?? 'public'),
        table: typeof e.table === 'string' ? e.table : undefined,
        filter: typeof e.filter === 'string' ? e.filter : undefined,
      })),
      presenceRef: null,
      expiryTimer: null,
      closed: false,
    };
    this.channels.set(topic, channel);
    this.deps.hub.add(channel);
    this.reply(frame, 'ok', { postgres_changes: echoed }, channel.joinRef);
    if (presenceEnabled) this.sendPresenceState(channel);
    this.scheduleExpiry(channel);
    if (channel.pgBindings.length > 0) void this.subscribeChanges(channel);
  }

  private sendPresenceState(channel: Channel): void {
    sendFrame(this, {
      joinRef: channel.joinRef,
      ref: null,
      topic: channel.topic,
      event: 'presence_state',
      payload: this.deps.hub.presenceState(channel),
    });
  }

  private async subscribeChanges(channel: Channel): Promise<void> {
    const result = await this.deps.changes.subscribe(channel);
    if (channel.closed) return;
    this.system(channel, 'postgres_changes', result.ok ? 'ok' : 'error', result.message);
  }

  system(channel: Channel, extension: string, status: 'ok' | 'error', message: string): void {
    sendFrame(this, {
      joinRef: null,
      ref: null,
      topic: channel.topic,
      event: 'system',
      payload: { extension, status, message, channel: channel.subTopic },
    });
  }

  // ---- token lifecycle ----------------------------------------------------------------------

  private scheduleExpiry(channel: Channel): void {
    if (channel.expiryTimer) clearTimeout(channel.expiryTimer);
    const exp = typeof channel.claims.exp === 'number' ? channel.claims.exp : null;
    if (exp === null) return;
    const untilExp = exp * 1000 - Date.now();
    const delay = Math.max(0, Math.min(EXPIRY_RECHECK_MS, untilExp));
    channel.expiryTimer = setTimeout(() => {
      channel.expiryTimer = null;
      if (channel.closed) return;
      const now = Math.floor(Date.now() / 1000);
      if (exp > now) {
        this.scheduleExpiry(channel);
        return;
      }
      this.closeWithSystemError(channel, `Token has expired ${now - exp} seconds ago`);
    }, delay + 5);
    channel.expiryTimer.unref?.();
  }

  private closeWithSystemError(channel: Channel, message: string): void {
    this.system(channel, 'system', 'error', message);
    this.closeChannel(channel);
  }

  private async refreshToken(channel: Channel, raw: unknown): Promise<void> {
    if (typeof raw !== 'string' || raw === '' || raw.startsWith('sb_') || raw === channel.token) return;
    const checked = checkToken(raw, this.deps.ctx.keys.jwtSecret);
    if (!checked.ok) {
      this.closeWithSystemError(channel, reasonMessage(checked.reason));
      return;
    }
    if (channel.isPrivate) {
      let read: { broadcast: boolean; presence: boolean };
      try {
        read = await checkReadAccess(
          this.deps.ctx.adminPool,
          channel.subTopic,
          checked.claims,
          channel.presenceEnabled,
        );
      } catch (error) {
        this.closeWithSystemError(channel, (error as Error).message);
        return;
      }
      if (!read.broadcast && !read.presence) {
        this.closeWithSystemError(
          channel,
          `You do not have permissions to read from this Channel topic: ${channel.subTopic}`,
        );
        return;
      }
      channel.read = read;
      channel.write = {};
    }
    if (channel.closed) return;
    channel.claims = checked.claims as JwtClaims;
    channel.token = checked.token;
    this.scheduleExpiry(channel);
    if (channel.pgBindings.length > 0) void this.subscribeChanges(channel);
  }

  // ---- broadcast and presence ---------------------------------------------------------------

  private async canWrite(channel: Channel, extension: 'broadcast' | 'presence'): Promise<boolean> {
    if (!channel.isPrivate) return true;
    const cached = channel.write[extension];
    if (cached !== undefined) return cached;
    let allowed = false;
    try {
      allowed = await checkWriteAccess(this.deps.ctx.adminPool, channel.subTopic, channel.claims, extension);
    } catch (error) {
      this.deps.ctx.log('realtime', `write check on ${channel.subTopic} failed`, error);
      allowed = false;
    }
    channel.write[extension] = allowed;
    return allowed;
  }

  private async clientBroadcast(channel: Channel, frame: Frame): Promise<void> {
    const payload = isDict(frame.payload) ? frame.payload : {};
    const event = typeof payload.event === 'string' ? payload.event : null;
    if (event === null) return;
    const binary = (payload as Record<symbol, unknown>)[BINARY_MARK] === true;
    const body = payload.payload;
    const size = Buffer.isBuffer(body) ? body.length : Buffer.byteLength(JSON.stringify(body ?? {}));
    if (size > MAX_BROADCAST_BYTES) {
      if (channel.ack) this.reply(frame, 'error', { reason: 'Payload size exceeds tenant limit' });
      return;
    }
    // A private channel without INSERT permission: dropped silently, no reply even with ack.
    if (!(await this.canWrite(channel, 'broadcast'))) return;
    this.deps.hub.broadcast(
      channel.subTopic,
      channel.isPrivate,
      { event, payload: body, binary },
      { except: channel.self ? undefined : channel },
    );
    if (channel.ack) this.reply(frame, 'ok', {});
  }

  private async presence(channel: Channel, frame: Frame): Promise<void> {
    const payload = isDict(frame.payload) ? frame.payload : {};
    if (payload.event === 'track') {
      if (!isDict(payload.payload)) {
        this.reply(frame, 'error', { reason: 'Presence track payload must be a map' });
        return;
      }
      if (!(await this.canWrite(channel, 'presence'))) {
        this.reply(frame, 'error', {});
        return;
      }
      if (!channel.presenceEnabled) {
        channel.presenceEnabled = true;
        this.sendPresenceState(channel);
      }
      this.deps.hub.track(channel, payload.payload);
      this.reply(frame, 'ok', {});
      return;
    }
    if (payload.event === 'untrack') {
      this.deps.hub.untrack(channel);
      this.reply(frame, 'ok', {});
      return;
    }
    this.reply(frame, 'error', { reason: 'unknown presence event' });
  }

  // ---- closing ------------------------------------------------------------------------------

  private dropChannel(channel: Channel): void {
    if (channel.closed) return;
    channel.closed = true;
    if (channel.expiryTimer) clearTimeout(channel.expiryTimer);
    channel.expiryTimer = null;
    this.deps.hub.remove(channel);
    this.deps.changes.unsubscribe(channel);
  }

  /** Ends a channel from the server: phx_close with ref = join_ref (the client does not rejoin). */
  closeChannel(channel: Channel, notify = true): void {
    this.dropChannel(channel);
    if (this.channels.get(channel.topic) === channel) this.channels.delete(channel.topic);
    if (notify) {
      sendFrame(this, {
        joinRef: channel.joinRef,
        ref: channel.joinRef,
        topic: channel.topic,
        event: 'phx_close',
        payload: {},
      });
    }
  }

  /**
   * Server shutdown: close the socket like a restarting Realtime (clients reconnect). A client that
   * does not answer the close frame (a busy or gone peer) would keep the socket for ws's 30 s close
   * timeout, and `local stop` with it: after `graceMs` the socket is destroyed. Resolves once closed.
   */
  shutdown(graceMs = 500): Promise<void> {
    this.teardown();
    if (this.ws.readyState === this.ws.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.ws.terminate(), graceMs);
      this.ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.ws.close(1001, 'server shutting down');
    });
  }
}
