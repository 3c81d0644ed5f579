// One Kvorum member: the replicated state machine (MVCC store, member table,
// lease clocks, alarms) driven by Raft, and the operations the client API
// offers on top of it. Writes go through the log and are answered by the
// member that proposed them once the entry applies; linearizable reads wait
// for a ReadIndex barrier; serializable reads are served from local state.
import { randomInt } from 'node:crypto';
import { deserialize } from 'node:v8';
import type { Logger } from 'pino';
import { MvccStore } from '../mvcc/store.js';
import { WatchHub } from '../mvcc/watch.js';
import { MvccError } from '../mvcc/errors.js';
import type {
  ApplyRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  HashKvResult,
  LeaseGrantResponse,
  LeaseRevokeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from '../mvcc/types.js';
import { ProposalDroppedError, Role } from '../raft/raft.js';
import type { SoftState } from '../raft/raw-node.js';
import { decodeConfChange } from '../raft/confchange.js';
import { ConfChangeType, EntryType, type ConfChange, type Entry, type Snapshot } from '../raft/types.js';
import { decodeConfContext, decodeEntry, encodeConfContext, encodeEntry, type ServerRequest } from './entry.js';
import { Membership, type Member } from './membership.js';
import { newMemberId } from './ids.js';
import type { RaftNode } from './raft-node.js';
import { ServerError } from './errors.js';

export interface ServerIdentity {
  memberId: number;
  clusterId: number;
  name: string;
  clientUrls: string[];
  clusterToken: string;
}

export interface ServerLimits {
  /** etcd's --quota-backend-bytes: writes are refused (NOSPACE alarm) past it. */
  quotaBytes: number;
  /** How long a client waits for its write to apply. */
  requestTimeoutMs: number;
  /** Election timeout, used to extend leases when leadership changes. */
  electionTimeoutMs: number;
  maxTxnOps: number;
}

/** The response header fields of etcd's ResponseHeader. */
export interface Header {
  clusterId: number;
  memberId: number;
  revision: number;
  raftTerm: number;
}

/** Events a member reports for metrics and logs. */
export interface ServerHooks {
  onLeaderChange?(soft: SoftState): void;
  onProposalCommitted?(): void;
  onProposalFailed?(): void;
  onMembershipChange?(members: Member[]): void;
}

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  /** When the client stops waiting (Date.now() ms); one sweep expires these rather than a timer each. */
  deadline: number;
  /** The leader when the request was proposed. */
  leader: number;
}

export interface StatusInfo {
  header: Header;
  version: string;
  dbSize: number;
  dbSizeInUse: number;
  leader: number;
  raftIndex: number;
  raftTerm: number;
  raftAppliedIndex: number;
  errors: string[];
  isLearner: boolean;
}

/** What a snapshot of the server state holds, besides the MVCC store. */
interface SnapshotPayload {
  mvcc: Uint8Array;
  membership: ReturnType<Membership['toJSON']>;
  alarms: string[];
}

/** Requests this member lets wait for the log at once before answering "too many requests". */
const MAX_PENDING_REQUESTS = 20_000;

/** How long one slice of snapshot encoding may hold the event loop. */
const SNAPSHOT_SLICE_MS = 8;

/**
 * Server snapshot layout: "KVSS", u32 (big-endian) length of a JSON header
 * holding the membership table and alarms, the header, then the MVCC
 * snapshot. The MVCC bytes are encoded straight after the header in one
 * buffer, so a snapshot as large as the store is never copied. Snapshots
 * from before this layout (a V8-serialized object) are still read.
 */
const SERVER_SNAPSHOT_MAGIC = 'KVSS';

function serverSnapshotHeader(membership: Membership, alarms: Iterable<string>): Uint8Array {
  const json = Buffer.from(JSON.stringify({ membership: membership.toJSON(), alarms: [...alarms] }), 'utf8');
  const head = Buffer.alloc(8 + json.length);
  head.write(SERVER_SNAPSHOT_MAGIC, 0, 'latin1');
  head.writeUInt32BE(json.length, 4);
  json.copy(head, 8);
  return head;
}

