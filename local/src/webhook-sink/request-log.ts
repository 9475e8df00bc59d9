/**
 * The recorded requests, oldest first and bounded, and the control API's long polls waiting for
 * them: every change (a request recorded, answered or abandoned) wakes the waiters to look again.
 */
import type { Socket } from 'node:net';
import type { RecordedRequest } from './types.ts';

export class RequestLog {
  private readonly entries: RecordedRequest[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(private readonly maxRequests: number) {}

  /** Records a request on arrival; the oldest are dropped past the bound. */
  add(entry: RecordedRequest): void {
    this.entries.push(entry);
    if (this.entries.length > this.maxRequests)
      this.entries.splice(0, this.entries.length - this.maxRequests);
    this.changed();
  }

  /** Wakes every waiter to look again (after a recorded request changed, or when the sink stops). */
  changed(): void {
    for (const wake of [...this.waiters]) wake();
  }

  all(): RecordedRequest[] {
    return [...this.entries];
  }

  /** Those of one path and / or one method (null = any). */
  matching(path: string | null, method: string | null): RecordedRequest[] {
    return this.entries.filter(
      (r) => (path === null || r.path === path) && (method === null || r.method === method.toUpperCase()),
    );
  }

  find(id: string): RecordedRequest | undefined {
    return this.entries.find((r) => r.id === id);
  }

  /** Forgets every request; returns how many there were. */
  clear(): number {
    const cleared = this.entries.length;
    this.entries.length = 0;
    return cleared;
  }

  /** Resolves once `ready()` holds after a change, after `ms`, or when the client's socket closes. */
  waitFor(ready: () => boolean, ms: number, socket: Socket): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        socket.off('close', done);
        resolve();
      };
      const check = () => {
        if (ready()) done();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(check);
      socket.once('close', done);
    });
  }
}
