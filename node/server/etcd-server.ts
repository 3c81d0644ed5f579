// One Kvorum member as its clients see it: the etcd v3 operations (KV,
// leases, cluster, maintenance) over the replicated state machine. Writes go
// through the log and are answered by the member that proposed them once the
// entry applies; linearizable reads wait for a ReadIndex barrier;
// serializable reads are served from local state. The parts live beside it:
// applying entries (apply.ts), proposing and waiting (proposals.ts,
// waiters.ts), lease clocks (lease-clock.ts), the space quota
// (space-quota.ts), member changes (membership-admin.ts), maintenance
// (maintenance.ts) and the snapshot codec (state-snapshot.ts).
import { AutoCompactor, plannerFor, type AutoCompactionPolicy } from './auto-compaction.js';
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { MvccStore } from '../mvcc/store.js';
import { isLegacyLeaseId } from '../mvcc/lease.js';
import type { LeaseId } from '../mvcc/types.js';
import { WatchHub } from '../mvcc/watch.js';
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
import { Role } from '../raft/raft.js';
import type { SoftState } from '../raft/raw-node.js';
import type { Entry, Snapshot } from '../raft/types.js';
import { Alarms, type Alarm, type AlarmType } from './alarms.js';
import { Applier, type PeerDirectory } from './apply.js';
import { ENTRY_FORMAT_INT64_LEASES, MAX_ENTRY_FORMAT, nextClusterFormat } from './entry-format.js';
import { errLeaseNotFound, errStopped } from './errors.js';
import { LeaseClock } from './lease-clock.js';
import { Maintenance, type BackupStream, type DefragmentResult, type MemberStatus } from './maintenance.js';
import { MembershipAdmin } from './membership-admin.js';
import { Membership, type Member } from './membership.js';
import { Proposer } from './proposals.js';
import type { Application, RaftNode } from './raft-node.js';
import { SpaceQuota } from './space-quota.js';
import { captureState, STATE_SNAPSHOT_VERSION, type StateSnapshotHead } from './state-snapshot.js';
import { AuthAdmin } from './auth/auth-admin.js';
import { AuthGate } from './auth/auth-gate.js';
import { AuthStore } from './auth/auth-store.js';
import type { ScryptCost } from './auth/password.js';
import { DEFAULT_TOKEN_TTL_MS, SimpleTokens } from './auth/simple-tokens.js';
import { JwtTokens, type JwtOptions } from './auth/jwt-tokens.js';
import type { TokenProvider } from './auth/token-provider.js';
import { Waiters } from './waiters.js';
import { backendCommitStall } from '../failpoints.js';

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
  /** etcd's --auto-compaction-mode/--auto-compaction-retention; absent: off. */
  autoCompaction?: AutoCompactionPolicy;
  /** Tokens and password hashing (absent: simple tokens with etcd's default TTL). */
  auth?: AuthSettings;
}

export interface AuthSettings {
  /** etcd's --auth-token-ttl (simple tokens), in milliseconds; default 300 s. */
  tokenTtlMs?: number;
  /** etcd's --auth-token jwt,...: JWTs instead of simple tokens. */
  jwt?: JwtOptions;
  /** The cost of password hashes (tests lower it). */
  passwordCost?: ScryptCost;
}

/**
 * Chunks of a member's own Raft snapshot, as encoded and written to its file.
 * Below glibc's 128 KiB mmap threshold on purpose: every freed block above it
 * raises that threshold for the life of the process, after which WAL and peer
 * buffers come from malloc heaps that are never given back (see README,
 * "Memory per key").
 */
const RAFT_SNAPSHOT_CHUNK_BYTES = 64 * 1024;

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
  /** A batch of committed entries was applied to the store in `seconds`. */
  onApplied?(seconds: number): void;
}

export interface StatusInfo extends MemberStatus {
  header: Header;
}