export function encodeServerSnapshot(store: MvccStore, membership: Membership, alarms: Iterable<string>): Uint8Array {
  const bytes = store.snapshotEncoder(serverSnapshotHeader(membership, alarms)).encodeUntil(Infinity);
  if (bytes === undefined) throw new Error('snapshot: encoder stopped before its deadline');
  return bytes;
}

export function decodeServerSnapshot(data: Uint8Array): SnapshotPayload {
  let payload: unknown;
  try {
    payload = isFramedServerSnapshot(data) ? decodeFramed(data) : deserialize(data);
  } catch (err) {
    throw new Error(`server snapshot is malformed: ${(err as Error).message}`, { cause: err });
  }
  const p = payload as Partial<SnapshotPayload> | null;
  if (!p || !(p.mvcc instanceof Uint8Array) || !Array.isArray(p.membership?.members) || !Array.isArray(p.membership?.removed) || !Array.isArray(p.alarms)) {
    throw new Error('server snapshot is malformed: expected mvcc bytes, a membership table and alarms');
  }
  return p as SnapshotPayload;
}

function isFramedServerSnapshot(data: Uint8Array): boolean {
  return data.length >= 8 && Buffer.from(data.buffer, data.byteOffset, 4).toString('latin1') === SERVER_SNAPSHOT_MAGIC;
}

function decodeFramed(data: Uint8Array): unknown {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const length = buf.readUInt32BE(4);
  if (8 + length > buf.length) throw new Error('header runs past the end');
  const head = JSON.parse(buf.toString('utf8', 8, 8 + length)) as Record<string, unknown>;
  return { ...head, mvcc: data.subarray(8 + length) };
}

export class EtcdServer {
  readonly store: MvccStore;
  readonly watchHub: WatchHub;
  membership = new Membership();
  node!: RaftNode;
  private readonly waiters = new Map<number, Waiter>();
  private nextRequestId = 1;
  /** Lease ID -> wall-clock expiry in ms, kept by every member; only the leader acts on it. */
  private readonly leaseExpiry = new Map<number, number>();
  /** Leases whose revoke the leader has proposed, with the time it did. */
  private readonly revoking = new Map<number, number>();
  private readonly alarms = new Set<string>();
  private leaseTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private published = false;

  constructor(
    readonly identity: ServerIdentity,
    readonly limits: ServerLimits,
    readonly logger: Logger,
    private readonly hooks: ServerHooks = {},
    private readonly peers: { addPeer(id: number, urls: string[]): void; removePeer(id: number): void; updatePeer?(id: number, urls: string[]): void } = {
      addPeer: () => {},
      removePeer: () => {},
    },
  ) {
    this.store = new MvccStore({ maxTxnOps: limits.maxTxnOps });
    this.watchHub = new WatchHub(this.store);
  }

  /** Loads the state a snapshot holds (on restart, before the Raft node starts). */
  restoreFrom(snapshot: Snapshot): void {
    if (snapshot.meta.index === 0 || snapshot.data.length === 0) return;
    this.installSnapshot(snapshot);
  }

  attach(node: RaftNode): void {
    this.node = node;
    this.leaseTimer = setInterval(() => this.checkLeases(), 500);
    this.leaseTimer.unref();
    this.deadlineTimer = setInterval(() => this.expireWaiters(), Math.max(10, Math.min(100, this.limits.requestTimeoutMs / 4)));
    this.deadlineTimer.unref();
  }

  stop(): void {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.watchHub.close();
    if (this.deadlineTimer) clearInterval(this.deadlineTimer);
    for (const w of this.waiters.values()) {
      w.reject(new ServerError('UNAVAILABLE', 'etcdserver: server stopped'));
    }
    this.waiters.clear();
  }

  header(): Header {
    return {
      clusterId: this.identity.clusterId,
      memberId: this.identity.memberId,
      revision: this.store.revision,
      raftTerm: this.node?.term ?? 0,
    };
  }

  // ---- KV -----------------------------------------------------------------

  async range(req: RangeRequest): Promise<RangeResponse> {
    if (!req.serializable) await this.readBarrier();
    return this.store.range(req);
  }

