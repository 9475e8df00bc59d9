/**
 * At most `perKey` tasks at a time per key (a transport's destination: a webhook URL's origin, an
 * email provider), so one slow or failing endpoint holds only its own slots, never the others'.
 */
export class KeyedLimiter {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();
  private queued = 0;

  /** `onQueue` is told when a task starts waiting for a busy key (its caller may start other work). */
  constructor(
    private readonly perKey: number,
    private readonly onQueue: () => void = () => {},
  ) {
    if (!Number.isInteger(perKey) || perKey < 1) throw new RangeError('perKey must be a positive integer');
  }

  /** Tasks waiting for a busy key, over all keys. */
  waitingTotal(): number {
    return this.queued;
  }

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    await this.acquire(key);
    try {
      return await task();
    } finally {
      this.release(key);
    }
  }

  /** Tasks running for this key now. */
  running(key: string): number {
    return this.active.get(key) ?? 0;
  }

  private acquire(key: string): Promise<void> {
    const count = this.active.get(key) ?? 0;
    if (count < this.perKey) {
      this.active.set(key, count + 1);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const queue = this.waiting.get(key) ?? [];
      queue.push(() => {
        this.queued--;
        resolve();
      });
      this.waiting.set(key, queue);
      this.queued++;
      this.onQueue();
    });
  }

  private release(key: string): void {
    const queue = this.waiting.get(key);
    const next = queue?.shift();
    if (queue && queue.length === 0) this.waiting.delete(key);
    if (next) {
      next(); // the slot passes to the next task of this key
      return;
    }
    const count = (this.active.get(key) ?? 1) - 1;
    if (count <= 0) this.active.delete(key);
    else this.active.set(key, count);
  }
}
