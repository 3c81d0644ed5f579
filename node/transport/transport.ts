// The peer transport: carries Raft messages between the members of one
// cluster over the peer port (etcd's 2380).
//
// Why HTTP/1.1 Upgrade to a raw framed stream (rather than HTTP/2 or a bare
// TCP protocol): one listener serves the message streams, snapshot uploads and
// a plain `GET /members` that curl or the operator can call, over http:// or
// https:// with ordinary server and client certificates; the identity check
// (cluster ID, target member) happens in readable HTTP headers with a real
// status and reason; and after the upgrade the socket is ours, so batching is
// one write of back-to-back frames with no per-frame HTTP/2 overhead. Each
// direction has its own connection (we dial every peer; every peer dials us),
// and snapshots travel on separate connections, so a large snapshot never sits
// in the same TCP buffer as heartbeats.
import { constants as bufferConstants } from 'node:buffer';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Message, NodeId } from '../raft/types.js';
import { PeerListener } from './listener.js';
import { createTransportMetrics, type TransportMetrics } from './metrics.js';
import { Peer, type PeerTuning } from './peer.js';
import { formatId, type Identity, type MemberInfo } from './protocol.js';
import type { PeerTlsOptions } from './tls.js';
import type { BoundPort } from '../bound-port.js';

export interface TransportTuning extends PeerTuning {
  /** Largest snapshot upload accepted. */
  maxSnapshotBytes: number;
  /** An inbound stream silent for this long (no message, no ping) is closed. */
  idleTimeoutMs: number;
}

export const DEFAULT_TUNING: Readonly<TransportTuning> = {
  // etcd's stream buffer is 4096 messages.
  maxQueueMessages: 4096,
  maxQueueBytes: 64 * 1024 * 1024,
  maxBatchBytes: 256 * 1024,
  maxFrameBytes: 64 * 1024 * 1024,
  maxSnapshotBytes: bufferConstants.MAX_LENGTH,
  dialTimeoutMs: 5000,
  backoffInitialMs: 50,
  backoffMaxMs: 2000,
  pingIntervalMs: 1000,
  deadAfterMs: 10_000,
  idleTimeoutMs: 15_000,
  snapshotTimeoutMs: 30_000,
  unreachableReportMs: 100,
};

export interface PeerTransportOptions {
  selfId: NodeId;
  clusterId: number;
  /** Where to accept peers, e.g. http://0.0.0.0:2380 or https://10.0.0.5:2380 (port 0 picks one). */
  listenUrl: string;
  /**
   * The peer port, already bound by the caller (a member binds every port
   * before it joins Raft); start() accepts on it instead of binding
   * listenUrl, and stop() closes it.
   */
  bound?: BoundPort;
  tls?: PeerTlsOptions;
  logger: Logger;
  /** Where the etcd_network_* metrics go; a private registry when absent. */
  registry?: Registry;
  /** Every message a peer sent us, in order per peer. Local-only and misrouted messages never arrive here. */
  onMessage: (m: Message) => void;
  /** A peer could not be sent to (dropped messages); called at most once per unreachableReportMs. */
  onUnreachable?: (id: NodeId) => void;
  /** A snapshot message was handed to the peer's Raft (true) or could not be (false). */
  onSnapshotStatus?: (id: NodeId, ok: boolean) => void;
  /** The member list GET /members reports (a joining member finds its ID there); IDs only when absent. */
  members?: () => MemberInfo[];
  tuning?: Partial<TransportTuning>;
}

/** The default peer port, as etcd's. */
const DEFAULT_PEER_PORT = 2380;

export class PeerTransport {
  private readonly self: Identity;
  private readonly tuning: TransportTuning;
  private readonly metrics: TransportMetrics;
  private readonly log: Logger;
  private readonly listener: PeerListener;
  private readonly peers = new Map<NodeId, Peer>();
  private readonly host: string;
  private port: number;
  private readonly scheme: 'http' | 'https';
  private state: 'new' | 'started' | 'stopped' = 'new';
  private lastUnknownLogged = -Infinity;