  async put(req: PutRequest): Promise<PutResponse> {
    this.checkSpace();
    return (await this.proposeMvcc({ put: req })) as PutResponse;
  }

  async deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    return (await this.proposeMvcc({ deleteRange: req })) as DeleteRangeResponse;
  }

  async txn(req: TxnRequest): Promise<TxnResponse> {
    if (isReadOnly(req)) {
      await this.readBarrier();
      return this.store.readTxn(req);
    }
    this.checkSpace();
    return (await this.proposeMvcc({ txn: req })) as TxnResponse;
  }

  async compact(revision: number, physical = false): Promise<CompactionResponse> {
    return (await this.proposeMvcc({ compaction: { revision, physical } })) as CompactionResponse;
  }

  // ---- leases -------------------------------------------------------------

  async leaseGrant(ttl: number, id = 0): Promise<LeaseGrantResponse> {
    this.checkSpace();
    const leaseId = id !== 0 ? id : this.freshLeaseId();
    if (ttl <= 0) ttl = 1;
    // etcd raises very short TTLs to the minimum that survives an election.
    const minTtl = Math.ceil((this.limits.electionTimeoutMs * 3) / 2 / 1000);
    return (await this.proposeMvcc({ leaseGrant: { id: leaseId, ttl: Math.max(ttl, minTtl) } })) as LeaseGrantResponse;
  }

  async leaseRevoke(id: number): Promise<LeaseRevokeResponse> {
    return (await this.proposeMvcc({ leaseRevoke: { id } })) as LeaseRevokeResponse;
  }

  /** Restarts the lease's clock on every member; returns its TTL. */
  async leaseKeepAlive(id: number): Promise<number> {
    const lease = this.store.lease(id);
    if (!lease) throw new ServerError('NOT_FOUND', 'etcdserver: requested lease not found');
    if (this.node.isLeader) {
      // As etcd's lessor does, the leader renews without a log entry: only
      // its clock decides expiry, and a new leader restarts every lease's
      // clock anyway. Followers learn of renewals in one batched entry per
      // lease check, so their TimeToLive answers stay close.
      this.leaseExpiry.set(id, Date.now() + lease.grantedTtl * 1000);
      this.renewedByLeader.add(id);
      return lease.grantedTtl;
    }
    return (await this.propose({ leaseRenew: { id } })) as number;
  }

  /** Leases the leader renewed locally since it last told the followers. */
  private renewedByLeader = new Set<number>();

  private shareLeaderRenewals(): void {
    if (this.renewedByLeader.size === 0) return;
    const ids = [...this.renewedByLeader];
    this.renewedByLeader = new Set();
    this.propose({ leaseRenewBatch: { ids } }).catch((err: unknown) => this.logger.debug({ err }, 'sharing lease renewals failed'));
  }

  async leaseTimeToLive(id: number, keys: boolean): Promise<{ id: number; ttl: number; grantedTtl: number; keys: Uint8Array[] }> {
    await this.readBarrier();
    const info = this.store.leaseTimeToLive(id, keys);
    if (!info) return { id, ttl: -1, grantedTtl: 0, keys: [] };
    return { id, ttl: this.remainingTtl(id, info.grantedTtl), grantedTtl: info.grantedTtl, keys: info.keys };
  }

  async leaseLeases(): Promise<number[]> {
    await this.readBarrier();
    return this.store.leaseList().map((l) => l.id);
  }

  private remainingTtl(id: number, grantedTtl: number): number {
    const expiry = this.leaseExpiry.get(id);
    if (expiry === undefined) return grantedTtl;
    return Math.max(0, Math.ceil((expiry - Date.now()) / 1000));
  }

  private freshLeaseId(): number {
    for (;;) {
      // Positive, below 2^53, never 0: the same space etcd's int64 IDs use in practice.
      const id = randomInt(1, 2 ** 47) * 64 + randomInt(0, 64);
      if (!this.store.lease(id)) return id;
    }
  }

  /** Leader only: revoke leases whose clock ran out. */
  private checkLeases(): void {
    if (!this.node?.isLeader) {
      this.renewedByLeader.clear();
      return;
    }
    this.shareLeaderRenewals();
    const now = Date.now();
    for (const lease of this.store.leaseList()) {
      let expiry = this.leaseExpiry.get(lease.id);
      if (expiry === undefined) {
        expiry = now + lease.grantedTtl * 1000;
        this.leaseExpiry.set(lease.id, expiry);
      }
      if (expiry > now) continue;
      const since = this.revoking.get(lease.id);
      if (since !== undefined && now - since < this.limits.requestTimeoutMs) continue;
      this.revoking.set(lease.id, now);
      this.leaseRevoke(lease.id).catch((err: unknown) => this.logger.warn({ err, lease: lease.id }, 'revoking an expired lease failed; will retry'));
    }
  }

  // ---- cluster ------------------------------------------------------------

  async memberList(linearizable = true): Promise<Member[]> {
    if (linearizable) await this.readBarrier();
    return this.membership.list();
  }

  async memberAdd(peerUrls: string[], isLearner: boolean): Promise<{ member: Member; members: Member[] }> {
    if (peerUrls.length === 0) throw new ServerError('INVALID_ARGUMENT', 'etcdserver: member peer URLs are not provided');
    for (const url of peerUrls) {
      if (!/^https?:\/\/[^/]+/.test(url)) throw new ServerError('INVALID_ARGUMENT', `etcdserver: invalid peer URL "${url}"`);
      if (this.membership.peerUrlInUse(url)) throw new ServerError('FAILED_PRECONDITION', 'etcdserver: Peer URLs already exists');
    }
    if (!isLearner) this.checkQuorumAfter(+1);
    const id = newMemberId(peerUrls, this.identity.clusterToken);
    const member: Member = { id, name: '', peerUrls, clientUrls: [], isLearner };
    await this.proposeConf({ type: isLearner ? ConfChangeType.AddLearner : ConfChangeType.AddNode, nodeId: id }, member);
    return { member, members: this.membership.list() };
  }

  async memberRemove(id: number): Promise<Member[]> {
    const member = this.membership.get(id);
    if (!member) {
      throw new ServerError('NOT_FOUND', this.membership.isRemoved(id) ? 'etcdserver: member was removed' : 'etcdserver: member not found');
    }
    if (!member.isLearner) this.checkQuorumAfter(-1, id);
    await this.proposeConf({ type: ConfChangeType.RemoveNode, nodeId: id }, member);
    return this.membership.list();
  }

  async memberPromote(id: number): Promise<Member[]> {
    const member = this.membership.get(id);
    if (!member) throw new ServerError('NOT_FOUND', 'etcdserver: member not found');
    if (!member.isLearner) throw new ServerError('FAILED_PRECONDITION', 'etcdserver: can only promote a learner member');
    if (this.node.isLeader) {
      const { progress, id: self } = this.node.status();
      const pr = progress.get(id);
      const leaderMatch = progress.get(self)?.match ?? 0;
      if (!pr || pr.match < leaderMatch * 0.9) {
        throw new ServerError('FAILED_PRECONDITION', 'etcdserver: can only promote a learner member which is in sync with leader');
      }
    } else if (this.node.leaderId === 0) {
      throw new ServerError('UNAVAILABLE', 'etcdserver: no leader');
    }
    this.checkQuorumAfter(+1, undefined, id);
    await this.proposeConf({ type: ConfChangeType.AddNode, nodeId: id }, { ...member, isLearner: false });
    return this.membership.list();
  }

  async memberUpdate(id: number, peerUrls: string[]): Promise<Member[]> {
    if (!this.membership.has(id)) throw new ServerError('NOT_FOUND', 'etcdserver: member not found');
    for (const url of peerUrls) {
      if (this.membership.peerUrlInUse(url, id)) throw new ServerError('FAILED_PRECONDITION', 'etcdserver: Peer URLs already exists');
    }
    await this.propose({ memberUpdate: { id, peerUrls } });
    return this.membership.list();
  }

  /**
   * Refuses a change of the voter count by `delta` that a quorum of members
   * currently heard from could not carry (etcd's strict reconfig check).
   * Only the leader knows who is active; followers skip the check. A learner
   * being promoted counts as active when the leader hears from it (a
   * one-voter cluster could never promote otherwise).
   */
  private checkQuorumAfter(delta: number, removing?: number, promoting?: number): void {
    if (!this.node.isLeader) return;
    let active = 0;
    let voters = 0;
    for (const [id, pr] of this.node.status().progress) {
      if (id === removing) continue;
      if (pr.isLearner) {
        if (id === promoting && pr.recentActive) active++;
        continue;
      }
      voters++;
      if (pr.recentActive) active++;
    }
    const after = delta > 0 ? voters + delta : voters;
    if (active < Math.floor(after / 2) + 1) {
      throw new ServerError('FAILED_PRECONDITION', 'etcdserver: re-configuration failed due to not enough started members');
    }
  }

  // ---- maintenance --------------------------------------------------------

  status(version: string): StatusInfo {
    const raft = this.node.status();
    const self = this.membership.get(this.identity.memberId);
    return {
      header: this.header(),
      version,
      dbSize: this.store.sizeBytes,
      dbSizeInUse: this.store.sizeBytes,
      leader: raft.lead,
      raftIndex: raft.commit,
      raftTerm: raft.term,
      raftAppliedIndex: this.node.applied,
      errors: [...this.alarms].map((a) => `memberID:${this.identity.memberId.toString(16)} alarm:${a.split(':')[1]}`),
      isLearner: self?.isLearner ?? false,
    };
  }

  async hashKv(revision: number): Promise<HashKvResult> {
    return this.store.hash(revision);
  }

  /** A point-in-time copy of the whole state, as `snapshot save` streams it. */
  snapshotBytes(): Uint8Array {
    return encodeServerSnapshot(this.store, this.membership, this.alarms);
  }

  async moveLeader(target: number): Promise<void> {
    if (!this.node.isLeader) throw new ServerError('FAILED_PRECONDITION', 'etcdserver: not leader');
    const member = this.membership.get(target);
    if (!member) throw new ServerError('NOT_FOUND', 'etcdserver: bad leader transferee');
    if (member.isLearner) throw new ServerError('FAILED_PRECONDITION', 'etcdserver: bad leader transferee');
    if (target === this.identity.memberId) return;
    this.node.transferLeadership(target);
    const deadline = Date.now() + this.limits.requestTimeoutMs;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      if (this.node.leaderId === target) return;
    }
    throw new ServerError('DEADLINE_EXCEEDED', 'etcdserver: request timed out, leader transfer took too long');
  }

  alarmList(): { memberId: number; alarm: 'NOSPACE' | 'CORRUPT' }[] {
    return [...this.alarms].map((a) => {
      const [member, alarm] = a.split(':');
      return { memberId: Number(member), alarm: alarm as 'NOSPACE' | 'CORRUPT' };
    });
  }

  async alarmDeactivate(memberId: number, alarm: 'NOSPACE' | 'CORRUPT'): Promise<void> {
    await this.propose({ alarm: { action: 'deactivate', memberId, alarm } });
  }

  private checkSpace(): void {
    for (const a of this.alarms) {
      if (a.endsWith(':NOSPACE')) throw new ServerError('RESOURCE_EXHAUSTED', 'etcdserver: mvcc: database space exceeded');
    }
  }

  // ---- proposing ----------------------------------------------------------

  private async readBarrier(): Promise<number> {
    await this.leaderKnown();
    return this.node.linearizableReadBarrier().catch((err: Error) => {
      throw new ServerError('UNAVAILABLE', err.message.startsWith('etcdserver:') ? err.message : `etcdserver: ${err.message}`);
    });
  }

  private proposeMvcc(req: ApplyRequest): Promise<unknown> {
    return this.propose({ mvcc: req });
  }

  private propose(request: ServerRequest): Promise<unknown> {
    const requestId = this.nextRequestId++;
    const data = encodeEntry({ origin: this.identity.memberId, requestId, request });
    return this.waitFor(requestId, () => this.node.propose(data, (err) => this.dropped(requestId, err)));
  }

  private proposeConf(cc: Omit<ConfChange, 'context'>, member: Member): Promise<unknown> {
    const requestId = this.nextRequestId++;
    const context = encodeConfContext({
      id: member.id,
      name: member.name,
      peerUrls: member.peerUrls,
      isLearner: member.isLearner,
      origin: this.identity.memberId,
      requestId,
    });
    return this.waitFor(requestId, () => this.node.proposeConfChange({ ...cc, context }));
  }

  /** Waits (up to a few election timeouts) for a leader before giving up with "no leader". */
  private async leaderKnown(): Promise<void> {
    try {
      await this.node.whenLeader(this.limits.electionTimeoutMs * 3);
    } catch {
      throw new ServerError('UNAVAILABLE', 'etcdserver: no leader');
    }
  }

  private async waitFor(requestId: number, submit: () => void): Promise<unknown> {
    await this.leaderKnown();
    // Admission control: past this many requests in flight, more would only
    // queue behind them (and starve the loop); fail fast as etcd does.
    if (this.waiters.size >= MAX_PENDING_REQUESTS) {
      this.hooks.onProposalFailed?.();
      throw new ServerError('RESOURCE_EXHAUSTED', 'etcdserver: too many requests');
    }
    return new Promise((resolve, reject) => {
      this.waiters.set(requestId, { resolve, reject, deadline: Date.now() + this.limits.requestTimeoutMs, leader: this.node.leaderId });
      try {
        submit();
      } catch (err) {
        this.waiters.delete(requestId);
        this.hooks.onProposalFailed?.();
        if (err instanceof ProposalDroppedError) {
          reject(dropError(err));
        } else {
          reject(err as Error);
        }
      }
    });
  }

  /** Fails requests whose deadline passed. Waiters are in deadline order (one timeout for all, Map keeps insertion order). */
  private expireWaiters(): void {
    const now = Date.now();
    for (const [id, w] of this.waiters) {
      if (w.deadline > now) break;
      this.waiters.delete(id);
      this.hooks.onProposalFailed?.();
      w.reject(new ServerError('DEADLINE_EXCEEDED', 'etcdserver: request timed out'));
    }
  }

  /** The core refused a queued proposal: fail its request with etcd's error. */
  private dropped(requestId: number, err: ProposalDroppedError): void {
    this.settle(this.identity.memberId, requestId, undefined, dropError(err));
  }

  private settle(origin: number, requestId: number, result: unknown, error?: Error): void {
    if (origin !== this.identity.memberId) return;
    const waiter = this.waiters.get(requestId);
    if (!waiter) return;
    this.waiters.delete(requestId);
    if (error) {
      this.hooks.onProposalFailed?.();
      waiter.reject(error);
    } else {
      this.hooks.onProposalCommitted?.();
      waiter.resolve(result);
    }
  }

  // ---- applying (the Application interface of RaftNode) ---------------------

  apply(entries: Entry[]): void {
    for (const entry of entries) {
      if (entry.type === EntryType.ConfChange) this.applyConfChange(entry);
      else if (entry.data.length === 0) this.store.markApplied(entry.index);
      else this.applyNormal(entry);
    }
    this.maybeRaiseSpaceAlarm();
  }

  private applyNormal(entry: Entry): void {
    const { origin, requestId, request } = decodeEntry(entry.data);
    if ('mvcc' in request) {
      try {
        const response = this.store.apply(entry.index, request.mvcc);
        if ('leaseGrant' in request.mvcc && response) {
          this.leaseExpiry.set(request.mvcc.leaseGrant.id, Date.now() + request.mvcc.leaseGrant.ttl * 1000);
        }
        if ('leaseRevoke' in request.mvcc) {
          this.leaseExpiry.delete(request.mvcc.leaseRevoke.id);
          this.revoking.delete(request.mvcc.leaseRevoke.id);
        }
        this.settle(origin, requestId, response);
      } catch (err) {
        if (!(err instanceof MvccError)) throw err;
        this.settle(origin, requestId, undefined, new ServerError(err.code, err.message));
      }
      return;
    }
    this.store.markApplied(entry.index);
    if ('leaseRenew' in request) {
      const lease = this.store.lease(request.leaseRenew.id);
      if (!lease) {
        this.settle(origin, requestId, undefined, new ServerError('NOT_FOUND', 'etcdserver: requested lease not found'));
        return;
      }
      this.leaseExpiry.set(lease.id, Date.now() + lease.grantedTtl * 1000);
      this.settle(origin, requestId, lease.grantedTtl);
    } else if ('leaseRenewBatch' in request) {
      // The leader's own clocks were set when it answered the keep-alives.
      if (origin !== this.identity.memberId) {
        const now = Date.now();
        for (const id of request.leaseRenewBatch.ids) {
          const lease = this.store.lease(id);
          if (lease) this.leaseExpiry.set(id, now + lease.grantedTtl * 1000);
        }
      }
      this.settle(origin, requestId, undefined);
    } else if ('memberAttributes' in request) {
      const a = request.memberAttributes;
      this.membership.setAttributes(a.id, a.name, a.clientUrls);
      this.hooks.onMembershipChange?.(this.membership.list());
      this.settle(origin, requestId, undefined);
    } else if ('memberUpdate' in request) {
      this.membership.updatePeerUrls(request.memberUpdate.id, request.memberUpdate.peerUrls);
      this.peers.updatePeer?.(request.memberUpdate.id, request.memberUpdate.peerUrls);
      this.settle(origin, requestId, undefined);
    } else if ('alarm' in request) {
      const key = `${request.alarm.memberId}:${request.alarm.alarm}`;
      if (request.alarm.action === 'activate') this.alarms.add(key);
      else this.alarms.delete(key);
      this.settle(origin, requestId, undefined);
    }
  }

  private applyConfChange(entry: Entry): void {
    this.store.markApplied(entry.index);
    const cc = decodeConfChange(entry.data);
    const ctx = decodeConfContext(cc.context);
    this.node?.applyConfChange(cc);
    switch (cc.type) {
      case ConfChangeType.AddNode:
      case ConfChangeType.AddLearner:
        if (this.membership.has(cc.nodeId)) {
          if (cc.type === ConfChangeType.AddNode) this.membership.promote(cc.nodeId);
        } else if (ctx) {
          this.membership.add({ id: cc.nodeId, name: ctx.name, peerUrls: ctx.peerUrls, clientUrls: [], isLearner: cc.type === ConfChangeType.AddLearner });
          if (cc.nodeId !== this.identity.memberId) this.peers.addPeer(cc.nodeId, ctx.peerUrls);
        }
        break;
      case ConfChangeType.RemoveNode:
        this.membership.remove(cc.nodeId);
        if (cc.nodeId !== this.identity.memberId) this.peers.removePeer(cc.nodeId);
        else this.logger.warn('this member was removed from the cluster');
        break;
    }
    this.logger.info({ type: ConfChangeType[cc.type], member: cc.nodeId.toString(16), index: entry.index }, 'applied membership change');
    this.hooks.onMembershipChange?.(this.membership.list());
    if (ctx?.origin !== undefined && ctx.requestId !== undefined) this.settle(ctx.origin, ctx.requestId, undefined);
  }

  installSnapshot(snapshot: Snapshot): void {
    const payload = decodeServerSnapshot(snapshot.data);
    this.store.restoreSnapshot(payload.mvcc);
    if (this.store.appliedIndex > snapshot.meta.index) {
      // Its state would skip entries the log still has to apply.
      throw new Error(`snapshot at index ${snapshot.meta.index} holds state applied up to ${this.store.appliedIndex}`);
    }
    this.store.markApplied(snapshot.meta.index);
    const before = new Set(this.membership.list().map((m) => m.id));
    this.membership = Membership.fromJSON(payload.membership);
    for (const m of this.membership.list()) {
      if (m.id !== this.identity.memberId && !before.has(m.id)) this.peers.addPeer(m.id, m.peerUrls);
      before.delete(m.id);
    }
    for (const gone of before) this.peers.removePeer(gone);
    this.alarms.clear();
    for (const a of payload.alarms) this.alarms.add(a);
    this.leaseExpiry.clear();
    this.logger.info({ index: snapshot.meta.index }, 'installed snapshot');
  }

  /**
   * The state at the applied index, captured now and encoded in slices of a
   * few milliseconds between which the event loop serves clients and peers;
   * the bytes come as chunks, to be written out as they come.
   */
  snapshotData(): AsyncIterable<Uint8Array> {
    const encoder = this.store.snapshotEncoder(serverSnapshotHeader(this.membership, this.alarms));
    return (async function* () {
      for (;;) {
        const { chunks, done } = encoder.encodeSlice(performance.now() + SNAPSHOT_SLICE_MS);
        yield* chunks;
        if (done) return;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    })();
  }

  leaderChanged(soft: SoftState): void {
    this.logger.info({ leader: soft.lead.toString(16), role: soft.role, term: this.node?.term }, soft.lead === 0 ? 'lost the leader' : 'leader elected');
    this.hooks.onLeaderChange?.(soft);
    // Only a new leader proves the old one's pending requests may be lost;
    // a follower that merely lost contact (a pre-vote under load) may hear
    // from the same leader again and see them applied.
    if (soft.lead !== 0) this.failRequestsOfOldLeader(soft.lead);
    if (soft.role === Role.Leader) {
      // A new leader cannot know how long the old one let leases run: give
      // every lease a full TTL from now, as etcd does on promotion.
      const now = Date.now();
      for (const lease of this.store.leaseList()) this.leaseExpiry.set(lease.id, now + lease.grantedTtl * 1000);
      this.revoking.clear();
    }
    if (soft.lead !== 0 && !this.published) this.publishAttributes();
  }

  /**
   * A request proposed under another leader may have been lost with it (a
   * proposal forwarded to a leader that died is gone). Rather than leave its
   * client waiting for the timeout, fail it now with etcd's "leader changed":
   * it was never acknowledged, so the client may retry.
   */
  private failRequestsOfOldLeader(lead: number): void {
    for (const [id, w] of this.waiters) {
      if (w.leader === lead) continue;
      this.waiters.delete(id);
      this.hooks.onProposalFailed?.();
      w.reject(new ServerError('UNAVAILABLE', 'etcdserver: leader changed'));
    }
  }

  /** Once a leader is known, record this member's name and client URLs in the cluster. */
  private publishAttributes(): void {
    const self = this.membership.get(this.identity.memberId);
    if (self && self.name === this.identity.name && sameUrls(self.clientUrls, this.identity.clientUrls)) {
      this.published = true;
      return;
    }
    this.published = true;
    this.propose({ memberAttributes: { id: this.identity.memberId, name: this.identity.name, clientUrls: this.identity.clientUrls } }).catch(
      (err: unknown) => {
        this.published = false;
        this.logger.warn({ err }, 'publishing member attributes failed; will retry on the next leader change');
      },
    );
  }

  private maybeRaiseSpaceAlarm(): void {
    if (!this.node?.isLeader || this.store.sizeBytes <= this.limits.quotaBytes) return;
    const key = `${this.identity.memberId}:NOSPACE`;
    if (this.alarms.has(key)) return;
    this.alarms.add(key); // locally at once, so writes stop before the entry applies
    this.logger.warn({ size: this.store.sizeBytes, quota: this.limits.quotaBytes }, 'database space exceeded: raising the NOSPACE alarm');
    this.propose({ alarm: { action: 'activate', memberId: this.identity.memberId, alarm: 'NOSPACE' } }).catch(() => this.alarms.delete(key));
  }
}

function dropError(err: ProposalDroppedError): ServerError {
  return new ServerError('UNAVAILABLE', err.message.includes('no leader') ? 'etcdserver: no leader' : `etcdserver: ${err.message.replace(/^raft: /, '')}`);
}

function isReadOnly(req: TxnRequest): boolean {
  const ops = [...(req.success ?? []), ...(req.failure ?? [])];
  return ops.every((op) => op.requestRange !== undefined || (op.requestTxn !== undefined && isReadOnly(op.requestTxn)));
}

function sameUrls(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((u, i) => u === b[i]);
}
