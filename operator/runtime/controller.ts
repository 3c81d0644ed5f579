// Runs a reconcile function over the keys of a work queue with a few
// workers. A key is never reconciled by two workers at once (the queue
// guarantees it); an error puts the key back with exponential back-off, a
// result may ask for a later look (requeueAfterMs), and success forgets the
// key's failure count.
import type { Logger } from 'pino';
import type { OperatorMetrics } from './metrics.js';
import type { WorkQueue } from './workqueue.js';

export interface ReconcileResult {
  /** Look at the key again after this long even if nothing changes. */
  requeueAfterMs?: number;
}

export type Reconcile = (key: string) => Promise<ReconcileResult | void>;

export class Controller {
  private workers: Promise<void>[] = [];
  private stopped = false;

  constructor(
    private readonly queue: WorkQueue,
    private readonly reconcile: Reconcile,
    private readonly log: Logger,
    private readonly metrics: OperatorMetrics,
    private readonly concurrency = 2,
  ) {}

  start(): void {
    for (let i = 0; i < this.concurrency; i++) this.workers.push(this.worker());
  }

  /** Stops taking keys and waits for reconciles in progress to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.shutDown();
    await Promise.all(this.workers);
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined || this.stopped) return;
      this.metrics.queueDepth.set(this.queue.length);
      const end = this.metrics.reconcileDuration.startTimer();
      try {
        const result = await this.reconcile(key);
        this.queue.forget(key);
        // A later look (a periodic re-check, a step still in progress) is
        // not a failure: the reconcile did what it could this time.
        if (result?.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
        this.metrics.reconcileTotal.inc({ result: 'success' });
      } catch (err) {
        const [namespace, name] = key.split('/');
        this.metrics.reconcileTotal.inc({ result: 'error' });
        this.metrics.reconcileErrors.inc({ kvcluster_namespace: namespace, kvcluster: name });
        const delay = this.queue.addRateLimited(key);
        this.log.warn({ err, kvcluster: key, retryInMs: delay }, 'reconcile failed');
      } finally {
        end();
        this.queue.done(key);
      }
    }
  }
}
