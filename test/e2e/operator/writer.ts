// A bounded continuous writer: puts unique keys `<prefix><seq>` into the
// cluster from the test process and remembers every key whose Put was
// acknowledged. It follows the cluster's pods (or the client Service's ready
// backends; re-read every second) and moves to the next member after a
// failure, so it keeps writing through scaling and pod deletions. Bounded in count and in time, and paced,
// because the machine is small and shared.
import type { KubeClient } from '../kube/client.js';
import { memberEndpoints, MemberClients, type ClientTLS, type Endpoint } from './etcd-client.js';
import { sleep } from './util.js';

export interface WriterOptions {
  kube: KubeClient;
  namespace: string;
  cluster: string;
  tls: ClientTLS | undefined;
  prefix: string;
  /** Stop after this many attempted puts. */
  maxWrites: number;
  /** Stop after this long, even if `stop()` was never called. */
  maxDurationMs: number;
  /** Concurrent puts. */
  concurrency?: number;
  /** Pause between two puts of one lane. */
  pauseMs?: number;
  /** Where the writes go: every running member pod (default), or the client Service's ready backends. */
  source?: EndpointSource;
  /**
   * Retry a failed put once, at once, on the next member (same key and value,
   * so a put applied twice changes nothing): the report then also counts the
   * puts that failed twice, i.e. what a client retrying once would see.
   */
  retryOnce?: boolean;
  /**
   * Pause before that retry (default 0: at once). A leadership transfer
   * answers "leader changed" / "no leader" for up to an election, which
   * etcd's own client rides out with a backoff.
   */
  retryDelayMs?: number;
  /** How often the endpoints are re-read (default 1 s; a Service's follow its EndpointSlices closely, as kube-proxy does). */
  refreshMs?: number;
  /**
   * Re-read with the endpoints: a client that follows its certificate Secret
   * (as one mounting it does), so a CA rotation changes the certificate and
   * trusted CAs of new connections.
   */
  tlsSource?: () => Promise<ClientTLS>;
}

/** Lists the endpoints to send requests to. */
export type EndpointSource = (kube: KubeClient, namespace: string, cluster: string) => Promise<Endpoint[]>;

export interface WriterReport {
  attempted: number;
  acknowledged: number;
  failed: number;
  /** Puts that failed on their retry too (counted only with `retryOnce`). */
  failedAfterRetry: number;
  /** Longest stretch without any acknowledged write, in ms (availability during disruptions). */
  longestGapMs: number;
  errors: Map<string, number>;
}

export class ContinuousWriter {
  /** Every acknowledged key with its value. */
  readonly acknowledged = new Map<string, string>();
  private clients: MemberClients;
  private tls: ClientTLS | undefined;
  /** Times the client's TLS material changed (tlsSource). */
  tlsReloads = 0;
  private endpoints: Endpoint[] = [];
  private seq = 0;
  private failed = 0;
  private failedAfterRetry = 0;
  private stopped = false;
  private lastAck = Date.now();
  private longestGapMs = 0;
  private readonly errors = new Map<string, number>();
  private running: Promise<void> | undefined;
  private last: [string, string] | undefined;

  constructor(private readonly opts: WriterOptions) {
    this.tls = opts.tls;
    this.clients = new MemberClients(opts.tls);
  }

  start(): this {
    const deadline = Date.now() + this.opts.maxDurationMs;
    const refresher = this.refreshEndpoints(deadline);
    const lanes = Array.from({ length: this.opts.concurrency ?? 2 }, (_, i) => this.lane(i, deadline));
    this.running = Promise.all([refresher, ...lanes]).then(() => undefined);
    return this;
  }

  /** The last acknowledged key and its value (what a read that starts now must see). */
  get lastAcknowledged(): [string, string] | undefined {
    return this.last;
  }

  /** Number of acknowledged writes so far. */
  get count(): number {
    return this.acknowledged.size;
  }

