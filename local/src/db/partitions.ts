import type pg from 'pg';
import type { LocalService, StackContext } from '../context.ts';

/**
 * Daily partitions of `realtime.messages`, kept the way the Realtime service does on hosted
 * (facts: supabase-database.md §4): UTC days named `messages_YYYY_MM_DD`, yesterday .. today+3
 * created, partitions for days older than today-3 dropped (the janitor's 72 h). The bootstrap SQL
 * (200_realtime.sql) does the same once per start; the stack calls this periodically.
 */

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.ClientBase, 'query'>;

/**
 * When the stack makes partitions (`SUPADISPATCH_REALTIME_PARTITIONS`):
 * - `always` (default): at every start and from the janitor, whether or not a client is connected;
 * - `on-connect`: as hosted Realtime does, only when a Realtime client connects (RT
 *   tenants/connect.ex, janitor.ex): an idle stack, like an idle hosted project, has no partition
 *   for today, and inserts into realtime.messages fail until a client connects. For trying the core
 *   (and an app) the way an idle project behaves.
 */
export type PartitionMode = 'always' | 'on-connect';

export function partitionMode(env: NodeJS.ProcessEnv = process.env): PartitionMode {
  const value = env.SUPADISPATCH_REALTIME_PARTITIONS?.trim();
  if (!value || value === 'always') return 'always';
  if (value === 'on-connect') return 'on-connect';
  throw new Error(`SUPADISPATCH_REALTIME_PARTITIONS must be "always" or "on-connect", not "${value}"`);
}

const dayMs = 24 * 60 * 60 * 1000;

function utcDay(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function partitionName(day: Date): string {
  return `messages_${isoDay(day).replaceAll('-', '_')}`;
}

export interface PartitionResult {
  created: string[];
  dropped: string[];
}

/** Creates yesterday..today+3 (UTC) and drops partitions older than today-3. Idempotent. */
export async function ensureRealtimePartitions(
  db: Queryable,
  now: Date = new Date(),
): Promise<PartitionResult> {
  const today = utcDay(now);
  const { rows } = await db.query<{ relname: string }>(
    `select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
     where i.inhparent = 'realtime.messages'::regclass`,
  );
  const existing = new Set(rows.map((r) => r.relname));
  const created: string[] = [];
  for (let offset = -1; offset <= 3; offset++) {
    const day = new Date(today.getTime() + offset * dayMs);
    const name = partitionName(day);
    if (existing.has(name)) continue;
    const next = new Date(day.getTime() + dayMs);
    try {
      await db.query(
        `create table if not exists realtime.${name} partition of realtime.messages
         for values from ('${isoDay(day)} 00:00:00') to ('${isoDay(next)} 00:00:00')`,
      );
      await db.query(`alter table realtime.${name} owner to supabase_realtime_admin`);
      created.push(name);
    } catch (error) {
      // A concurrent run (bootstrap, another janitor) may have created it first.
      if ((error as { code?: string }).code !== '42P07') throw error;
    }
  }
  const cutoff = new Date(today.getTime() - 3 * dayMs);
  const dropped: string[] = [];
  for (const name of existing) {
    const match = /^messages_(\d{4})_(\d{2})_(\d{2})$/.exec(name);
    if (!match) continue;
    const day = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
    if (day < cutoff) {
      await db.query(`drop table if exists realtime.${name}`);
      dropped.push(name);
    }
  }
  return { created, dropped };
}

/**
 * A stack service that runs `ensureRealtimePartitions` on start and then every `intervalMs`
 * (default 4 h, as the Realtime janitor).
 */
export function createRealtimePartitionJanitor(options: { intervalMs?: number } = {}): LocalService {
  const intervalMs = options.intervalMs ?? 4 * 60 * 60 * 1000;
  let timer: NodeJS.Timeout | undefined;
  let ctx: StackContext | undefined;
  const run = async (): Promise<void> => {
    // on-connect: the Realtime service makes them when a client connects (realtime/index.ts).
    if (!ctx || partitionMode() === 'on-connect') return;
    try {
      const result = await ensureRealtimePartitions(ctx.adminPool);
      if (result.created.length || result.dropped.length) {
        ctx.log(
          'db',
          `realtime partitions: created ${result.created.join(', ') || '-'}; dropped ${result.dropped.join(', ') || '-'}`,
        );
      }
    } catch (error) {
      ctx.log('db', 'realtime partitions: maintenance failed', error);
    }
  };
  return {
    name: 'realtime-partitions',
    async start(context) {
      ctx = context;
      await run();
      timer = setInterval(() => void run(), intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      ctx = undefined;
    },
  };
}
