import type { StackContext } from '../../context.ts';
import type { Channel, PgBinding } from '../hub.ts';
import { sendFrame } from '../hub.ts';
import { ApplyRls } from './apply-rls.ts';
import { type Change, parseChangeLine, toIso, toRecord } from './decoding.ts';
import { type Filter, matches, parseFilter, type Subscription } from './filter.ts';
import { DecodingSlot } from './slot.ts';
import { TableCatalog } from './tables.ts';

/**
 * Postgres Changes (shared/facts/realtime.md §10).
 *
 * Mechanism: a temporary logical replication slot (slot.ts), polled while anyone subscribes.
 * Decoding gives exactly the committed changes, in commit order, with nothing from rolled-back
 * transactions, for every table, without touching the user's schema: per-table triggers would
 * have done the same with less latency, but they would show up in `supabase db diff` / `db dump`
 * of the user's project. Hosted Realtime polls its slot every 100 ms; we poll every 20 ms.
 *
 * Per subscriber, as Realtime does: only tables in publication `supabase_realtime` (tables.ts);
 * the binding's event, schema, table and filter checked against the record (filter.ts); then
 * what the subscriber's role may see (apply-rls.ts).
 */

const POLL_MS = 20;
const IDLE_POLL_MS = 500;

export class ChangeFeed {
  private readonly subs = new Map<Channel, Subscription[]>();
  private readonly slot: DecodingSlot;
  private readonly tables: TableCatalog;
  private readonly rls: ApplyRls;
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private stopped = false;

  constructor(private readonly ctx: StackContext) {
    this.slot = new DecodingSlot(ctx);
    this.tables = new TableCatalog(ctx);
    this.rls = new ApplyRls(ctx);
  }

  // ---- subscriptions ------------------------------------------------------------------------

  async subscribe(channel: Channel): Promise<{ ok: boolean; message: string }> {
    this.subs.delete(channel);
    const compiled: Subscription[] = [];
    try {
      await this.slot.ensure();
      const published = await this.tables.published();
      if (published === null) {
        return { ok: false, message: 'Unable to subscribe: publication supabase_realtime does not exist' };
      }
      for (const binding of channel.pgBindings) {
        const problem = await this.validate(binding, published);
        if (typeof problem === 'string') return { ok: false, message: problem };
        compiled.push({ binding, filter: problem });
      }
    } catch (error) {
      this.ctx.log('realtime', 'postgres_changes subscription failed', error);
      return { ok: false, message: `Unable to subscribe to changes: ${(error as Error).message}` };
    }
    if (channel.closed) return { ok: false, message: 'channel closed' };
    this.subs.set(channel, compiled);
    this.schedule(0);
    return { ok: true, message: 'Subscribed to PostgreSQL' };
  }

  unsubscribe(channel: Channel): void {
    this.subs.delete(channel);
  }

  private unableMessage(binding: PgBinding): string {
    return (
      'Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given ' +
      `connect parameters: [event: ${binding.event}, schema: ${binding.schema}, table: ${binding.table ?? '*'}, ` +
      `filters: [${binding.filter ?? ''}]]`
    );
  }

  /** Returns the parsed filter, or an error message. */
  private async validate(binding: PgBinding, published: Set<string>): Promise<Filter | null | string> {
    if (!['*', 'INSERT', 'UPDATE', 'DELETE'].includes(binding.event)) return this.unableMessage(binding);
    const table = binding.table ?? '*';
    if (table === '*') {
      if (binding.filter) return this.unableMessage(binding);
      const any = [...published].some(
        (key) => binding.schema === '*' || key.startsWith(`${binding.schema}.`),
      );
      return any ? null : this.unableMessage(binding);
    }
    if (binding.schema === '*' || !published.has(`${binding.schema}.${table}`))
      return this.unableMessage(binding);
    if (!binding.filter) return null;
    const filter = parseFilter(binding.filter);
    if (!filter) return this.unableMessage(binding);
    const meta = await this.tables.meta(binding.schema, table);
    if (!meta?.columns.some((c) => c.name === filter.column)) return this.unableMessage(binding);
    return filter;
  }

  // ---- polling ------------------------------------------------------------------------------

  private schedule(delay: number): void {
    if (this.stopped || this.timer || this.polling) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.poll();
    }, delay);
    this.timer.unref?.();
  }

  private async poll(): Promise<void> {
    if (!this.slot.isOpen || this.stopped) return;
    this.polling = true;
    try {
      const lines = await this.slot.read();
      if (lines.length > 0 && this.subs.size > 0) await this.process(lines);
    } catch (error) {
      this.ctx.log('realtime', 'postgres_changes poll failed', error);
    } finally {
      this.polling = false;
      this.schedule(this.subs.size > 0 ? POLL_MS : IDLE_POLL_MS);
    }
  }

  private async process(lines: string[]): Promise<void> {
    let pending: Change[] = [];
    let published: Set<string> | null = null;
    for (const line of lines) {
      if (line === 'BEGIN' || line.startsWith('BEGIN ')) {
        pending = [];
        continue;
      }
      if (line.startsWith('COMMIT')) {
        const at = /\(at (.+)\)$/.exec(line)?.[1];
        const commitTimestamp = at ? toIso(at) : new Date().toISOString();
        if (pending.length > 0) {
          published ??= (await this.tables.published()) ?? new Set();
          for (const change of pending) {
            if (!published.has(`${change.schema}.${change.table}`)) continue;
            try {
              await this.dispatch(change, commitTimestamp);
            } catch (error) {
              this.ctx.log(
                'realtime',
                `postgres_changes delivery failed for ${change.schema}.${change.table}`,
                error,
              );
            }
          }
        }
        pending = [];
        continue;
      }
      const change = parseChangeLine(line);
      if (change) pending.push(change);
    }
  }

  // ---- delivery -----------------------------------------------------------------------------

  private async dispatch(change: Change, commitTimestamp: string): Promise<void> {
    let meta = await this.tables.meta(change.schema, change.table);
    const tuple = change.record ?? change.oldKey;
    if (meta && tuple && [...tuple.keys()].some((name) => !meta?.columns.some((c) => c.name === name))) {
      meta = await this.tables.meta(change.schema, change.table, true);
    }
    if (!meta) return;
    const types = new Map(meta.columns.map((c) => [c.name, c.type]));
    const newRecord = change.record ? toRecord(change.record, types) : null;
    let oldRecord: Record<string, unknown> | null = null;
    if (change.type !== 'INSERT') {
      if (change.oldKey) oldRecord = toRecord(change.oldKey, types);
      else if (newRecord) oldRecord = Object.fromEntries(meta.pk.map((k) => [k, newRecord[k]]));
      else oldRecord = {};
    }

    for (const [channel, subs] of [...this.subs]) {
      if (channel.closed) continue;
      const ids = subs
        .filter((s) => matches(s, change, types))
        .map((s) => s.binding.id)
        .filter((id, i, all) => all.indexOf(id) === i);
      if (ids.length === 0) continue;
      const payload = await this.rls.payloadFor(
        channel.claims,
        meta,
        change,
        newRecord,
        oldRecord,
        commitTimestamp,
      );
      if (!payload || channel.closed) continue;
      sendFrame(channel.conn, {
        joinRef: null,
        ref: null,
        topic: channel.topic,
        event: 'postgres_changes',
        payload: { ids, data: payload },
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (let i = 0; i < 100 && this.polling; i++) await new Promise((r) => setTimeout(r, 10));
    await this.slot.close();
  }
}
