// The sending half towards one peer: a bounded queue drained in batches into
// one persistent stream, reconnection with jittered exponential back-off, and
// ping frames for round-trip time and liveness. Snapshots are handed to a
// SnapshotSender, which uses connections of its own.
//
// States: connecting (a dial is in flight; messages queue), connected
// (messages flow), down (the last dial failed; messages are dropped at once,
// since Raft would rather hear "unreachable" than have stale messages
// delivered late), stopped.
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { MessageType, type Message, type NodeId } from '../raft/types.js';
import { dialStream, PeerRequestError } from './client.js';
import { FrameKind, FrameReader, encodeControlFrame, encodeMessageFrames, messageFrameSize } from './frames.js';
import type { TransportMetrics } from './metrics.js';
import { dialHeaders, formatId, type Identity } from './protocol.js';
import { MessageQueue } from './queue.js';
import { SnapshotSender } from './snapshot-sender.js';
import type { PeerTlsOptions } from './tls.js';

export interface PeerTuning {
  /** Queue bounds per peer; beyond them messages are dropped. */
  maxQueueMessages: number;
  maxQueueBytes: number;
  /** Upper size of one socket write when draining the queue. */
  maxBatchBytes: number;
  /** Largest message frame; the receiver closes a stream that exceeds its own limit. */
  maxFrameBytes: number;
  dialTimeoutMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  pingIntervalMs: number;
  /** A stream with no pong for this long is considered dead and redialed. */
  deadAfterMs: number;
  /** A snapshot upload that makes no progress for this long fails. */
  snapshotTimeoutMs: number;
  /** onUnreachable fires at most once per this interval per peer. */
  unreachableReportMs: number;
}

export interface PeerOptions {
  id: NodeId;
  urls: string[];
  self: Identity;
  tls: PeerTlsOptions | undefined;
  tuning: PeerTuning;
  metrics: TransportMetrics;
  logger: Logger;
  onUnreachable(id: NodeId): void;
  onSnapshotStatus(id: NodeId, ok: boolean): void;
}

type State = 'connecting' | 'connected' | 'down' | 'stopped';

// Bounds the work done in one event-loop turn when a long queue drains.
const MAX_WRITES_PER_TURN = 16;

export class Peer {
  private state: State = 'connecting';
  private urls: string[];
  private urlIndex = 0;
  private socket: Socket | undefined;
  private socketUrl = '';
  private readonly queue: MessageQueue;
  private flushScheduled = false;
  private awaitingDrain = false;
  /** Consecutive failed dials or short-lived connections; 0 once a pong proves the stream healthy. */
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private pingSeq = 0;
  private pingSentAt = 0;
  private awaitingPong = false;
  private lastPongAt = 0;
  private lastUnreachableReport = -Infinity;
  private lastFailureLogged = '';
  private readonly snapshots: SnapshotSender;
  private dialing: { url: string; abort: AbortController } | undefined;
  private readonly label: { To: string };
  private readonly pair: { Local: string; Remote: string };
  private readonly log: Logger;

  readonly id: NodeId;
  private readonly self: Identity;
  private readonly tls: PeerTlsOptions | undefined;
  private readonly tuning: PeerTuning;
  private readonly metrics: TransportMetrics;

  constructor(private readonly opts: PeerOptions) {
    const { id, self, tuning } = opts;
    this.id = id;
    this.self = self;
    this.tls = opts.tls;
    this.tuning = tuning;
    this.metrics = opts.metrics;
    this.urls = [...opts.urls];
    this.queue = new MessageQueue(tuning.maxQueueMessages, tuning.maxQueueBytes);
    this.label = { To: formatId(id) };
    this.pair = { Local: formatId(self.memberId), Remote: formatId(id) };
    this.log = opts.logger.child({ peer: formatId(id) });
    this.snapshots = new SnapshotSender({
      id,
      self,
      tls: opts.tls,
      timeoutMs: tuning.snapshotTimeoutMs,
      metrics: opts.metrics,
      log: this.log,
      onStatus: (ok) => opts.onSnapshotStatus(id, ok),
    });
    this.dial();
  }

  /** Messages waiting for the stream. */
  get queued(): number {
    return this.queue.length;
  }

