// Uploads snapshot messages to one peer, each on a connection of its own, and
// reports every outcome exactly once (unless stopped first). Outcomes are
// reported on a later turn, never from inside send().
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Message, NodeId } from '../raft/types.js';
import { postSnapshot } from './client.js';
import { encodeMessageParts } from './codec.js';
import type { TransportMetrics } from './metrics.js';
import { dialHeaders, formatId, type Identity } from './protocol.js';
import type { PeerTlsOptions } from './tls.js';

export interface SnapshotSenderOptions {
  id: NodeId;
  self: Identity;
  tls: PeerTlsOptions | undefined;
  /** An upload that makes no progress for this long fails. */
  timeoutMs: number;
  metrics: TransportMetrics;
  log: Logger;
  onStatus: (ok: boolean) => void;
}

export class SnapshotSender {
  private readonly abort = new AbortController();
  private readonly label: { To: string };

  constructor(private readonly opts: SnapshotSenderOptions) {
    this.label = { To: formatId(opts.id) };
  }

  send(m: Message, url: string | undefined): void {
    if (this.abort.signal.aborted) return;
    let body: [Uint8Array, Uint8Array];
    try {
      if (url === undefined) throw new Error('the peer has no URLs');
      body = encodeMessageParts(m);
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'cannot send a snapshot');
      this.done(false);
      return;
    }
    const { metrics, log } = this.opts;
    const bytes = body[0].length + body[1].length;
    const index = m.snapshot?.meta.index;
    const started = performance.now();
    log.info({ index, bytes, url }, 'sending a snapshot');
    const settings = { tls: this.opts.tls, timeoutMs: this.opts.timeoutMs, signal: this.abort.signal };
    postSnapshot(url, dialHeaders(this.opts.self, this.opts.id), body, settings).then(
      () => {
        const seconds = (performance.now() - started) / 1000;
        metrics.sentBytes.inc(this.label, bytes);
        metrics.snapshotSendSuccess.inc(this.label);
        metrics.snapshotSendSeconds.observe(this.label, seconds);
        log.info({ index, bytes, seconds }, 'snapshot delivered');
        this.done(true);
      },
      (err: unknown) => {
        metrics.snapshotSendFailures.inc(this.label);
        metrics.sentFailures.inc(this.label);
        if (!this.abort.signal.aborted) log.warn({ index, reason: err instanceof Error ? err.message : String(err) }, 'snapshot not delivered');
        this.done(false);
      },
    );
  }

  /** Cancels uploads in flight; their outcomes are not reported. */
  stop(): void {
    this.abort.abort();
  }

  private done(ok: boolean): void {
    setImmediate(() => {
      if (!this.abort.signal.aborted) this.opts.onStatus(ok);
    });
  }
}
