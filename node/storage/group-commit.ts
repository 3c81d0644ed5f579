// Group commit: work submitted while a commit is running waits and is then
// committed together, so many callers share one write and one fsync.
import { WalUnavailableError } from './errors.js';

interface Waiter<T> {
  item: T;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class GroupCommit<T> {
  private pending: Waiter<T>[] = [];
  private running = false;
  private scheduled = false;
  private closed = false;
  private failure: Error | undefined;
  private idleWaiters: (() => void)[] = [];
  private batchCount = 0;

  /** `commit` must make every item durable, in order, before resolving. */
  constructor(private readonly commit: (items: T[]) => Promise<void>) {}

  /** Resolves once `item` is durable; rejects if its batch failed. */
  submit(item: T): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new WalUnavailableError('wal: closed'));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Number of commits run so far. */
  get batches(): number {
    return this.batchCount;
  }

  /** Resolves when everything submitted so far has been committed or failed. */
  drain(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses new work and waits for what was already submitted. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drain();
  }

  private isIdle(): boolean {
    return !this.running && !this.scheduled && this.pending.length === 0;
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    // Start on a microtask so that everything submitted in the same turn of
    // the event loop lands in the first batch.
    queueMicrotask(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      this.batchCount += 1;
      try {
        await this.commit(batch.map((w) => w.item));
      } catch (err) {
        this.fail(batch, err);
        break;
      }
      for (const waiter of batch) waiter.resolve();
    }
    this.running = false;
    for (const notify of this.idleWaiters.splice(0)) notify();
  }

  // After a failed write or fsync the file's contents are unknown (the kernel
  // may already have dropped the dirty pages), so nothing more is accepted.
  private fail(batch: Waiter<T>[], err: unknown): void {
    this.failure = new WalUnavailableError(`wal: write failed, refusing further writes: ${String(err)}`, { cause: err });
    for (const waiter of batch.concat(this.pending)) waiter.reject(this.failure);
    this.pending = [];
  }
}