export class EtcdServer implements Application {
  readonly store: MvccStore;
  readonly watchHub: WatchHub;
  readonly membership = new Membership();
  node!: RaftNode;
  private readonly alarms = new Alarms();
  /** Simple tokens this member holds (learnt through the log), or JWTs. */
  private readonly tokens: TokenProvider;
  /** The replicated users, roles and permissions. */
  readonly authStore: AuthStore;
  /** Who a request acts as, and whether it may. */
  readonly authGate: AuthGate;
  /** The Auth API's operations (set by attach()). */
  auth!: AuthAdmin;
  private readonly waiters: Waiters;
  private readonly leases: LeaseClock;
  private readonly quota: SpaceQuota;
  private readonly applier: Applier;
  // Set by attach(), once the Raft node exists.
  private proposer!: Proposer;
  private admin!: MembershipAdmin;
  private maintenance!: Maintenance;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private autoCompactor: AutoCompactor | undefined;
  private published = false;
  /** Test builds only (node/failpoints.ts): a backend commit that stalls. */
  private readonly commitStall = backendCommitStall();
  /** A proposal raising the cluster's entry format is in flight (one at a time). */
  private raisingFormat = false;

  constructor(
    readonly identity: ServerIdentity,
    readonly limits: ServerLimits,
    readonly logger: Logger,
    private readonly hooks: ServerHooks = {},
    peers: PeerDirectory = { addPeer: () => {}, removePeer: () => {} },
  ) {
    this.store = new MvccStore({ maxTxnOps: limits.maxTxnOps });
    this.watchHub = new WatchHub(this.store);
    this.tokens = limits.auth?.jwt ? new JwtTokens(limits.auth.jwt) : new SimpleTokens(limits.auth?.tokenTtlMs ?? DEFAULT_TOKEN_TTL_MS);
    this.authStore = new AuthStore({
      onDisabled: () => this.tokens.clear(),
      onUserGone: (name) => this.tokens.forgetUser(name),
      onAuthenticated: (name, token, issuedAt) => this.tokens.assign(token, name, issuedAt),
    });
    this.authGate = new AuthGate(this.authStore, this.tokens);
    const state = { store: this.store, membership: this.membership, alarms: this.alarms, auth: this.authStore };
    const isLeader = (): boolean => this.node?.isLeader ?? false;
    this.waiters = new Waiters(identity.memberId, { onSucceeded: () => hooks.onProposalCommitted?.(), onFailed: () => hooks.onProposalFailed?.() });
    this.leases = new LeaseClock({
      store: this.store,
      isLeader,
      revoke: (id) => this.leaseRevoke(id),
      shareRenewals: (ids) => this.proposer.propose({ leaseRenewBatch: { ids } }),
      retryAfterMs: limits.requestTimeoutMs,
      logger,
    });
    this.quota = new SpaceQuota({
      store: this.store,
      alarms: this.alarms,
      memberId: identity.memberId,
      quotaBytes: limits.quotaBytes,
      isLeader,
      raiseAlarm: () => this.proposer.propose({ alarm: { action: 'activate', memberId: identity.memberId, alarm: 'NOSPACE' } }),
      logger,
    });
    this.applier = new Applier({
      memberId: identity.memberId,
      state,
      leases: this.leases,
      waiters: this.waiters,
      peers,
      applyConfChange: (cc) => this.node?.applyConfChange(cc),
      afterApply: () => {
        this.quota.check();
        this.maybeRaiseEntryFormat();
      },
      ...(hooks.onMembershipChange && { onMembershipChange: hooks.onMembershipChange }),
      logger,
      // Proposals held through a leadership transfer reach the new leader within a few round trips.
      leaderChangeGraceMs: limits.electionTimeoutMs,
    });
  }

  /** Loads the state a snapshot holds (on restart, before the Raft node starts). */
  restoreFrom(snapshot: Snapshot): void {
    if (snapshot.meta.index === 0 || snapshot.data.length === 0) return;
    this.applier.installSnapshot(snapshot);
  }