  /** Resolves once `n` more writes than now have been acknowledged (proves the writer is making progress). */
  async progressed(n: number, timeoutMs: number): Promise<void> {
    const target = this.acknowledged.size + n;
    const deadline = Date.now() + timeoutMs;
    while (this.acknowledged.size < target) {
      if (Date.now() > deadline) throw new Error(`writer made no progress: ${this.acknowledged.size}/${target} acknowledged after ${timeoutMs}ms; errors ${this.errorSummary()}`);
      if (this.stopped) throw new Error('writer stopped');
      if (this.seq >= this.opts.maxWrites) throw new Error(`writer used up its budget of ${this.opts.maxWrites} writes (${this.acknowledged.size} acknowledged); raise maxWrites`);
      await sleep(100);
    }
  }

  async stop(): Promise<WriterReport> {
    this.stopped = true;
    await this.running;
    this.clients.close();
    return this.report();
  }

  report(): WriterReport {
    return { attempted: this.seq, acknowledged: this.acknowledged.size, failed: this.failed, failedAfterRetry: this.failedAfterRetry, longestGapMs: Math.max(this.longestGapMs, Date.now() - this.lastAck), errors: new Map(this.errors) };
  }

  /** Starts measuring the longest gap afresh (from now). */
  resetLongestGap(): void {
    this.longestGapMs = 0;
    this.lastAck = Date.now();
  }

  errorSummary(): string {
    return [...this.errors].map(([k, v]) => `${v}x ${k}`).join('; ') || 'none';
  }

  private done(deadline: number): boolean {
    return this.stopped || Date.now() > deadline || this.seq >= this.opts.maxWrites;
  }

  private async refreshEndpoints(deadline: number): Promise<void> {
    while (!this.stopped && Date.now() < deadline && this.seq < this.opts.maxWrites) {
      try {
        this.endpoints = await (this.opts.source ?? memberEndpoints)(this.opts.kube, this.opts.namespace, this.opts.cluster);
      } catch {
        // keep the last known endpoints
      }
      if (this.opts.tlsSource) await this.reloadTLS(this.opts.tlsSource);
      await sleep(this.opts.refreshMs ?? 1000);
    }
  }

  /** New connections use the Secret's current material; the old clients finish what they carry, then close. */
  private async reloadTLS(source: () => Promise<ClientTLS>): Promise<void> {
    let next: ClientTLS;
    try {
      next = await source();
    } catch {
      return; // keep the last known material
    }
    const cur = this.tls;
    if (cur && cur.ca.equals(next.ca) && cur.cert.equals(next.cert) && cur.key.equals(next.key)) return;
    const old = this.clients;
    this.tls = next;
    this.clients = new MemberClients(next);
    this.tlsReloads++;
    setTimeout(() => old.close(), 10_000).unref();
  }

  private async lane(lane: number, deadline: number): Promise<void> {
    let target = lane;
    while (!this.done(deadline)) {
      const eps = this.endpoints;
      if (eps.length === 0) {
        await sleep(200);
        continue;
      }
      const key = `${this.opts.prefix}${String(this.seq++).padStart(8, '0')}`;
      const value = `${eps[target % eps.length].name}@${Date.now()}`;
      const tries = this.opts.retryOnce ? 2 : 1;
      for (let attempt = 1; attempt <= tries; attempt++) {
        const ep = eps[target % eps.length];
        try {
          await this.clients.get(ep).put(key, value);
          this.acknowledged.set(key, value);
          this.last = [key, value];
          const now = Date.now();
          this.longestGapMs = Math.max(this.longestGapMs, now - this.lastAck);
          this.lastAck = now;
          await sleep(this.opts.pauseMs ?? 20);
          break;
        } catch (e) {
          this.failed++;
          const msg = (e as Error).message.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, '<addr>').slice(0, 80);
          this.errors.set(msg, (this.errors.get(msg) ?? 0) + 1);
          target++; // try the next member
          if (attempt < tries) {
            if (this.opts.retryDelayMs) await sleep(this.opts.retryDelayMs);
            continue;
          }
          if (this.opts.retryOnce) this.failedAfterRetry++;
          await sleep(100);
        }
      }
    }
  }
}
