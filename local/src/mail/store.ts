/** In-memory store of caught mail: bounded, ordered oldest first, with long-poll waiters. */

export interface MailAttachmentInfo {
  filename: string | null;
  contentType: string | null;
  size: number;
}

export interface MailMessage {
  id: string;
  /** As written by the sender, e.g. `Acme <no-reply@acme.test>`. */
  from: string;
  to: string[];
  cc: string[];
  /** API: the `bcc` field. SMTP: envelope recipients that are not in To or Cc. */
  bcc: string[];
  replyTo: string[];
  subject: string;
  html: string | null;
  text: string | null;
  /** Lower-cased header names. SMTP: every header of the message; API: the `headers` field given. */
  headers: Record<string, string>;
  tags: { name: string; value: string }[];
  attachments: MailAttachmentInfo[];
  receivedAt: string;
  via: 'smtp' | 'api';
  idempotencyKey: string | null;
  /** SMTP envelope (MAIL FROM / RCPT TO); null for API messages. */
  envelope: { from: string | null; to: string[] } | null;
}

export interface MessageFilter {
  /** Matches any recipient (To, Cc, Bcc, envelope), compared by bare address, case-insensitively. */
  to?: string | null;
}

/** `Name <a@b.c>` → `a@b.c`, lower-cased; a bare address is lower-cased. */
export function bareAddress(address: string): string {
  const match = /<([^<>]*)>\s*$/.exec(address);
  return (match ? match[1] : address).trim().toLowerCase();
}

export class MailStore {
  private readonly messages: MailMessage[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(private readonly max = 1000) {}

  add(message: MailMessage): void {
    this.messages.push(message);
    if (this.messages.length > this.max) this.messages.splice(0, this.messages.length - this.max);
    for (const wake of [...this.waiters]) wake();
  }

  /** Oldest first (newest last). */
  list(filter: MessageFilter = {}): MailMessage[] {
    const to = filter.to ? bareAddress(filter.to) : null;
    if (!to) return [...this.messages];
    return this.messages.filter((m) =>
      [...m.to, ...m.cc, ...m.bcc, ...(m.envelope?.to ?? [])].some((a) => bareAddress(a) === to),
    );
  }

  get(id: string): MailMessage | undefined {
    return this.messages.find((m) => m.id === id);
  }

  delete(id: string): boolean {
    const index = this.messages.findIndex((m) => m.id === id);
    if (index < 0) return false;
    this.messages.splice(index, 1);
    return true;
  }

  clear(): number {
    const count = this.messages.length;
    this.messages.length = 0;
    return count;
  }

  /**
   * Resolves with the matching messages as soon as there is at least one, or with `[]` after
   * `ms`, or when `signal` aborts (client gone, server stopping).
   */
  async waitFor(filter: MessageFilter, ms: number, signal?: AbortSignal): Promise<MailMessage[]> {
    const now = this.list(filter);
    if (now.length > 0 || ms <= 0 || signal?.aborted) return now;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const check = () => {
        if (this.list(filter).length > 0) done();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(check);
      signal?.addEventListener('abort', done, { once: true });
    });
    return this.list(filter);
  }
}