  constructor(private readonly opts: PeerTransportOptions) {
    this.self = { memberId: opts.selfId, clusterId: opts.clusterId };
    this.tuning = { ...DEFAULT_TUNING, ...opts.tuning };
    this.metrics = createTransportMetrics(opts.registry ?? new Registry());
    this.log = opts.logger.child({ component: 'transport' });
    const url = new URL(opts.listenUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`peer listen URL ${opts.listenUrl} must be http:// or https://`);
    if (url.protocol === 'https:' && !opts.tls) throw new Error(`peer listen URL ${opts.listenUrl} is https but no peer TLS certificate was given`);
    this.scheme = url.protocol === 'https:' ? 'https' : 'http';
    // URL keeps IPv6 literals bracketed; listen() wants them bare.
    this.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = url.port === '' ? DEFAULT_PEER_PORT : Number(url.port);
    this.listener = new PeerListener({
      self: this.self,
      ...(this.scheme === 'https' && { tls: opts.tls }),
      logger: this.log,
      metrics: this.metrics,
      deliver: opts.onMessage,
      ...(opts.members && { members: opts.members }),
      maxFrameBytes: this.tuning.maxFrameBytes,
      maxSnapshotBytes: this.tuning.maxSnapshotBytes,
      idleTimeoutMs: this.tuning.idleTimeoutMs,
      // A dialer pings every pingIntervalMs; three missed pings and its stream may be replaced.
      liveStreamMs: 3 * this.tuning.pingIntervalMs,
      knownPeer: (id) => this.peers.has(id),
    });
  }

  /** The URL peers can dial, with the port actually bound (useful with port 0). */
  get url(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `${this.scheme}://${host}:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`peer transport cannot start: it is ${this.state}`);
    this.state = 'started';
    if (this.opts.bound) {
      this.listener.serve(this.opts.bound);
      this.port = this.opts.bound.port;
    } else {
      const { port } = await this.listener.listen(this.port, this.host);
      this.port = port;
    }
    this.log.info({ url: this.url, member: formatId(this.self.memberId), cluster: formatId(this.self.clusterId) }, 'listening for peers');
  }

  addPeer(id: NodeId, urls: string[]): void {
    if (this.state === 'stopped' || id === this.self.memberId) return;
    if (this.peers.has(id)) {
      this.updatePeer(id, urls);
      return;
    }
    const peer = new Peer({
      id,
      urls,
      self: this.self,
      tls: this.opts.tls,
      tuning: this.tuning,
      metrics: this.metrics,
      logger: this.log,
      onUnreachable: (peerId) => this.opts.onUnreachable?.(peerId),
      onSnapshotStatus: (peerId, ok) => this.opts.onSnapshotStatus?.(peerId, ok),
    });
    this.peers.set(id, peer);
    this.log.info({ peer: formatId(id), urls }, 'added peer');
  }

  removePeer(id: NodeId): void {
    const peer = this.peers.get(id);
    if (!peer) return;
    peer.stop();
    this.peers.delete(id);
    this.log.info({ peer: formatId(id) }, 'removed peer');
  }

  updatePeer(id: NodeId, urls: string[]): void {
    const peer = this.peers.get(id);
    if (!peer) {
      this.addPeer(id, urls);
      return;
    }
    peer.updateUrls(urls);
  }

  /**
   * Queues messages for their peers; they are written on a later turn of the
   * event loop, with whatever else this turn sends. Never blocks, never
   * throws. Losses are reported through onUnreachable.
   */
  send(messages: Message[]): void {
    for (const m of messages) this.peerFor(m)?.send(m);
  }

  /**
   * As send(), but the messages are handed to the peer sockets before this
   * returns (as many as the sockets take): for a caller about to block the
   * event loop (the Raft loop, before a WAL fsync).
   */
  sendNow(messages: Message[]): void {
    for (const m of messages) this.peerFor(m)?.enqueue(m);
    for (const peer of this.peers.values()) peer.flush();
  }

  /** The peer a message goes to; undefined (counted and logged) for an unknown one. */
  private peerFor(m: Message): Peer | undefined {
    const peer = this.peers.get(m.to);
    if (peer) return peer;
    this.metrics.sentFailures.inc({ To: formatId(m.to) });
    const now = Date.now();
    if (now - this.lastUnknownLogged > 1000) {
      this.lastUnknownLogged = now;
      this.log.warn({ to: formatId(m.to) }, 'dropped a message for an unknown peer');
    }
    return undefined;
  }

  /** Messages queued for a peer (0 for an unknown peer). */
  queued(id: NodeId): number {
    return this.peers.get(id)?.queued ?? 0;
  }

  /** Encoded bytes queued for a peer. */
  queuedBytes(id: NodeId): number {
    return this.peers.get(id)?.queuedBytes ?? 0;
  }

  /** Whether the outbound stream to a peer is up. */
  isConnected(id: NodeId): boolean {
    return this.peers.get(id)?.connected ?? false;
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    const wasStarted = this.state === 'started';
    this.state = 'stopped';
    for (const peer of this.peers.values()) peer.stop();
    this.peers.clear();
    if (wasStarted) await this.listener.close();
    this.log.info('peer transport stopped');
  }
}
