import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import http from 'node:http';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The Deno-side script every function process runs as its main module. */
export const bootstrapPath = join(dirname(fileURLToPath(import.meta.url)), 'bootstrap.js');

/** Line the bootstrap prints on stdout once the function's server listens: `<marker> <port>`. */
export const readyMarker = '__supadispatch_ready__';
/** Header the bootstrap puts on the 500 it answers when the handler throws (body: `{stack}`). */
export const functionErrorHeader = 'x-supadispatch-function-error';

/**
 * Flags of every `deno run`: all permissions (Supabase's runtime does not prompt either),
 * no lock file written into the user's project, and `npm:` specifiers resolved from the
 * project's existing node_modules (no registry, works offline).
 */
export const denoRunFlags = ['run', '--allow-all', '--no-prompt', '--no-lock', '--node-modules-dir=manual'];

export class BootError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
    this.name = 'BootError';
  }
}

export interface FunctionProcessOptions {
  name: string;
  denoPath: string;
  /** Absolute path of the function's entrypoint (index.ts). */
  entrypoint: string;
  cwd: string;
  /** Complete environment of the process (nothing else is inherited). */
  env: Record<string, string>;
  /** Extra deno flags placed before the script (e.g. --import-map=...). */
  extraArgs: string[];
  bootTimeoutMs: number;
  /** One call per batch of output lines of the process. */
  log: (message: string) => void;
}

/** One Deno process serving one Edge Function on 127.0.0.1:<port>. */
export class FunctionProcess {
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  readonly exited: Promise<number | null>;
  port: number | null = null;
  alive = true;
  /** Set once stop() was called: the exit that follows is expected. */
  stopRequested = false;
  /** Requests being proxied to this process right now. */
  inflight = 0;
  private retireWhenIdle: (() => void) | null = null;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly recent: string[] = [];
  private readyPromise: Promise<number> | undefined;

  constructor(readonly options: FunctionProcessOptions) {
    const args = [...denoRunFlags, ...options.extraArgs, bootstrapPath];
    this.child = spawn(options.denoPath, args, {
      cwd: options.cwd,
      env: {
        ...options.env,
        SUPADISPATCH_INTERNAL_ENTRYPOINT: pathToFileURL(options.entrypoint).href,
        SUPADISPATCH_INTERNAL_FUNCTION: options.name,
        SUPADISPATCH_INTERNAL_READY_MARKER: readyMarker,
        SUPADISPATCH_INTERNAL_ERROR_HEADER: functionErrorHeader,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.alive = false;
        this.agent.destroy();
        resolve(code ?? (signal ? -1 : null));
      });
      this.child.once('error', () => {
        this.alive = false;
        this.agent.destroy();
        resolve(null);
      });
    });
    // The child exits on its own when stdin closes; a broken pipe must not crash the stack.
    this.child.stdin.on('error', () => {});
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves with the port once the function listens; rejects with BootError if it dies or times out. */
  ready(): Promise<number> {
    this.readyPromise ??= this.waitUntilListening();
    return this.readyPromise;
  }

  private waitUntilListening(): Promise<number> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | null, port?: number) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(port as number);
      };
      const timer = setTimeout(() => {
        finish(new BootError(`did not start listening within ${this.options.bootTimeoutMs} ms`, this.tail()));
        void this.stop();
      }, this.options.bootTimeoutMs);
      timer.unref();
      this.pipeLines(this.child.stdout, (port) => {
        this.port = port;
        finish(null, port);
      });
      this.pipeLines(this.child.stderr, null);
      this.child.once('error', (error) =>
        finish(new BootError(`could not start deno: ${error.message}`, '')),
      );
      void this.exited.then((code) =>
        finish(new BootError(`deno exited with code ${code} before listening`, this.tail())),
      );
    });
  }

  /** Counts a proxied request; the returned function marks it done. */
  track(): () => void {
    this.inflight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.inflight--;
      if (this.inflight === 0) this.retireWhenIdle?.();
    };
  }

  /**
   * Stops the process once its in-flight requests are answered (new requests already go to a
   * replacement), or after `graceMs` at the latest. Used when the function's files change.
   */
  retire(graceMs: number): Promise<void> {
    if (this.inflight === 0) return this.stop();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.retireWhenIdle?.(), graceMs);
      timer.unref();
      this.retireWhenIdle = () => {
        this.retireWhenIdle = null;
        clearTimeout(timer);
        void this.stop().then(resolve);
      };
    });
  }

  /** Ends the process: closes stdin (the bootstrap exits on EOF), SIGTERM, SIGKILL after a grace period. */
  async stop(graceMs = 2000): Promise<void> {
    this.stopRequested = true;
    if (!this.alive) {
      await this.exited;
      return;
    }
    this.child.stdin.end();
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.alive) this.child.kill('SIGKILL');
    }, graceMs);
    timer.unref();
    await this.exited;
    clearTimeout(timer);
  }

  private tail(): string {
    return this.recent.join('\n');
  }

  private pipeLines(stream: Readable, onReady: ((port: number) => void) | null): void {
    let pending = '';
    const emit = (lines: string[]) => {
      const kept: string[] = [];
      for (const line of lines) {
        const match = onReady ? new RegExp(`^${readyMarker} (\\d+)$`).exec(line) : null;
        if (match && onReady) onReady(Number(match[1]));
        else if (line.trim() !== '') kept.push(line);
      }
      if (kept.length === 0) return;
      this.recent.push(...kept);
      if (this.recent.length > 40) this.recent.splice(0, this.recent.length - 40);
      this.options.log(kept.join('\n'));
    };
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (pending + chunk).split('\n');
      pending = parts.pop() ?? '';
      emit(parts.map((line) => line.replace(/\r$/, '')));
    });
    stream.on('end', () => {
      if (pending) emit([pending]);
      pending = '';
    });
  }
}
