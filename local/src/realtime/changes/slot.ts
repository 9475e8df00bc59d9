import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { StackContext } from '../../context.ts';

/**
 * A temporary logical replication slot with the built-in `test_decoding` plugin, on a dedicated
 * superuser connection. Temporary, so it disappears with the connection and never holds WAL back
 * after the stack stops. Because the local cluster runs with synchronous_commit = off, committed
 * WAL may not be flushed yet (logical decoding only reads flushed WAL); each read first forces a
 * flush when there is unflushed WAL, by committing a tiny WAL-writing transaction (a transactional
 * logical message, ignored by the parser) with synchronous_commit = on.
 */
export class DecodingSlot {
  private client: pg.Client | null = null;
  private name = '';
  private ready: Promise<void> | null = null;

  constructor(private readonly ctx: StackContext) {}

  get isOpen(): boolean {
    return this.client !== null;
  }

  /** Opens the slot once (again after its connection was lost). */
  ensure(): Promise<void> {
    if (!this.ready) {
      this.ready = this.open().catch((error) => {
        this.ready = null;
        throw error;
      });
    }
    return this.ready;
  }

  private async open(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.ctx.urls.adminDb,
      application_name: 'realtime-changes',
    });
    client.on('error', (error) => {
      this.ctx.log('realtime', 'postgres_changes slot connection lost', error);
      if (this.client === client) {
        this.client = null;
        this.ready = null;
      }
    });
    await client.connect();
    // Our own commits flush WAL synchronously (see read).
    await client.query('set synchronous_commit = on');
    const name = `supadispatch_realtime_${randomBytes(6).toString('hex')}`;
    await client.query(`select pg_create_logical_replication_slot($1, 'test_decoding', true)`, [name]);
    this.client = client;
    this.name = name;
  }

  /** The lines decoded since the last read (at most 5000), in commit order. */
  async read(): Promise<string[]> {
    const client = this.client;
    if (!client) return [];
    await client.query(
      `do $$ begin
         if pg_current_wal_insert_lsn() > pg_current_wal_flush_lsn() then perform pg_logical_emit_message(true, 'supadispatch_flush', ''); end if;
       end $$`,
    );
    const { rows } = await client.query<{ data: string }>(
      `select data from pg_logical_slot_get_changes($1, null, 5000,
         'include-xids', '0', 'include-timestamp', '1', 'skip-empty-xacts', '1')`,
      [this.name],
    );
    return rows.map((r) => r.data);
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => {});
  }
}
