// Linearizable reads next to the continuous writer: each read asks for the
// key the writer acknowledged last before the read was sent, through the same
// kind of endpoints, so a read that misses it (or returns another value) is a
// stale read. Failed reads are counted like failed writes, retried once on
// the next member when asked. Paced and bounded by the writer's life.
import type { KubeClient } from '../kube/client.js';
import { memberEndpoints, MemberClients, type ClientTLS, type Endpoint } from './etcd-client.js';
import { sleep } from './util.js';
import type { ContinuousWriter, EndpointSource } from './writer.js';

export interface ReaderOptions {
  kube: KubeClient;
  namespace: string;
  cluster: string;
  tls: ClientTLS | undefined;
  writer: ContinuousWriter;
  source?: EndpointSource;
  /** Pause between two reads. */
  pauseMs?: number;
  retryOnce?: boolean;
  /** How often the endpoints are re-read (default 1 s). */
  refreshMs?: number;
  /** Deadline of one read (default 1 s: a read that waits on a member gone away fails over sooner). */
  timeoutMs?: number;
  maxDurationMs: number;
}

export interface ReaderReport {
  reads: number;
  failed: number;
  failedAfterRetry: number;
  /** Reads that did not return a write acknowledged before they were sent. */
  stale: string[];
  /** Longest stretch without a successful read, in ms. */
  longestGapMs: number;
  errors: Map<string, number>;
}

export class LinearizableReader {
  private readonly clients: MemberClients;
  private endpoints: Endpoint[] = [];
  private stopped = false;
  private running: Promise<void> | undefined;
  private reads = 0;
  private failed = 0;
  private failedAfterRetry = 0;
  private readonly stale: string[] = [];
  private lastOk = Date.now();
  private longestGapMs = 0;
  private readonly errors = new Map<string, number>();

  constructor(private readonly opts: ReaderOptions) {
    this.clients = new MemberClients(opts.tls);
  }

  start(): this {
    const deadline = Date.now() + this.opts.maxDurationMs;
    this.running = Promise.all([this.refresh(deadline), this.loop(deadline)]).then(() => undefined);
    return this;
  }

  async stop(): Promise<ReaderReport> {
    this.stopped = true;
    await this.running;
    this.clients.close();
    return this.report();
  }

  report(): ReaderReport {
    return {
      reads: this.reads,
      failed: this.failed,
      failedAfterRetry: this.failedAfterRetry,
      stale: [...this.stale],
      longestGapMs: Math.max(this.longestGapMs, Date.now() - this.lastOk),
      errors: new Map(this.errors),
    };
  }

  /** Starts measuring the longest gap afresh (from now). */
  resetLongestGap(): void {
    this.longestGapMs = 0;
    this.lastOk = Date.now();
  }

  errorSummary(): string {
    return [...this.errors].map(([k, v]) => `${v}x ${k}`).join('; ') || 'none';
  }

  private async refresh(deadline: number): Promise<void> {
    while (!this.stopped && Date.now() < deadline) {
      try {
        this.endpoints = await (this.opts.source ?? memberEndpoints)(this.opts.kube, this.opts.namespace, this.opts.cluster);
      } catch {
        // keep the last known endpoints
      }
      await sleep(this.opts.refreshMs ?? 1000);
    }
  }

  private async loop(deadline: number): Promise<void> {
    let target = 0;
    while (!this.stopped && Date.now() < deadline) {
      const eps = this.endpoints;
      const want = this.opts.writer.lastAcknowledged;
      if (eps.length === 0 || !want) {
        await sleep(200);
        continue;
      }
      const [key, value] = want;
      const tries = this.opts.retryOnce ? 2 : 1;
      for (let attempt = 1; attempt <= tries; attempt++) {
        const ep = eps[target % eps.length];
        target++; // spread reads over the members, as a Service does
        try {
          this.reads++;
          const got = await this.clients.get(ep).get(key, false, this.opts.timeoutMs ?? 1000);
          if (got !== value) this.stale.push(`${key} on ${ep.name}: got ${got ?? '(none)'}, want ${value}`);
          const now = Date.now();
          this.longestGapMs = Math.max(this.longestGapMs, now - this.lastOk);
          this.lastOk = now;
          break;
        } catch (e) {
          this.failed++;
          const msg = (e as Error).message.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, '<addr>').slice(0, 80);
          this.errors.set(msg, (this.errors.get(msg) ?? 0) + 1);
          if (attempt < tries) continue;
          if (this.opts.retryOnce) this.failedAfterRetry++;
        }
      }
      await sleep(this.opts.pauseMs ?? 100);
    }
  }
}