  get queuedBytes(): number {
    return this.queue.byteLength;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /** Queues a message; it is written on a later turn of the event loop, with whatever else this turn queues. */
  send(m: Message): void {
    if (this.enqueue(m)) this.scheduleFlush();
  }

  /**
   * Queues a message for the caller's own flush(), scheduling no write of
   * its own; false if it was not queued (a snapshot, which goes its own way,
   * or a message dropped).
   */
  enqueue(m: Message): boolean {
    if (m.type === MessageType.Snap) {
      this.snapshots.send(m, this.currentUrl());
      return false;
    }
    if (this.state === 'down' || this.state === 'stopped') {
      this.dropped(1);
      return false;
    }
    let size: number;
    try {
      size = messageFrameSize(m);
    } catch (err) {
      this.log.error({ err: (err as Error).message, type: MessageType[m.type] }, 'cannot encode a message; dropped it');
      this.dropped(1);
      return false;
    }
    if (size > this.tuning.maxFrameBytes) {
      this.log.error({ bytes: size, limit: this.tuning.maxFrameBytes, type: MessageType[m.type] }, 'message exceeds the frame limit; dropped it');
      this.dropped(1);
      return false;
    }
    if (!this.queue.push(m, size)) {
      this.dropped(1);
      return false;
    }
    return true;
  }

  updateUrls(urls: string[]): void {
    this.urls = [...urls];
    this.urlIndex = 0;
    if (this.state === 'down') {
      clearTimeout(this.retryTimer);
      this.dial();
    } else if (this.state === 'connecting' && this.dialing && !this.urls.includes(this.dialing.url)) {
      this.dialing.abort.abort();
      this.dial();
    } else if (this.socket && !this.urls.includes(this.socketUrl)) {
      this.log.info({ urls }, 'peer URLs changed; reconnecting');
      this.socket.destroy();
    }
  }

  stop(): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.snapshots.stop();
    this.dialing?.abort.abort();
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    this.socket?.destroy();
    this.socket = undefined;
    this.queue.clear();
    this.metrics.activePeers.remove(this.pair);
  }

  // ---- connection lifecycle ------------------------------------------------

  private currentUrl(): string | undefined {
    return this.urls.length === 0 ? undefined : this.urls[this.urlIndex % this.urls.length];
  }

  private dial(): void {
    const url = this.currentUrl();
    if (url === undefined) {
      this.failed(new Error('the peer has no URLs'));
      return;
    }
    this.state = 'connecting';
    const attempt = new AbortController();
    this.dialing = { url, abort: attempt };
    const signal = attempt.signal;
    dialStream(url, dialHeaders(this.self, this.id), { tls: this.tls, timeoutMs: this.tuning.dialTimeoutMs, signal }).then(
      ({ socket, head }) => {
        if (signal.aborted) socket.destroy();
        else this.connectedTo(url, socket, head);
      },
      (err: unknown) => {
        // Aborted by stop() or by a URL change that already started a new dial.
        if (signal.aborted) return;
        this.urlIndex++;
        this.failed(err);
      },
    );
  }

  private connectedTo(url: string, socket: Socket, head: Buffer): void {
    this.dialing = undefined;
    if (!this.urls.includes(url)) {
      socket.destroy();
      this.dial();
      return;
    }
    const wasDown = this.failures > 0;
    this.state = 'connected';
    this.socket = socket;
    this.socketUrl = url;
    this.awaitingDrain = false;
    this.lastFailureLogged = '';
    this.metrics.activePeers.set(this.pair, 1);
    if (wasDown) this.log.info({ url }, 'peer stream connected');
    else this.log.debug({ url }, 'peer stream connected');

    const reader = new FrameReader(64, (kind, payload) => {
      if (kind === FrameKind.Pong && payload.length === 4) this.pong(payload.readUInt32BE(0));
    });
    const onData = (chunk: Buffer): void => {
      try {
        reader.push(chunk);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'corrupt answer on a peer stream; reconnecting');
        socket.destroy();
      }
    };
    socket.on('data', onData);
    socket.on('drain', () => {
      this.awaitingDrain = false;
      this.flush();
    });
    socket.on('error', (err: Error) => this.log.debug({ err: err.message }, 'peer stream error'));
    socket.once('close', () => this.disconnected(socket));
    if (head.length > 0) onData(head);