  attach(node: RaftNode): void {
    this.node = node;
    const { memberId, clusterToken } = this.identity;
    const { requestTimeoutMs, electionTimeoutMs } = this.limits;
    this.proposer = new Proposer({
      memberId,
      node,
      waiters: this.waiters,
      requestTimeoutMs,
      leaderWaitMs: electionTimeoutMs * 3,
      onNoLeader: () => this.hooks.onProposalFailed?.(),
      entryFormat: () => this.membership.entryFormat,
    });
    this.admin = new MembershipAdmin({ membership: this.membership, node, proposer: this.proposer, clusterToken });
    this.maintenance = new Maintenance({ memberId, state: { store: this.store, membership: this.membership, alarms: this.alarms, auth: this.authStore }, node, proposer: this.proposer, requestTimeoutMs });
    this.auth = new AuthAdmin({
      store: this.authStore,
      gate: this.authGate,
      tokens: this.tokens,
      propose: (auth) => this.proposer.propose({ auth }),
      readBarrier: () => this.proposer.readBarrier(),
      entryFormat: () => this.membership.entryFormat,
      ...(this.limits.auth?.passwordCost && { hashCost: this.limits.auth.passwordCost }),
    });
    this.leases.start();
    this.deadlineTimer = setInterval(() => this.waiters.expire(Date.now()), Math.max(10, Math.min(100, requestTimeoutMs / 4)));
    this.deadlineTimer.unref();
    if (this.limits.autoCompaction) {
      this.autoCompactor = new AutoCompactor({
        planner: plannerFor(this.limits.autoCompaction, Date.now(), this.store.revision),
        head: () => this.store.revision,
        isLeader: () => node.isLeader,
        compact: (revision) => this.compact(revision),
        logger: this.logger,
      });
      this.autoCompactor.start();
    }
  }

  /**
   * The first part of a graceful stop: a leader hands leadership to its most
   * caught-up voter (bounded by `handOffMs`), then clients are turned away
   * (`refusing`: the client port closes and gRPC connections get a GOAWAY)
   * and the member waits, until `deadline` (Date.now() ms) at most, for the
   * requests in flight to be answered. Only then are new requests refused
   * ("server stopped"): a call that crossed the GOAWAY on the wire was sent
   * in good faith and is served like the others. `stop()` follows.
   */
  async drain(handOffMs: number, deadline: number, opts: { quietMs?: number; refusing?: () => void } = {}): Promise<{ handedTo?: number; unanswered: number }> {
    const handedTo = this.node.isLeader ? await this.node.handOffLeadership(Math.max(0, Math.min(handOffMs, deadline - Date.now()))) : undefined;
    opts.refusing?.();
    const sleep = (): Promise<void> => new Promise((r) => setTimeout(r, 10));
    // A call whose headers came in before the GOAWAY may still be reading its message: one tick to register.
    await sleep();
    while (this.waiters.size > 0 && Date.now() < deadline) await sleep();
    // Followers that have not heard of the new leader yet still send their
    // proposals here; pass them on until they stop coming.
    const quietMs = opts.quietMs ?? 0;
    while (Date.now() - this.node.lastPeerProposalAt < quietMs && Date.now() < deadline) await sleep();
    this.proposer.refuseNew();
    return { ...(handedTo !== undefined && { handedTo }), unanswered: this.waiters.size };
  }

  stop(): void {
    this.leases.stop();
    this.autoCompactor?.stop();
    this.watchHub.close();
    if (this.deadlineTimer) clearInterval(this.deadlineTimer);
    this.waiters.failAll(errStopped());
  }

  header(): Header {
    return { clusterId: this.identity.clusterId, memberId: this.identity.memberId, revision: this.store.revision, raftTerm: this.raftTerm };
  }

  /** The header's raft_term alone (a hot path checks it without building a header). */
  get raftTerm(): number {
    return this.node?.term ?? 0;
  }

  // ---- KV -----------------------------------------------------------------

  /**
   * `authorize` (the auth gate's check) runs after the read barrier, so a
   * linearizable read sees every permission change acknowledged before it.
   */
  async range(req: RangeRequest, authorize?: () => unknown): Promise<RangeResponse> {
    if (!req.serializable) await this.proposer.readBarrier();
    authorize?.();
    return this.store.range(req);
  }

  /** `authRevision`: the auth revision its permission check held at (auth enabled); it applies only if still current. */
  async put(req: PutRequest, authRevision?: number): Promise<PutResponse> {
    this.quota.admit();
    return (await this.proposeWrite({ put: req }, authRevision)) as PutResponse;
  }

  async deleteRange(req: DeleteRangeRequest, authRevision?: number): Promise<DeleteRangeResponse> {
    return (await this.proposeWrite({ deleteRange: req }, authRevision)) as DeleteRangeResponse;
  }

  private proposeWrite(mvcc: ApplyRequest, authRevision: number | undefined): Promise<unknown> {
    return this.proposer.propose(authRevision === undefined ? { mvcc } : { asUser: { revision: authRevision, mvcc } });
  }

