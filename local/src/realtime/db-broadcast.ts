import pg from 'pg';
import type { StackContext } from '../context.ts';
import type { Hub } from './hub.ts';

/**
 * Broadcast from Database: rows inserted into realtime.messages reach the topic's subscribers.
 *
 * Mechanism (see bootstrap/600_realtime_broadcast_notify.sql): an AFTER INSERT trigger NOTIFYs
 * `supadispatch_realtime_broadcast`; this LISTENs on a dedicated connection. NOTIFY is delivered
 * at commit, never for rolled-back work, and in commit order across transactions, which is what
 * hosted Realtime gets from its replication stream. Notifications are handled one at a time (a
 * large row is read back before the next notification is looked at), so order is kept.
 *
 * Chosen over a logical replication slot because the slot's SQL interface has to be polled and
 * only sees WAL once it is flushed (the local cluster runs with synchronous_commit = off, so that
 * can be 200 ms late), while NOTIFY arrives within a millisecond of the commit.
 */

export const broadcastChannel = 'supadispatch_realtime_broadcast';

interface Notice {
  id: string;
  topic?: string;
  event?: string | null;
  private?: boolean;
  payload?: unknown;
  binary?: boolean;
  inserted_at?: string;
  fetch?: boolean;
}

export class DbBroadcastListener {
  private client: pg.Client | null = null;
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;
  /** Resolves once LISTEN is in place (tests and the bench wait for it). */
  ready: Promise<void>;
  private markReady: () => void = () => {};

  constructor(
    private readonly ctx: StackContext,
    private readonly hub: Hub,
  ) {
    this.ready = new Promise((resolve) => {
      this.markReady = resolve;
    });
  }

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({
      connectionString: this.ctx.urls.adminDb,
      application_name: 'realtime-broadcast',
    });
    client.on('notification', (msg) => {
      if (msg.channel !== broadcastChannel || !msg.payload) return;
      const text = msg.payload;
      this.queue = this.queue
        .then(() => this.deliver(text))
        .catch((error) => this.ctx.log('realtime', 'broadcast delivery failed', error));
    });
    client.on('error', (error) => {
      this.ctx.log('realtime', 'broadcast listener connection lost; reconnecting', error);
      this.scheduleReconnect();
    });
    client.on('end', () => this.scheduleReconnect());
    try {
      await client.connect();
      await client.query(`listen ${broadcastChannel}`);
      this.client = client;
      this.markReady();
    } catch (error) {
      this.ctx.log('realtime', 'cannot LISTEN for broadcasts; retrying', error);
      await client.end().catch(() => {});
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retry) return;
    this.client = null;
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.connect();
    }, 1000);
    this.retry.unref?.();
  }

  private async deliver(text: string): Promise<void> {
    let notice: Notice = JSON.parse(text) as Notice;
    if (notice.fetch) {
      const { rows } = await this.ctx.adminPool.query<{
        topic: string;
        event: string | null;
        private: boolean | null;
        payload: unknown;
        binary_payload: Buffer | null;
      }>(
        `select topic, event, private, payload, binary_payload from realtime.messages
         where id = $1 and inserted_at = $2::timestamp`,
        [notice.id, notice.inserted_at],
      );
      const row = rows[0];
      if (!row) return;
      const binary = row.payload === null && row.binary_payload !== null;
      notice = {
        id: notice.id,
        topic: row.topic,
        event: row.event,
        private: row.private === true,
        payload: binary ? row.binary_payload : row.payload,
        binary,
      };
    }
    if (typeof notice.topic !== 'string') return;
    this.hub.broadcast(notice.topic, notice.private === true, {
      event: notice.event ?? '',
      payload: notice.payload ?? {},
      binary: notice.binary === true,
      meta: { id: notice.id },
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => {});
    await this.queue.catch(() => {});
  }
}