    this.lastPongAt = performance.now();
    this.awaitingPong = false;
    this.ping();
    this.pingTimer = setInterval(() => this.ping(), this.tuning.pingIntervalMs);
    this.pingTimer.unref();
    this.flush();
  }

  private disconnected(socket: Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    clearInterval(this.pingTimer);
    this.metrics.activePeers.set(this.pair, 0);
    if (this.state === 'stopped') return;
    this.metrics.disconnectedPeers.inc(this.pair);
    const healthy = this.failures === 0;
    this.failures++;
    if (healthy) {
      // A stream that was fine: redial at once; queued messages wait for it.
      this.log.warn('lost the peer stream; reconnecting');
      this.dial();
    } else {
      this.goDown();
    }
  }

  private failed(err: unknown): void {
    this.failures++;
    const message = err instanceof Error ? err.message : String(err);
    if (message !== this.lastFailureLogged) {
      this.lastFailureLogged = message;
      if (err instanceof PeerRequestError && err.peerCluster !== undefined && err.peerCluster !== this.self.clusterId) {
        this.log.error(
          { localCluster: formatId(this.self.clusterId), peerCluster: formatId(err.peerCluster), reason: message },
          'the peer belongs to another cluster; it refused the connection',
        );
      } else {
        this.log.warn({ reason: message }, 'cannot reach the peer');
      }
    }
    this.goDown();
  }

  private goDown(): void {
    this.state = 'down';
    const dropped = this.queue.clear();
    if (dropped > 0) this.dropped(dropped);
    else this.reportUnreachable();
    const ceiling = Math.min(this.tuning.backoffMaxMs, this.tuning.backoffInitialMs * 2 ** Math.min(this.failures - 1, 30));
    // Jitter keeps members that lost each other together from redialing in lockstep.
    const delay = ceiling / 2 + (Math.random() * ceiling) / 2;
    this.retryTimer = setTimeout(() => this.dial(), delay);
    this.retryTimer.unref();
  }

  // ---- sending -------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate rather than a microtask: everything Raft hands over in
    // this turn (often several calls) goes out in one write.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Writes the queued messages now (as many as one turn allows). */
  flush(): void {
    const socket = this.socket;
    if (this.state !== 'connected' || !socket || this.awaitingDrain) return;
    for (let writes = 0; writes < MAX_WRITES_PER_TURN && this.queue.length > 0; writes++) {
      const messages: Message[] = [];
      const sizes: number[] = [];
      const n = this.queue.take(messages, sizes, this.tuning.maxBatchBytes);
      const frames = encodeMessageFrames(messages, sizes, n);
      this.metrics.sentBytes.inc(this.label, frames.length);
      if (!socket.write(frames)) {
        this.awaitingDrain = true;
        return;
      }
    }
    if (this.queue.length > 0) this.scheduleFlush();
  }

  private ping(): void {
    const socket = this.socket;
    if (!socket) return;
    const now = performance.now();
    if (now - this.lastPongAt > this.tuning.deadAfterMs) {
      this.log.warn({ silentMs: Math.round(now - this.lastPongAt) }, 'the peer stopped answering pings; reconnecting');
      socket.destroy();
      return;
    }
    if (this.awaitingPong) return;
    this.pingSeq = (this.pingSeq + 1) >>> 0;
    this.pingSentAt = now;
    this.awaitingPong = true;
    socket.write(encodeControlFrame(FrameKind.Ping, this.pingSeq));
  }

  private pong(seq: number): void {
    if (!this.awaitingPong || seq !== this.pingSeq) return;
    const now = performance.now();
    this.awaitingPong = false;
    this.lastPongAt = now;
    this.failures = 0;
    this.metrics.roundTrip.observe(this.label, (now - this.pingSentAt) / 1000);
  }

  private dropped(count: number): void {
    this.metrics.sentFailures.inc(this.label, count);
    this.reportUnreachable();
  }

  private reportUnreachable(): void {
    const now = performance.now();
    if (now - this.lastUnreachableReport < this.tuning.unreachableReportMs) return;
    this.lastUnreachableReport = now;
    // Never call back into Raft from inside send(): the caller may be between
    // ready() and advance().
    setImmediate(() => {
      if (this.state !== 'stopped') this.opts.onUnreachable(this.id);
    });
  }
}