  /** `authorize`: the permission check, returning the auth revision it held at (see put). */
  async txn(req: TxnRequest, authorize?: () => number | undefined): Promise<TxnResponse> {
    if (isReadOnly(req)) {
      await this.proposer.readBarrier();
      authorize?.();
      return this.store.readTxn(req);
    }
    const authRevision = authorize?.();
    this.quota.admit();
    return (await this.proposeWrite({ txn: req }, authRevision)) as TxnResponse;
  }

  async compact(revision: number, physical = false): Promise<CompactionResponse> {
    return (await this.proposer.propose({ mvcc: { compaction: { revision, physical } } })) as CompactionResponse;
  }

  // ---- leases -------------------------------------------------------------

  async leaseGrant(ttl: number, id: LeaseId = 0n): Promise<LeaseGrantResponse> {
    this.quota.admit();
    // Until every member reads int64 lease IDs, grant only what older releases grant, as they answer.
    if (id !== 0n && !isLegacyLeaseId(id) && this.membership.entryFormat < ENTRY_FORMAT_INT64_LEASES) throw errLeaseNotFound();
    const leaseId = id !== 0n ? id : this.freshLeaseId();
    if (ttl <= 0) ttl = 1;
    // etcd raises very short TTLs to the minimum that survives an election.
    const minTtl = Math.ceil((this.limits.electionTimeoutMs * 3) / 2 / 1000);
    return (await this.proposer.propose({ mvcc: { leaseGrant: { id: leaseId, ttl: Math.max(ttl, minTtl) } } })) as LeaseGrantResponse;
  }

  async leaseRevoke(id: LeaseId, authRevision?: number): Promise<LeaseRevokeResponse> {
    return (await this.proposeWrite({ leaseRevoke: { id } }, authRevision)) as LeaseRevokeResponse;
  }

  /** Restarts the lease's clock on every member; returns its TTL. */
  async leaseKeepAlive(id: LeaseId): Promise<number> {
    let lease = this.store.lease(id);
    if (!lease) {
      // This member may not have applied the grant yet (a follower behind,
      // a leader just restarted): "not found" only once its state is as
      // recent as a linearizable read's, or a client drops a live lease.
      await this.proposer.readBarrier();
      lease = this.store.lease(id);
      if (!lease) throw errLeaseNotFound();
    }
    if (this.node.isLeader) {
      // Only the leader's clock decides expiry (see lease-clock.ts).
      this.leases.renewedByThisLeader(id, lease.grantedTtl);
      return lease.grantedTtl;
    }
    return (await this.proposer.propose({ leaseRenew: { id } })) as number;
  }

  async leaseTimeToLive(id: LeaseId, keys: boolean): Promise<{ id: LeaseId; ttl: number; grantedTtl: number; keys: Uint8Array[] }> {
    await this.proposer.readBarrier();
    const info = this.store.leaseTimeToLive(id, keys);
    if (!info) return { id, ttl: -1, grantedTtl: 0, keys: [] };
    return { id, ttl: this.leases.remaining(id, info.grantedTtl), grantedTtl: info.grantedTtl, keys: info.keys };
  }

  async leaseLeases(): Promise<LeaseId[]> {
    await this.proposer.readBarrier();
    return this.store.leaseList().map((l) => l.id);
  }

  private freshLeaseId(): LeaseId {
    for (;;) {
      // Positive as etcd's, and below 2^53 so every release's encodings carry it.
      const id = BigInt(randomInt(1, 2 ** 47) * 64 + randomInt(0, 64));
      if (!this.store.lease(id)) return id;
    }
  }

  // ---- cluster ------------------------------------------------------------

  memberList(linearizable = true): Promise<Member[]> {
    return this.admin.list(linearizable);
  }

  memberAdd(peerUrls: string[], isLearner: boolean): Promise<{ member: Member; members: Member[] }> {
    return this.admin.add(peerUrls, isLearner);
  }

  memberRemove(id: number): Promise<Member[]> {
    return this.admin.remove(id);
  }

  memberPromote(id: number): Promise<Member[]> {
    return this.admin.promote(id);
  }

  memberUpdate(id: number, peerUrls: string[]): Promise<Member[]> {
    return this.admin.update(id, peerUrls);
  }

  // ---- maintenance --------------------------------------------------------

  status(version: string): StatusInfo {
    return { header: this.header(), ...this.maintenance.status(version) };
  }

  async hashKv(revision: number): Promise<HashKvResult> {
    return this.maintenance.hashKv(revision);
  }

