/**
 * The parent side of bench/client-latency.ts's client processes: forks K client-worker.ts processes,
 * hands out client pairs round-robin (pair i to process i mod K), and per write arms them, then
 * gathers each one's arrivals (absolute monotonic ms, client-protocol.ts). Every wait is bounded.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Session } from '@supabase/supabase-js';
import type { ClientSetup, FromWorker, ToWorker } from './client-protocol.ts';

const workerPath = fileURLToPath(new URL('./client-worker.ts', import.meta.url));

class Worker {
  private readonly waiting: { match: (m: FromWorker) => boolean; resolve: (m: FromWorker) => void }[] = [];
  private readonly inbox: FromWorker[] = [];
  failure: Error | null = null;
  clients = 0;

  constructor(readonly child: ChildProcess) {
    child.on('message', (message: FromWorker) => {
      if (message.type === 'error') this.failure = new Error(`client process: ${message.message}`);
      const at = this.waiting.findIndex((w) => w.match(message));
      if (at >= 0) this.waiting.splice(at, 1)[0].resolve(message);
      else this.inbox.push(message);
    });
    child.on('exit', (code) => {
      if (code !== 0 && !this.failure) this.failure = new Error(`client process exited with ${code}`);
    });
  }

  send(message: ToWorker): void {
    this.child.send(message);
  }

  /** The next message of `type` (matching `match`), or an error after `timeoutMs` or on failure. */
  next<T extends FromWorker['type']>(
    type: T,
    timeoutMs: number,
    match: (m: Extract<FromWorker, { type: T }>) => boolean = () => true,
  ): Promise<Extract<FromWorker, { type: T }>> {
    const fits = (m: FromWorker) => m.type === type && match(m as Extract<FromWorker, { type: T }>);
    const queued = this.inbox.findIndex(fits);
    if (queued >= 0)
      return Promise.resolve(this.inbox.splice(queued, 1)[0] as Extract<FromWorker, { type: T }>);
    return new Promise((resolve, reject) => {
      const entry = { match: fits, resolve: (m: FromWorker) => done(() => resolve(m as never)) };
      const poll = setInterval(() => {
        if (this.failure) done(() => reject(this.failure));
      }, 100);
      const timer = setTimeout(
        () => done(() => reject(new Error(`client process: no '${type}' within ${timeoutMs} ms`))),
        timeoutMs,
      );
      const done = (settle: () => void) => {
        clearInterval(poll);
        clearTimeout(timer);
        const at = this.waiting.indexOf(entry);
        if (at >= 0) this.waiting.splice(at, 1);
        settle();
      };
      this.waiting.push(entry);
    });
  }
}

export interface WriteArrivals {
  /** Absolute monotonic ms of each live store / raw listener that saw the value in time. */
  store: number[];
  raw: number[];
}

export class ClientPool {
  private seq = 0;

  private constructor(private readonly workers: Worker[]) {}

  /** Forks `k` client processes (with this process's Node flags: tsx, source conditions). */
  static async start(k: number, setup: ClientSetup): Promise<ClientPool> {
    const workers = Array.from(
      { length: k },
      () => new Worker(fork(workerPath, [], { execArgv: process.execArgv, stdio: 'inherit' })),
    );
    const pool = new ClientPool(workers);
    try {
      await Promise.all(workers.map((w) => w.next('ready', 60_000)));
      for (const w of workers) w.send({ type: 'setup', setup });
    } catch (error) {
      await pool.stop();
      throw error;
    }
    return pool;
  }

  get size(): number {
    return this.workers.reduce((n, w) => n + w.clients, 0);
  }

  /** Adds pairs `from`..`to - 1` (pair i to process i mod K, with `sessionOf(i)`); the processes add theirs at once. */
  async add(from: number, to: number, sessionOf: (i: number) => Session): Promise<void> {
    const share = this.workers.map(() => [] as { index: number; session: Session }[]);
    for (let i = from; i < to; i++) share[i % this.workers.length].push({ index: i, session: sessionOf(i) });
    await Promise.all(
      this.workers.map(async (w, k) => {
        if (share[k].length === 0) return;
        w.send({ type: 'add', pairs: share[k] });
        w.clients = (await w.next('added', 60_000 + share[k].length * 10_000)).clients;
      }),
    );
  }

  /** Waits until every live client is live; resolves to the count still not live and the counter's value. */
  async live(waitMs: number): Promise<{ notLive: number; value: number | null }> {
    const got = await Promise.all(
      this.workers.map((w) => {
        w.send({ type: 'live', waitMs });
        return w.next('live', waitMs + 30_000);
      }),
    );
    return {
      notLive: got.reduce((n, g) => n + g.notLive, 0),
      value: got.find((g, k) => this.workers[k].clients > 0 && g.value !== null)?.value ?? null,
    };
  }

  /** Arms every process for `value`; resolves once all have (so the write cannot overtake it). */
  async arm(value: number): Promise<number> {
    const seq = ++this.seq;
    await Promise.all(
      this.workers.map((w) => {
        w.send({ type: 'expect', seq, value });
        return w.next('armed', 30_000, (m) => m.seq === seq);
      }),
    );
    return seq;
  }

  /** Write `seq`'s arrivals: each process's, once all its clients have the value or `waitMs` is over. */
  async arrivals(seq: number, waitMs: number): Promise<WriteArrivals> {
    const got = await Promise.all(
      this.workers.map(async (w) => {
        try {
          return await w.next('arrivals', waitMs, (m) => m.seq === seq);
        } catch (error) {
          if (w.failure) throw error;
          w.send({ type: 'collect', seq });
          return w.next('arrivals', 30_000, (m) => m.seq === seq);
        }
      }),
    );
    return { store: got.flatMap((g) => g.store), raw: got.flatMap((g) => g.raw) };
  }

  /** Stops every client and ends the processes (killed if they do not end within 10 s). */
  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        if (w.child.exitCode !== null || !w.child.connected) return;
        const exited = new Promise((resolve) => w.child.once('exit', resolve));
        w.send({ type: 'stop' });
        const timer = setTimeout(() => w.child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
