// The accepting side of the peer port. One HTTP(S) server carries:
//   GET  /raft/stream   (Upgrade) a long-lived stream of framed messages from one peer
//   POST /raft/snapshot one snapshot message, answered 204 once handed to Raft
//   GET  /members       this member's ID and cluster ID (and the member list when
//                       the application supplies it), for joiners and the operator
// Every stream and snapshot passes the identity check (protocol, cluster, target
// member) before a byte of it is decoded.
import { STATUS_CODES, createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { MessageType, type Message, type NodeId } from '../raft/types.js';
import { CodecError, decodeMessage } from './codec.js';
import { FillingBuffer } from './filling-buffer.js';
import { FrameKind, FrameReader, encodeControlFrame } from './frames.js';
import type { TransportMetrics } from './metrics.js';
import {
  HEADER_CLUSTER,
  HEADER_MEMBER,
  PATH_MEMBERS,
  PATH_SNAPSHOT,
  PATH_STREAM,
  UPGRADE_TOKEN,
  admit,
  formatId,
  membersDocument,
  type Identity,
  type MemberInfo,
} from './protocol.js';
import { peerCertificateProblem, serverTlsOptions, type PeerTlsOptions } from './tls.js';
import type { BoundPort } from '../bound-port.js';

export interface ListenerOptions {
  self: Identity;
  tls?: PeerTlsOptions;
  logger: Logger;
  metrics: TransportMetrics;
  /**
   * The cluster's members for GET /members; only IDs are served without it.
   * When given, streams and snapshots are taken only from these members.
   */
  members?: () => MemberInfo[];
  /**
   * An inbound stream that delivered a frame this recently is live: a newer
   * stream claiming the same sender is refused rather than displacing it
   * (the sender's own redial finds the old stream closed or silent).
   */
  liveStreamMs: number;
  /** A peer this member dials (a joining member knows its peers before its member list). */
  knownPeer?: (id: NodeId) => boolean;
  /** Called for every accepted message, in arrival order per stream. */
  deliver: (m: Message) => void;
  maxFrameBytes: number;
  maxSnapshotBytes: number;
  /** A stream that carries nothing (not even a ping) for this long is closed. */
  idleTimeoutMs: number;
}

// Types Raft only produces and consumes locally; RawNode.step refuses them.
const LOCAL_ONLY = new Set([MessageType.Hup, MessageType.SnapStatus, MessageType.Unreachable]);

/** Why a received message must not reach Raft, or undefined when it may. */
function misrouted(m: Message, from: NodeId, self: NodeId): string | undefined {
  if (m.from !== from) return `message claims to be from ${formatId(m.from)} on a stream from ${formatId(from)}`;
  if (m.to !== self) return `message for ${formatId(m.to)} arrived at ${formatId(self)}`;
  if (LOCAL_ONLY.has(m.type)) return `local-only message type ${MessageType[m.type]} arrived from the network`;
  return undefined;
}

export class PeerListener {
  private readonly server: Server;
  private readonly log: Logger;
  /** The current inbound stream per peer; a newer stream from the same peer replaces it. */
  private readonly streams = new Map<NodeId, Duplex>();
  /** When each current inbound stream last delivered a frame (performance.now()). */
  private readonly lastHeard = new Map<Duplex, number>();
  private readonly sockets = new Set<Socket>();
  private bound: BoundPort | undefined;

  constructor(private readonly opts: ListenerOptions) {
    this.log = opts.logger;
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.onRequest(req, res);
    this.server = opts.tls ? createHttpsServer(serverTlsOptions(opts.tls), handler) : createHttpServer(handler);
    // Snapshots may take long; liveness is judged by inactivity instead.
    this.server.requestTimeout = 0;
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server.on('tlsClientError', (err: Error, socket: Socket) => {
      this.log.warn({ err: err.message, remote: socket.remoteAddress }, 'refused a peer TLS connection');
    });
  }

  listen(port: number, host: string): Promise<{ port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const address = this.server.address();
        resolve({ port: typeof address === 'object' && address ? address.port : port });
      });
    });
  }

  /** Accepts on a port bound beforehand (see BoundPort) instead of listening itself. */
  serve(port: BoundPort): void {
    this.bound = port;
    // The HTTP(S) server does the rest (TLS handshake, parsing) as if it had accepted the socket.
    port.serve((socket) => this.server.emit('connection', socket));
  }

  /** Stops accepting and cuts every open connection. */
  close(): Promise<void> {
    const bound = this.bound?.close();
    return new Promise((resolve) => {
      // A server that never listened itself answers with ERR_SERVER_NOT_RUNNING; either way it is closed.
      this.server.close(() => void (bound ?? Promise.resolve()).then(() => resolve()));
      for (const s of this.sockets) s.destroy();
      for (const s of this.streams.values()) s.destroy();
      this.streams.clear();
    });
  }

  private identityHeaders(): Record<string, string> {
    return { [HEADER_CLUSTER]: formatId(this.opts.self.clusterId), [HEADER_MEMBER]: formatId(this.opts.self.memberId) };
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    for (const [k, v] of Object.entries(this.identityHeaders())) res.setHeader(k, v);
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === PATH_MEMBERS) {
      // etcd checks the allowed CN and hostname at the handshake, so they hold for every request.
      const badCert = peerCertificateProblem(this.opts.tls, req.socket);
      if (badCert) {
        this.logRefusal(badCert, req, false);
        req.resume();
        this.refuse(res, 403, badCert);
        return;
      }
      const body = JSON.stringify(membersDocument(this.opts.self, this.opts.members?.()));
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return;
    }
    if (req.method === 'POST' && path === PATH_SNAPSHOT) {
      this.receiveSnapshot(req, res);
      return;
    }
    req.resume();
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`no such peer endpoint: ${req.method} ${path}\n`);
  }

  private refuse(res: ServerResponse, status: number, reason: string): void {
    res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' }).end(reason + '\n');
  }

  private receiveSnapshot(req: IncomingMessage, res: ServerResponse): void {
    const admission = admit(this.opts.self, req.headers);
    if (!admission.ok) {
      this.logRefusal(admission.reason, req, admission.otherCluster === true);
      req.resume();
      this.refuse(res, admission.status, admission.reason);
      return;
    }
    const from = admission.from;
    const stranger = this.notAMember(from);
    if (stranger) {
      this.logRefusal(stranger, req, false);
      req.resume();
      this.refuse(res, 404, stranger);
      return;
    }
    const badCert = this.certificateProblem(from, req);
    if (badCert) {
      this.logRefusal(badCert, req, false);
      req.resume();
      this.refuse(res, 403, badCert);
      return;
    }
    const length = Number(req.headers['content-length']);
    if (!Number.isSafeInteger(length) || length <= 0 || length > this.opts.maxSnapshotBytes) {
      req.resume();
      this.refuse(res, 413, `snapshot needs a content-length in [1, ${this.opts.maxSnapshotBytes}]`);
      return;
    }
    const label = { From: formatId(from) };
    const fail = (status: number, reason: string): void => {
      this.opts.metrics.receivedFailures.inc(label);
      this.log.warn({ from: formatId(from), reason }, 'refused a snapshot');
      this.refuse(res, status, reason);
    };
    const body = new FillingBuffer(length);
    req.socket.setTimeout(this.opts.idleTimeoutMs, () => req.destroy());
    req.on('data', (chunk: Buffer) => {
      if (body.append(chunk) < chunk.length) req.destroy();
    });
    req.on('error', () => this.opts.metrics.receivedFailures.inc(label));
    req.on('end', () => {
      this.opts.metrics.receivedBytes.inc(label, body.length);
      if (!body.complete) return fail(400, `snapshot body has ${body.length} of ${length} bytes`);
      let m: Message;
      try {
        // The body buffer belongs to this message alone, so the snapshot data may share it.
        m = decodeMessage(body.bytes(), { alias: true });
      } catch (err) {
        return fail(400, err instanceof CodecError ? err.message : String(err));
      }
      if (m.type !== MessageType.Snap || !m.snapshot) return fail(400, `expected a snapshot message, got ${MessageType[m.type]}`);
      const wrong = misrouted(m, from, this.opts.self.memberId);
      if (wrong) return fail(400, wrong);
      try {
        this.opts.deliver(m);
      } catch (err) {
        this.log.error({ err, from: formatId(from) }, 'the application failed to take a snapshot message');
        return this.refuse(res, 500, 'the receiving member could not take the snapshot');
      }
      this.log.info({ from: formatId(from), index: m.snapshot.meta.index, bytes: length }, 'received a snapshot');
      res.writeHead(204).end();
    });
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    const token = String(req.headers.upgrade ?? '').toLowerCase();
    if (path !== PATH_STREAM || token !== UPGRADE_TOKEN) {
      writeRawResponse(socket, 404, `no stream endpoint ${path} for upgrade ${token}`, this.identityHeaders());
      return;
    }
    const admission = admit(this.opts.self, req.headers);
    if (!admission.ok) {
      this.logRefusal(admission.reason, req, admission.otherCluster === true);
      writeRawResponse(socket, admission.status, admission.reason, this.identityHeaders());
      return;
    }
    const stranger = this.notAMember(admission.from);
    if (stranger) {
      this.logRefusal(stranger, req, false);
      writeRawResponse(socket, 404, stranger, this.identityHeaders());
      return;
    }
    const badCert = this.certificateProblem(admission.from, req);
    if (badCert) {
      this.logRefusal(badCert, req, false);
      writeRawResponse(socket, 403, badCert, this.identityHeaders());
      return;
    }
    const previous = this.streams.get(admission.from);
    const heard = previous && this.lastHeard.get(previous);
    if (heard !== undefined && performance.now() - heard < this.opts.liveStreamMs) {
      const reason = `a live stream from member ${formatId(admission.from)} is already open`;
      this.logRefusal(reason, req, false);
      writeRawResponse(socket, 409, reason, this.identityHeaders());
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: ${UPGRADE_TOKEN}\r\n\r\n`);
    this.acceptStream(admission.from, socket, head);
  }

  private acceptStream(from: NodeId, socket: Duplex, head: Buffer): void {
    const previous = this.streams.get(from);
    if (previous) previous.destroy();
    this.streams.set(from, socket);
    this.lastHeard.set(socket, performance.now());
    const label = { From: formatId(from) };
    const self = this.opts.self.memberId;
    const log = this.log.child({ peer: formatId(from) });
    log.debug('accepted a message stream');

    const reader = new FrameReader(this.opts.maxFrameBytes, (kind, payload) => {
      this.lastHeard.set(socket, performance.now());
      if (kind === FrameKind.Message) {
        const m = decodeMessage(payload);
        const wrong = misrouted(m, from, self);
        if (wrong) {
          this.opts.metrics.receivedFailures.inc(label);
          log.warn({ reason: wrong }, 'dropped a misrouted message');
          return;
        }
        try {
          this.opts.deliver(m);
        } catch (err) {
          log.error({ err }, 'the application failed to take a message');
        }
      } else if (kind === FrameKind.Ping) {
        if (payload.length === 4) socket.write(encodeControlFrame(FrameKind.Pong, payload.readUInt32BE(0)));
      } else {
        throw new Error(`unexpected frame kind ${kind}`);
      }
    });
    const onData = (chunk: Buffer): void => {
      this.opts.metrics.receivedBytes.inc(label, chunk.length);
      try {
        reader.push(chunk);
      } catch (err) {
        // A corrupt stream cannot be resynchronized; the dialer will reconnect.
        this.opts.metrics.receivedFailures.inc(label);
        log.warn({ err: (err as Error).message }, 'closing a corrupt message stream');
        socket.destroy();
      }
    };
    const netSocket = socket as Socket;
    if (typeof netSocket.setTimeout === 'function') {
      netSocket.setNoDelay(true);
      netSocket.setTimeout(this.opts.idleTimeoutMs, () => {
        log.warn({ idleMs: this.opts.idleTimeoutMs }, 'closing a silent message stream');
        socket.destroy();
      });
    }
    socket.on('data', onData);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (this.streams.get(from) === socket) this.streams.delete(from);
      this.lastHeard.delete(socket);
      log.debug('message stream closed');
    });
    if (head.length > 0) onData(head);
  }

  /** etcd's answer to a sender outside the member list, or undefined for a member. */
  private notAMember(from: NodeId): string | undefined {
    const members = this.opts.members?.();
    if (!members || members.some((m) => m.id === from) || this.opts.knownPeer?.(from)) return undefined;
    return `error sender not found (member ${formatId(from)} is not a member of this cluster)`;
  }

  /** Over TLS: whether the dialer's certificate may speak for member `from` (see peerCertificateProblem). */
  private certificateProblem(from: NodeId, req: IncomingMessage): string | undefined {
    const urls = this.opts.members?.().find((m) => m.id === from)?.peerUrls;
    const problem = peerCertificateProblem(this.opts.tls, req.socket, urls);
    return problem && `peer certificate refused for member ${formatId(from)}: ${problem}`;
  }

  private logRefusal(reason: string, req: IncomingMessage, otherCluster: boolean): void {
    const fields = { remote: req.socket.remoteAddress, reason };
    if (otherCluster) this.log.error(fields, 'refused a connection from a member of another cluster');
    else this.log.warn(fields, 'refused a peer connection');
  }
}

function writeRawResponse(socket: Duplex, status: number, reason: string, headers: Record<string, string>): void {
  const body = reason + '\n';
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`, 'connection: close', 'content-type: text/plain'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  lines.push(`content-length: ${Buffer.byteLength(body)}`);
  socket.end(lines.join('\r\n') + '\r\n\r\n' + body);
}