  /** The backup stream (Maintenance.Snapshot): this member's state, captured now, produced as it is read. */
  backup(): Promise<BackupStream> {
    return this.maintenance.backup();
  }

  defragment(): Promise<DefragmentResult> {
    return this.maintenance.defragment();
  }

  moveLeader(target: number): Promise<void> {
    return this.maintenance.moveLeader(target);
  }

  alarmList(): Alarm[] {
    return this.alarms.list();
  }

  alarmDeactivate(memberId: number, alarm: AlarmType): Promise<void> {
    return this.maintenance.alarmDeactivate(memberId, alarm);
  }

  // ---- the Application interface of RaftNode -------------------------------

  apply(entries: Entry[]): void {
    if (!this.hooks.onApplied && !this.commitStall) {
      this.applier.apply(entries);
      return;
    }
    const started = performance.now();
    this.applier.apply(entries);
    this.commitStall?.();
    this.hooks.onApplied?.((performance.now() - started) / 1000);
  }

  installSnapshot(snapshot: Snapshot): void {
    this.applier.installSnapshot(snapshot);
  }

  /**
   * The state at the applied index, captured now and encoded in slices of a
   * few milliseconds between which the event loop serves clients and peers;
   * the bytes come as chunks, to be written out as they come. A chunk's
   * memory is filled again once the next is asked for: a store's worth of
   * fresh buffers per snapshot would set off a full collection every ~64 MiB.
   */
  snapshotData(): AsyncIterable<Uint8Array> {
    return captureState(this.store, this.snapshotHead(), RAFT_SNAPSHOT_CHUNK_BYTES, true).chunks();
  }

  leaderChanged(soft: SoftState): void {
    this.logger.info({ leader: soft.lead.toString(16), role: soft.role, term: this.node?.term }, soft.lead === 0 ? 'lost the leader' : 'leader elected');
    this.hooks.onLeaderChange?.(soft);
    if (soft.role === Role.Leader) this.leases.becameLeader();
    if (soft.lead !== 0 && !this.published) this.publishAttributes();
    if (soft.role === Role.Leader) this.maybeRaiseEntryFormat();
  }

  /**
   * The leader moves the cluster to the highest entry format every member of
   * the configuration has published it reads (etcd's cluster version works
   * the same way), through an entry so every member switches at one index.
   */
  private maybeRaiseEntryFormat(): void {
    if (this.membership.entryFormat >= MAX_ENTRY_FORMAT || this.raisingFormat || !this.node?.isLeader) return;
    const next = nextClusterFormat(this.membership.entryFormat, this.membership.list().map((m) => m.entryFormat));
    if (next === undefined) return;
    this.raisingFormat = true;
    this.logger.info({ from: this.membership.entryFormat, to: next }, 'every member reads a newer entry format; raising the cluster\'s');
    this.proposer
      .propose({ entryFormat: { format: next } })
      .catch((err: unknown) => this.logger.warn({ err }, 'raising the cluster entry format failed; will retry'))
      .finally(() => {
        this.raisingFormat = false;
      });
  }

  private snapshotHead(): StateSnapshotHead {
    return { version: STATE_SNAPSHOT_VERSION, membership: this.membership.toJSON(), alarms: this.alarms.toJSON(), auth: this.authStore.toJSON() };
  }

  /** Once a leader is known, record this member's name and client URLs in the cluster. */
  private publishAttributes(): void {
    const self = this.membership.get(this.identity.memberId);
    this.published = true;
    if (self && self.name === this.identity.name && sameUrls(self.clientUrls, this.identity.clientUrls) && self.entryFormat === MAX_ENTRY_FORMAT) return;
    const { memberId: id, name, clientUrls } = this.identity;
    this.proposer.propose({ memberAttributes: { id, name, clientUrls, entryFormat: MAX_ENTRY_FORMAT } }).catch((err: unknown) => {
      this.published = false;
      this.logger.warn({ err }, 'publishing member attributes failed; will retry on the next leader change');
    });
  }
}

function isReadOnly(req: TxnRequest): boolean {
  const ops = [...(req.success ?? []), ...(req.failure ?? [])];
  return ops.every((op) => op.requestRange !== undefined || (op.requestTxn !== undefined && isReadOnly(op.requestTxn)));
}

function sameUrls(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((u, i) => u === b[i]);
}
