import { dirname } from 'node:path';
import { BootError, FunctionProcess } from './runtime.ts';

/** How long a replaced process may finish its in-flight requests after a file change. */
const reloadGraceMs = 10_000;

export interface ProcessPoolOptions {
  denoPath: string;
  bootTimeoutMs: number;
  /** Extra flags for `deno run` for this function (the service's own, then its deno.json / import map). */
  denoArgs(name: string, entrypoint: string): string[];
  /** The environment of a new process. */
  env(): Record<string, string>;
  log(message: string): void;
}

/**
 * One Deno process per function, started on its first request and again after it dies; one
 * boot at a time per function, however many requests wait for it. `retire` replaces processes
 * whose files changed; `stop` ends them all, including those still booting.
 */
export class FunctionProcessPool {
  private readonly running = new Map<string, FunctionProcess>();
  /** Every Deno process alive, including ones still booting or being replaced. */
  private readonly spawned = new Set<FunctionProcess>();
  private readonly booting = new Map<string, Promise<FunctionProcess>>();
  private stopping = false;

  constructor(private readonly options: ProcessPoolOptions) {}

  /** The running process of this function, booting it first when there is none. */
  processFor(name: string, entrypoint: string): Promise<FunctionProcess> {
    const current = this.running.get(name);
    if (current?.alive && current.port !== null) return Promise.resolve(current);
    let pending = this.booting.get(name);
    if (!pending) {
      pending = this.boot(name, entrypoint).then(
        async (proc) => {
          this.booting.delete(name);
          if (this.stopping) {
            await proc.stop();
            throw new BootError('the functions service is stopping', '');
          }
          this.running.set(name, proc);
          return proc;
        },
        (error) => {
          this.booting.delete(name);
          throw error;
        },
      );
      this.booting.set(name, pending);
    }
    return pending;
  }

  private async boot(name: string, entrypoint: string): Promise<FunctionProcess> {
    const { log } = this.options;
    const proc = new FunctionProcess({
      name,
      denoPath: this.options.denoPath,
      entrypoint,
      cwd: dirname(entrypoint),
      env: this.options.env(),
      extraArgs: this.options.denoArgs(name, entrypoint),
      bootTimeoutMs: this.options.bootTimeoutMs,
      log: (text) => log(`[${name}] ${text}`),
    });
    this.spawned.add(proc);
    void proc.exited.then((code) => {
      this.spawned.delete(proc);
      if (this.running.get(name) === proc) this.running.delete(name);
      if (!this.stopping && !proc.stopRequested) log(`[${name}] deno process ${proc.pid} exited (${code})`);
    });
    try {
      const port = await proc.ready();
      log(`[${name}] serving from ${entrypoint} (deno pid ${proc.pid}, port ${port})`);
      return proc;
    } catch (error) {
      await proc.stop();
      throw error;
    }
  }

  /**
   * The next request of these functions (null: of all) starts a new process; the old one
   * finishes the requests it has in flight first.
   */
  retire(names: string[] | null): void {
    const targets = names === null ? [...this.running.keys()] : names.filter((n) => this.running.has(n));
    for (const name of targets) {
      const proc = this.running.get(name);
      if (!proc) continue;
      this.running.delete(name);
      this.options.log(`[${name}] files changed: restarting on next request`);
      void proc.retire(reloadGraceMs);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.spawned].map((proc) => proc.stop()));
    await Promise.allSettled([...this.booting.values()]);
    this.running.clear();
  }

  list(): { name: string; pid: number | undefined; port: number | null }[] {
    return [...this.running.entries()].map(([name, proc]) => ({ name, pid: proc.pid, port: proc.port }));
  }
}
