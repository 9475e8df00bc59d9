/**
 * Drain loops for the drain measures: `n` connections each calling dispatch.drain(batch) until
 * stopped, paced and sized as the worker paces and sizes its drains (edge-functions/src/worker/loop.ts,
 * `drainGapMs`, `drainMaxBacklog`): after a drain that found changes but not a full batch, the next
 * one starts `gapMs` after it and asks `batch` again; after a full one (a backlog), at once and asks
 * twice as many, up to `backlogBatch`; after an empty one, 20 ms later. `gapMs` 0 drains back to back
 * (the worker before session 9); `backlogBatch` equal to `batch` keeps every call at `batch` (before
 * session 10).
 */
import type pg from 'pg';
import { backendCpuMs, connect, log, type PgbenchResult, pgbench, sleep } from './sql-bench.ts';

/** The worker's default `drainGapMs` (edge-functions/src/worker/loop.ts). */
export const WORKER_DRAIN_GAP_MS = 25;
/** The worker's default `drainMax` and `drainMaxBacklog` (edge-functions/src/worker/loop.ts). */
export const WORKER_DRAIN_MAX = 500;
export const WORKER_DRAIN_MAX_BACKLOG = 2000;

export interface DrainLoops {
  state: { stop: boolean; taken: number; calls: number; errors: string[] };
  /** CPU of the drain backends since they started (ms, from /proc). */
  cpuMs(): number;
  stop(): Promise<void>;
}

export async function startDrainLoops(
  n: number,
  {
    batch = WORKER_DRAIN_MAX,
    gapMs = WORKER_DRAIN_GAP_MS,
    backlogBatch = WORKER_DRAIN_MAX_BACKLOG,
  }: { batch?: number; gapMs?: number; backlogBatch?: number } = {},
): Promise<DrainLoops> {
  const conns = await Promise.all(Array.from({ length: n }, () => connect()));
  const state = { stop: false, taken: 0, calls: 0, errors: [] as string[] };
  const cpu0 = conns.map(({ pid }) => backendCpuMs(pid));
  const loops = conns.map(async ({ c }) => {
    let size = batch;
    while (!state.stop) {
      const started = Date.now();
      try {
        const taken = Number((await c.query('select dispatch.drain($1) as n', [size])).rows[0].n);
        state.taken += taken;
        state.calls++;
        const full = taken >= size;
        size = full ? Math.min(size * 2, Math.max(backlogBatch, batch)) : batch;
        if (taken === 0) await sleep(20);
        else if (!full && gapMs > 0) await sleep(started + gapMs - Date.now());
      } catch (e) {
        state.errors.push((e as Error).message);
        await sleep(100);
      }
    }
  });
  return {
    state,
    cpuMs: () => conns.reduce((sum, { pid }, i) => sum + backendCpuMs(pid) - cpu0[i], 0),
    async stop() {
      state.stop = true;
      await Promise.all(loops);
      await Promise.all(conns.map(({ c }) => c.end()));
      if (state.errors.length) log(`  drain errors: ${state.errors.slice(0, 3).join('; ')}`);
    },
  };
}

/** Changes of bench.plugin waiting to be drained (not failed). */
export async function pluginBacklog(c: pg.Client): Promise<number> {
  const { rows } = await c.query(
    `select count(*)::int as n from dispatch.changes where source_table = 'bench.plugin' and error is null`,
  );
  return rows[0].n;
}

/** Waits until running drains have emptied bench.plugin's backlog (at most 10 min); returns the ms it took. */
export async function waitForDrained(c: pg.Client): Promise<number> {
  const start = Date.now();
  while ((await pluginBacklog(c)) > 0 && Date.now() - start < 600_000) await sleep(100);
  return Date.now() - start;
}

/**
 * `drains` drain loops running while `clients` pgbench writers insert into bench.plugin at `rate`
 * transactions/s for `seconds`, the backlog sampled each second (and once when the writes end);
 * then the loops run on until the backlog is empty, and stop.
 */
export async function drainsUnderWrites(
  admin: pg.Client,
  o: { drains: number; gapMs: number; backlogBatch?: number; clients: number; seconds: number; rate: number },
) {
  const d = await startDrainLoops(o.drains, { gapMs: o.gapMs, backlogBatch: o.backlogBatch });
  const before = await pluginBacklog(admin);
  const samples: number[] = [];
  let done = false;
  const run = pgbench('insert_plugin.sql', o.clients, o.seconds, o.rate).finally(() => {
    done = true;
  });
  while (!done) {
    await sleep(1000);
    if (!done) samples.push(await pluginBacklog(admin));
  }
  const writes: PgbenchResult = await run;
  const after = await pluginBacklog(admin);
  samples.push(after);
  const catchUpMs = await waitForDrained(admin);
  const cpuMs = d.cpuMs();
  const { taken, calls } = d.state;
  await d.stop();
  return { writes, before, after, samples, catchUpMs, cpuMs, taken, calls };
}
