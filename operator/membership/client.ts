// The operator's client of a cluster's own etcd v3 API (Cluster and
// Maintenance services), over gRPC with the repository's proto definitions.
//
// Member IDs are uint64 and stay decimal strings end to end: the proto loader
// hands them over as strings and the serializer takes strings back, so no ID
// ever passes through a JS number.
//
// Membership changes go to the leader: a follower relays them only over plain
// HTTP (see node/api/grpc/forward.ts), so with TLS the leader must be asked
// directly. Reads fail over across the endpoint list.
import { Transform, type Readable } from 'node:stream';
import { credentials, type ChannelCredentials, type ClientReadableStream, type Client, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { loadEtcdProtos } from '../../contract/index.js';
import { probeTLS, type TLSTrustProblem } from './dial-errors.js';

/** TLS material for the operator's connection (PEM). Without cert/key no client certificate is shown. */
export interface ClusterClientTLS {
  ca: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
}

export interface ClusterClientOptions {
  /** Client URLs (`http(s)://host:port`) or bare `host:port`s of the members. */
  endpoints: string[];
  tls?: ClusterClientTLS;
  /** Deadline of each call on one endpoint; 5 s by default. */
  callTimeoutMs?: number;
  /** Deadline of MoveLeader, which waits for the transfer; 15 s by default. */
  moveLeaderTimeoutMs?: number;
}

export interface ClusterMember {
  /** uint64 as a decimal string. */
  id: string;
  /** Empty until the member has started and published itself. */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface EndpointStatus {
  endpoint: string;
  memberId: string;
  /** The cluster's ID (decimal uint64) from the response header. */
  clusterId: string;
  /** "0" when the member knows no leader. */
  leaderId: string;
  raftIndex: number;
  raftAppliedIndex: number;
  raftTerm: number;
  isLearner: boolean;
  version: string;
  errors: string[];
  dbSize: number;
}

/** A failed call; `message` keeps the server's own `etcdserver: ...` text when there is one. */
export class ClusterClientError extends Error {
  constructor(
    message: string,
    /** gRPC status code, when the failure came from gRPC. */
    readonly code: number | undefined,
    /** The endpoint the (last) attempt went to. */
    readonly endpoint: string,
    /** The server's message (`etcdserver: ...`) when the server answered. */
    readonly serverMessage?: string,
  ) {
    super(message);
    this.name = 'ClusterClientError';
  }

  /** The request did not get an answer from a server (connection, deadline): another endpoint may work. */
  get isTransport(): boolean {
    return this.serverMessage === undefined;
  }
}

type Pb = Record<string, unknown>;
type UnaryMethod = (request: Pb, options: { deadline: number }, callback: (err: ServiceError | null, res?: Pb) => void) => void;
type ServiceName = 'Cluster' | 'Maintenance';

interface Channel {
  Cluster: Client;
  Maintenance: Client;
}

/** `https://h:p/` -> `h:p`; a bare `h:p` stays as it is. */
export function grpcTarget(endpoint: string): string {
  return endpoint.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
}

export class ClusterClient {
  private endpoints: string[];
  private readonly creds: ChannelCredentials;
  private readonly tls: ClusterClientTLS | undefined;
  private readonly callTimeoutMs: number;
  private readonly moveLeaderTimeoutMs: number;
  private readonly channels = new Map<string, Channel>();
  /** Index of the endpoint that answered last; reads start there. */
  private preferred = 0;
  /** The endpoint last seen to be the leader's. */
  private leaderEndpoint: string | undefined;
  private closed = false;

  constructor(opts: ClusterClientOptions) {
    if (opts.endpoints.length === 0) throw new Error('ClusterClient needs at least one endpoint');
    this.endpoints = [...opts.endpoints];
    this.tls = opts.tls;
    this.creds = opts.tls
      ? credentials.createSsl(toBuffer(opts.tls.ca), opts.tls.key === undefined ? null : toBuffer(opts.tls.key), opts.tls.cert === undefined ? null : toBuffer(opts.tls.cert))
      : credentials.createInsecure();
    this.callTimeoutMs = opts.callTimeoutMs ?? 5000;
    this.moveLeaderTimeoutMs = opts.moveLeaderTimeoutMs ?? 15000;
  }

  /** Replaces the endpoint list (members come and go); channels of dropped endpoints are closed. */
  setEndpoints(endpoints: string[]): void {
    if (endpoints.length === 0) throw new Error('ClusterClient needs at least one endpoint');
    const keep = new Set(endpoints.map(grpcTarget));
    for (const [target, ch] of this.channels) {
      if (!keep.has(target)) {
        ch.Cluster.close();
        ch.Maintenance.close();
        this.channels.delete(target);
      }
    }
    this.endpoints = [...endpoints];
    this.preferred = 0;
    if (this.leaderEndpoint && !keep.has(grpcTarget(this.leaderEndpoint))) this.leaderEndpoint = undefined;
  }

  getEndpoints(): string[] {
    return [...this.endpoints];
  }

  /** The member list; linearizable (through the leader) unless told otherwise. */
  async memberList(opts: { linearizable?: boolean } = {}): Promise<ClusterMember[]> {
    const res = await this.withFailover('MemberList', (ep) => this.call(ep, 'Cluster', 'MemberList', { linearizable: opts.linearizable !== false }));
    return membersOf(res.members);
  }

  /** Adds a member; returns the new member (its `name` is empty until it starts) and the new list. */
  async memberAdd(peerURLs: string[], isLearner: boolean): Promise<{ member: ClusterMember; members: ClusterMember[] }> {
    const res = await this.onLeader('MemberAdd', { peerURLs, isLearner });
    return { member: memberOf(res.member as Pb), members: membersOf(res.members) };
  }

  async memberRemove(id: string): Promise<ClusterMember[]> {
    return membersOf((await this.onLeader('MemberRemove', { ID: checkId(id) })).members);
  }

  async memberPromote(id: string): Promise<ClusterMember[]> {
    return membersOf((await this.onLeader('MemberPromote', { ID: checkId(id) })).members);
  }

  async memberUpdate(id: string, peerURLs: string[]): Promise<ClusterMember[]> {
    return membersOf((await this.onLeader('MemberUpdate', { ID: checkId(id), peerURLs })).members);
  }

  /** Asks the leader at `endpoint` to hand leadership to `targetId`; resolves once the target leads. */
  async moveLeader(endpoint: string, targetId: string): Promise<void> {
    await this.call(endpoint, 'Maintenance', 'MoveLeader', { targetID: checkId(targetId) }, this.moveLeaderTimeoutMs);
    this.leaderEndpoint = undefined;
  }

  /** The Maintenance.Status of one member (not failed over: the answer is about that member). */
  async status(endpoint: string): Promise<EndpointStatus> {
    const res = await this.call(endpoint, 'Maintenance', 'Status', {});
    const header = (res.header ?? {}) as Pb;
    return {
      endpoint,
      memberId: String(header.member_id ?? '0'),
      clusterId: String(header.cluster_id ?? '0'),
      leaderId: String(res.leader ?? '0'),
      raftIndex: Number(res.raftIndex ?? 0),
      raftAppliedIndex: Number(res.raftAppliedIndex ?? 0),
      raftTerm: Number(res.raftTerm ?? 0),
      isLearner: res.isLearner === true,
      version: String(res.version ?? ''),
      errors: ((res.errors as string[] | undefined) ?? []).map(String),
      dbSize: Number(res.dbSize ?? 0),
    };
  }

  /** HashKV of one member's store at `revision` (0: its current revision). */
  async hashKv(endpoint: string, revision: number): Promise<{ hash: number; compactRevision: number; revision: number }> {
    const res = await this.call(endpoint, 'Maintenance', 'HashKV', { revision: String(revision) });
    return { hash: Number(res.hash ?? 0), compactRevision: Number(res.compact_revision ?? 0), revision: Number((res.header as Pb | undefined)?.revision ?? 0) };
  }

  /**
   * One member's Maintenance.Snapshot as a byte stream. gRPC's flow control
   * paces the member: bytes are pulled only as fast as the consumer reads.
   * `signal` cancels the call.
   */
  snapshot(endpoint: string, signal?: AbortSignal): Readable {
    const client = this.channel(endpoint).Maintenance as unknown as Record<string, (req: Pb) => ClientReadableStream<Pb>>;
    const call = client.Snapshot!.call(client, {});
    const bytes = new Transform({
      writableObjectMode: true,
      transform(msg: Pb, _enc, done) {
        const blob = msg.blob as Buffer | undefined;
        done(null, blob && blob.length > 0 ? blob : undefined);
      },
    });
    call.on('error', (err: ServiceError) => bytes.destroy(describeError(err, 'Snapshot', endpoint, 0)));
    signal?.addEventListener('abort', () => call.cancel(), { once: true });
    return call.pipe(bytes);
  }

  /** The endpoint (from the list) of the current leader, or undefined when none of them leads or answers. */
  async findLeaderEndpoint(): Promise<string | undefined> {
    const answers = await Promise.allSettled(this.endpoints.map((ep) => this.status(ep)));
    for (const a of answers) {
      if (a.status === 'fulfilled' && a.value.leaderId !== '0' && a.value.leaderId === a.value.memberId) return a.value.endpoint;
    }
    return undefined;
  }

  /**
   * Whether TLS trust is what keeps this client from `endpoint` (or, without
   * one, from every endpoint): one plain TLS connection each, with the same
   * credentials. Undefined without TLS or when the handshakes go through.
   */
  async diagnoseTLS(endpoint?: string): Promise<TLSTrustProblem | undefined> {
    if (!this.tls) return undefined;
    const tls = this.tls;
    const probe = async (ep: string): Promise<TLSTrustProblem | undefined> => {
      const first = await probeTLS(ep, tls);
      if (!first) return undefined;
      // A member that is shutting down also closes right after a handshake: only a refusal seen twice counts.
      await new Promise((r) => setTimeout(r, 300));
      const again = await probeTLS(ep, tls);
      return again?.kind === first.kind ? again : undefined;
    };
    const found = await Promise.all((endpoint ? [endpoint] : this.endpoints).map(probe));
    return found.find((p) => p !== undefined);
  }

  close(): void {
    this.closed = true;
    for (const ch of this.channels.values()) {
      ch.Cluster.close();
      ch.Maintenance.close();
    }
    this.channels.clear();
  }

  /** A membership change: to the leader when it is known, else to any member (which relays over plain HTTP). */
  private async onLeader(method: string, request: Pb): Promise<Pb> {
    this.leaderEndpoint ??= await this.findLeaderEndpoint();
    const leader = this.leaderEndpoint;
    if (leader) {
      try {
        return await this.call(leader, 'Cluster', method, request);
      } catch (err) {
        this.leaderEndpoint = undefined;
        // A server's refusal is the answer; only a lost leader is worth another route.
        if (!(err instanceof ClusterClientError) || !(err.isTransport || /not leader|leader changed/.test(err.message))) throw err;
      }
    }
    return this.withFailover(method, (ep) => this.call(ep, 'Cluster', method, request));
  }

  /** Tries the endpoints in turn, starting with the one that answered last, while failures are transport failures. */
  private async withFailover(method: string, attempt: (endpoint: string) => Promise<Pb>): Promise<Pb> {
    const n = this.endpoints.length;
    const errors: string[] = [];
    let last: ClusterClientError | undefined;
    for (let i = 0; i < n; i++) {
      const idx = (this.preferred + i) % n;
      const ep = this.endpoints[idx]!;
      try {
        const res = await attempt(ep);
        this.preferred = idx;
        return res;
      } catch (err) {
        if (!(err instanceof ClusterClientError)) throw err;
        if (!err.isTransport && !/no leader|leader changed/.test(err.message)) throw err;
        last = err;
        errors.push(err.message);
      }
    }
    if (n === 1 && last) throw last;
    throw new ClusterClientError(`${method}: no endpoint answered: ${errors.join('; ')}`, last?.code, last?.endpoint ?? '', last?.serverMessage);
  }

  private call(endpoint: string, service: ServiceName, method: string, request: Pb, timeoutMs = this.callTimeoutMs): Promise<Pb> {
    if (this.closed) return Promise.reject(new ClusterClientError('ClusterClient is closed', undefined, endpoint));
    const client = this.channel(endpoint)[service] as unknown as Record<string, UnaryMethod>;
    return new Promise((resolve, reject) => {
      client[method]!.call(client, request, { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(describeError(err, method, endpoint, timeoutMs));
        else resolve(res ?? {});
      });
    });
  }

  private channel(endpoint: string): Channel {
    const target = grpcTarget(endpoint);
    let ch = this.channels.get(target);
    if (!ch) {
      const pkg = loadEtcdProtos().grpcObject.etcdserverpb as Record<string, ServiceClientConstructor>;
      ch = { Cluster: new pkg.Cluster!(target, this.creds), Maintenance: new pkg.Maintenance!(target, this.creds) };
      this.channels.set(target, ch);
    }
    return ch;
  }
}

/** Maps a gRPC failure to a message a person can act on, keeping the server's own words. */
export function describeError(err: ServiceError, method: string, endpoint: string, timeoutMs: number): ClusterClientError {
  const details = err.details ?? err.message;
  if (details.startsWith('etcdserver:')) return new ClusterClientError(`${method} on ${endpoint}: ${details}`, err.code, endpoint, details);
  if (err.code === GrpcStatus.DEADLINE_EXCEEDED) {
    return new ClusterClientError(`${method} on ${endpoint}: no answer within ${timeoutMs} ms`, err.code, endpoint);
  }
  if (err.code === GrpcStatus.UNAVAILABLE) return new ClusterClientError(`${method}: cannot reach ${endpoint}: ${details}`, err.code, endpoint);
  if (err.code === GrpcStatus.UNIMPLEMENTED) {
    return new ClusterClientError(`${method} on ${endpoint}: not supported by the server (${details})`, err.code, endpoint, details);
  }
  // Any other status came from the server (or its TLS/auth layer).
  return new ClusterClientError(`${method} on ${endpoint}: ${details} (gRPC status ${GrpcStatus[err.code] ?? err.code})`, err.code, endpoint, details);
}

function toBuffer(v: Buffer | string): Buffer {
  return typeof v === 'string' ? Buffer.from(v) : v;
}

function checkId(id: string): string {
  if (!/^[0-9]+$/.test(id) || BigInt(id) === 0n || BigInt(id) >= 2n ** 64n) throw new Error(`invalid member ID ${JSON.stringify(id)}: expected a decimal uint64`);
  return id;
}

function memberOf(m: Pb): ClusterMember {
  return {
    id: String(m.ID ?? '0'),
    name: String(m.name ?? ''),
    peerURLs: ((m.peerURLs as string[] | undefined) ?? []).map(String),
    clientURLs: ((m.clientURLs as string[] | undefined) ?? []).map(String),
    isLearner: m.isLearner === true,
  };
}

function membersOf(list: unknown): ClusterMember[] {
  return ((list as Pb[] | undefined) ?? []).map(memberOf);
}

/** etcd's hex spelling of a decimal member ID (for messages and etcdctl). */
export function memberIdHex(id: string): string {
  return BigInt(id).toString(16);
}
