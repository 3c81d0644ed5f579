// The Raft protocol as a deterministic state machine. It reacts to step()
// (a message from a peer or a local request) and tick() (one unit of logical
// time) by changing its state and queueing outgoing messages; RawNode turns
// that into Ready batches for the application. There is no I/O, no clock and
// no ambient randomness here: the random source is injected so a seeded
// simulator can replay any run exactly.
import { Progress, ProgressState } from './progress.js';
import { RaftLog } from './raft-log.js';
import { majority, quorumIndex } from './quorum.js';
import { ReadOnlyQueue, type ReadRequest } from './read-only.js';
import type { LogStorage } from './storage.js';
import {
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
} from './types.js';

export enum Role {
  Follower = 'follower',
  PreCandidate = 'pre-candidate',
  Candidate = 'candidate',
  Leader = 'leader',
}

export interface RaftConfig {
  id: NodeId;
  storage: LogStorage;
  /** Ticks without hearing from a leader before campaigning (randomised up to twice this). */
  electionTick: number;
  /** Ticks between leader heartbeats; must be well below electionTick. */
  heartbeatTick: number;
  /** Seeded source of numbers in [0, 1). */
  random: () => number;
  /** The index the application has already applied (on restart). */
  applied?: number;
  /** Soft cap on the payload bytes in one append message. */
  maxSizePerMsg?: number;
  /**
   * Soft cap on the payload bytes of committed entries in one Ready (default
   * maxSizePerMsg): a member restarting behind a long committed log applies
   * it in slices instead of all at once.
   */
  maxCommittedSizePerReady?: number;
  /** Cap on append messages in flight to one follower in Replicate state. */
  maxInflightMsgs?: number;
  /** Run a pre-election first so a partitioned member cannot bump terms. Default true. */
  preVote?: boolean;
  /** A leader steps down when it has not heard from a quorum for an election timeout. Default true. */
  checkQuorum?: boolean;
  /** Serve ReadIndex from the leader's lease instead of a heartbeat round. Requires checkQuorum. */
  readOnlyLeaseBased?: boolean;
}

/** A confirmed read: serve it once the applied index reaches `index`. */
export interface ReadState {
  index: number;
  context: Uint8Array;
}

/** Why the core refused a proposal or a read request; callers switch on it rather than on message text. */
export type DropReason = 'no leader' | 'no leader to confirm the read' | 'leadership transfer in progress' | 'a membership change is still pending';

export class ProposalDroppedError extends Error {
  constructor(readonly reason: DropReason) {
    super(`raft: proposal dropped: ${reason}`);
    this.name = 'ProposalDroppedError';
  }
}

/** Marks a vote request sent on a leadership transfer: it may disturb a live leader's lease. */
const TRANSFER_CONTEXT = new Uint8Array([0x74, 0x72, 0x61, 0x6e, 0x73, 0x66, 0x65, 0x72]);

function isTransferContext(ctx: Uint8Array): boolean {
  return ctx.length === TRANSFER_CONTEXT.length && ctx.every((b, i) => b === TRANSFER_CONTEXT[i]);
}

const EMPTY = new Uint8Array();

export function makeMessage(fields: Partial<Message> & Pick<Message, 'type'>): Message {
  return {
    from: NONE,
    to: NONE,
    term: 0,
    index: 0,
    logTerm: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    hintTerm: 0,
    context: EMPTY,
    ...fields,
  };
}

/** Requests that travel with term 0 so any member, whatever its term, can act on them. */
function isTermless(type: MessageType): boolean {
  return type === MessageType.Prop || type === MessageType.ReadIndex || type === MessageType.TransferLeader;
}

function voteResponseType(type: MessageType): MessageType {
  return type === MessageType.PreVote ? MessageType.PreVoteResp : MessageType.VoteResp;
}

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role = Role.Follower;
  readonly log: RaftLog;
  /** Every member of the configuration (voters and learners), including this one. */
  readonly progress = new Map<NodeId, Progress>();
  /** Messages queued for the application to send. */
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  /** The member a leadership transfer is handing over to. */
  leadTransferee: NodeId = NONE;
  /** No conf change may be proposed until the applied index passes this. */
  pendingConfIndex = 0;

  private readonly electionTimeout: number;
  private readonly heartbeatTimeout: number;
  private randomizedElectionTimeout = 0;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private readonly votes = new Map<NodeId, boolean>();
  private readonly readOnly = new ReadOnlyQueue();
  /** Reads that arrived before this leader committed an entry of its own term. */
  private pendingReads: Message[] = [];
  private readonly maxSizePerMsg: number;
  readonly maxCommittedSizePerReady: number;
  private readonly maxInflight: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly leaseReads: boolean;
  private readonly random: () => number;

  constructor(config: RaftConfig) {
    if (config.id === NONE) throw new Error('raft: member id must not be 0');
    if (config.heartbeatTick <= 0 || config.electionTick <= config.heartbeatTick) {
      throw new Error('raft: electionTick must be greater than heartbeatTick, and both positive');
    }
    if (config.readOnlyLeaseBased && config.checkQuorum === false) {
      throw new Error('raft: lease-based reads require checkQuorum');
    }
    this.id = config.id;
    this.electionTimeout = config.electionTick;
    this.heartbeatTimeout = config.heartbeatTick;
    this.maxSizePerMsg = config.maxSizePerMsg ?? 1024 * 1024;
    this.maxCommittedSizePerReady = config.maxCommittedSizePerReady ?? this.maxSizePerMsg;
    this.maxInflight = config.maxInflightMsgs ?? 256;
    this.preVote = config.preVote ?? true;
    this.checkQuorum = config.checkQuorum ?? true;
    this.leaseReads = config.readOnlyLeaseBased ?? false;
    this.random = config.random;
    this.log = new RaftLog(config.storage);

    const { hardState, conf } = config.storage.initialState();
    this.applyConfState(conf);
    if (hardState.commit < this.log.committed || hardState.commit > this.log.lastIndex()) {
      throw new Error(`raft: saved commit ${hardState.commit} is outside the log [${this.log.committed}, ${this.log.lastIndex()}]`);
    }
    this.log.commitTo(hardState.commit);
    this.term = hardState.term;
    this.vote = hardState.vote;
    if (config.applied !== undefined && config.applied > this.log.applied) this.log.appliedTo(config.applied);
    this.becomeFollower(this.term, NONE);
  }

  // ---- inputs -------------------------------------------------------------

  /** Advances logical time by one tick. */
  tick(): void {
    if (this.role === Role.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  /**
   * Feeds one message in. Returns false when a proposal or read request was
   * dropped (no leader, transfer in progress, conf change pending).
   */
  step(m: Message): boolean {
    if (m.term === 0) {
      // Local or termless request: handled below.
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = isTransferContext(m.context);
        const inLease = this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        // A member that heard from a live leader recently ignores pre-votes
        // (and, with CheckQuorum, votes): a partitioned member rejoining
        // cannot depose a healthy leader.
        if (!force && inLease && (m.type === MessageType.PreVote || this.checkQuorum)) return true;
      }
      if (m.type === MessageType.PreVote) {
        // Pre-votes never change our term.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // A granted pre-vote carries the term the candidate will campaign at.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
        // A stale leader (e.g. healed from a partition) learns the new term
        // from this reply and steps down, instead of being ignored forever.
        this.send(makeMessage({ type: MessageType.AppResp, to: m.from }));
      } else if (m.type === MessageType.PreVote) {
        this.send(makeMessage({ type: MessageType.PreVoteResp, to: m.from, reject: true }));
      }
      return true;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(false);
        return true;
      case MessageType.Vote:
      case MessageType.PreVote:
        this.handleVoteRequest(m);
        return true;
      default:
        break;
    }
    switch (this.role) {
      case Role.Leader:
        return this.stepLeader(m);
      case Role.Candidate:
      case Role.PreCandidate:
        return this.stepCandidate(m);
      case Role.Follower:
        return this.stepFollower(m);
    }
  }

  /** Applies a committed conf change; returns the new configuration. */
  applyConfChange(cc: ConfChange): ConfState {
    const pr = this.progress.get(cc.nodeId);
    switch (cc.type) {
      case ConfChangeType.AddNode:
        if (pr) pr.isLearner = false;
        else this.addProgress(cc.nodeId, false);
        break;
      case ConfChangeType.AddLearner:
        // Demoting a voter to learner is not supported; adding twice is a no-op.
        if (!pr) this.addProgress(cc.nodeId, true);
        break;
      case ConfChangeType.RemoveNode:
        this.progress.delete(cc.nodeId);
        if (cc.nodeId === this.leadTransferee) this.abortLeaderTransfer();
        break;
    }
    if (this.role === Role.Leader) {
      const self = this.progress.get(this.id);
      if (!self || self.isLearner) {
        // A leader removed from the voters hands over by stepping down.
        this.becomeFollower(this.term, NONE);
      } else if (this.maybeCommit()) {
        this.bcastAppend();
      }
    }
    return this.confState();
  }

  confState(): ConfState {
    const voters: NodeId[] = [];
    const learners: NodeId[] = [];
    for (const [id, pr] of this.progress) (pr.isLearner ? learners : voters).push(id);
    return { voters: voters.sort((a, b) => a - b), learners: learners.sort((a, b) => a - b) };
  }

  isVoter(id: NodeId): boolean {
    const pr = this.progress.get(id);
    return pr !== undefined && !pr.isLearner;
  }

  // ---- role transitions ---------------------------------------------------

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(this.random() * this.electionTimeout);
    this.abortLeaderTransfer();
    this.votes.clear();
    const last = this.log.lastIndex();
    for (const [id, pr] of this.progress) {
      const fresh = new Progress(last + 1, this.maxInflight, pr.isLearner);
      if (id === this.id) fresh.match = last;
      this.progress.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.readOnly.clear();
    this.pendingReads = [];
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.role = Role.Follower;
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    if (this.role === Role.Leader) throw new Error('raft: a leader cannot become a pre-candidate');
    // Neither the term nor the vote changes: a pre-election is only a poll.
    this.votes.clear();
    this.role = Role.PreCandidate;
    this.lead = NONE;
  }

  private becomeCandidate(): void {
    if (this.role === Role.Leader) throw new Error('raft: a leader cannot become a candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  private becomeLeader(): void {
    if (this.role === Role.Follower) throw new Error('raft: a follower cannot become leader directly');
    this.reset(this.term);
    this.role = Role.Leader;
    this.lead = this.id;
    // Entries from earlier terms commit only under an entry of this term, and
    // no conf change may be proposed before the log up to here is applied.
    this.pendingConfIndex = this.log.lastIndex();
    this.appendEntries([{ term: 0, index: 0, type: EntryType.Normal, data: EMPTY }]);
    this.bcastAppend();
  }

  // ---- elections ----------------------------------------------------------

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(makeMessage({ type: MessageType.Hup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.quorumRecentlyActive()) {
        this.becomeFollower(this.term, NONE);
        return;
      }
      if (this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  /** Whether this member may campaign: a voter not waiting on a snapshot. */
  promotable(): boolean {
    return this.isVoter(this.id) && this.log.pendingSnapshot() === undefined;
  }

  private hup(transfer: boolean): void {
    if (this.role === Role.Leader || !this.promotable()) return;
    // A member that has not applied a committed conf change might not know
    // the configuration it would lead.
    const unapplied = this.log.slice(this.log.applied + 1, this.log.committed + 1) ?? [];
    if (unapplied.some((e) => e.type === EntryType.ConfChange)) return;
    if (this.preVote && !transfer) this.campaign(true, false);
    else this.campaign(false, transfer);
  }

  private campaign(pre: boolean, transfer: boolean): void {
    let type: MessageType;
    let term: number;
    if (pre) {
      this.becomePreCandidate();
      type = MessageType.PreVote;
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      type = MessageType.Vote;
      term = this.term;
    }
    if (this.recordVote(this.id, true) === 'won') {
      if (pre) this.campaign(false, transfer);
      else this.becomeLeader();
      return;
    }
    for (const [id, pr] of this.progress) {
      if (id === this.id || pr.isLearner) continue;
      this.send(
        makeMessage({
          type,
          to: id,
          term,
          index: this.log.lastIndex(),
          logTerm: this.log.lastTerm(),
          context: transfer ? TRANSFER_CONTEXT : EMPTY,
        }),
      );
    }
  }

  private recordVote(id: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    let yes = 0;
    let no = 0;
    let voters = 0;
    for (const [vid, pr] of this.progress) {
      if (pr.isLearner) continue;
      voters++;
      const v = this.votes.get(vid);
      if (v === true) yes++;
      else if (v === false) no++;
    }
    const quorum = majority(voters);
    if (yes >= quorum) return 'won';
    if (no > voters - quorum) return 'lost';
    return 'pending';
  }

  private handleVoteRequest(m: Message): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === MessageType.PreVote && m.term > this.term);
    if (canVote && this.candidateLogIsUpToDate(m.index, m.logTerm)) {
      // Granted pre-votes answer at the candidate's future term so it counts them.
      this.send(makeMessage({ type: voteResponseType(m.type), to: m.from, term: m.term }));
      if (m.type === MessageType.Vote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(makeMessage({ type: voteResponseType(m.type), to: m.from, term: this.term, reject: true }));
    }
  }

  /** The election restriction: vote only for a candidate whose log is at least as up to date. */
  protected candidateLogIsUpToDate(lastIndex: number, lastTerm: number): boolean {
    return this.log.isUpToDate(lastIndex, lastTerm);
  }

  // ---- per-role message handling ------------------------------------------

  private stepLeader(m: Message): boolean {
    switch (m.type) {
      case MessageType.Prop:
        return this.handleProposal(m);
      case MessageType.ReadIndex:
        this.handleReadIndex(m);
        return true;
      default:
        break;
    }
    const pr = this.progress.get(m.from);
    if (!pr) return true;
    switch (m.type) {
      case MessageType.AppResp:
        this.handleAppendResponse(m, pr);
        break;
      case MessageType.HeartbeatResp:
        this.handleHeartbeatResponse(m, pr);
        break;
      case MessageType.SnapStatus:
        if (pr.state !== ProgressState.Snapshot) break;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Wait for the next heartbeat response before probing again.
        pr.probeSent = true;
        break;
      case MessageType.Unreachable:
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        break;
      case MessageType.TransferLeader:
        this.handleTransferLeader(m.from, pr);
        break;
      default:
        break;
    }
    return true;
  }

  private stepCandidate(m: Message): boolean {
    const ourResponse = this.role === Role.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
      case MessageType.ReadIndex:
        return false;
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return true;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return true;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return true;
      case ourResponse: {
        const outcome = this.recordVote(m.from, !m.reject);
        if (outcome === 'won') {
          if (this.role === Role.PreCandidate) this.campaign(false, false);
          else this.becomeLeader();
        } else if (outcome === 'lost') {
          this.becomeFollower(this.term, NONE);
        }
        return true;
      }
      default:
        return true;
    }
  }

  private stepFollower(m: Message): boolean {
    switch (m.type) {
      case MessageType.Prop:
      case MessageType.ReadIndex:
      case MessageType.TransferLeader:
        if (this.lead === NONE) return false;
        this.send({ ...m, to: this.lead, term: 0 });
        return true;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return true;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return true;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return true;
      case MessageType.TimeoutNow:
        // Only the leader hands leadership over; one from anyone else is
        // forged or stale and must not start an election.
        if (m.from === this.lead) this.hup(true);
        return true;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, context: m.context });
        return true;
      default:
        return true;
    }
  }

  // ---- replication: follower side -----------------------------------------

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(makeMessage({ type: MessageType.AppResp, to: m.from, index: this.log.committed }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(makeMessage({ type: MessageType.AppResp, to: m.from, index: lastNew }));
      return;
    }
    // Tell the leader where our log might agree with its, so it can skip a
    // whole divergent term per round trip instead of one entry.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send(
      makeMessage({
        type: MessageType.AppResp,
        to: m.from,
        index: m.index,
        reject: true,
        rejectHint: hint,
        hintTerm: this.log.term(hint) ?? 0,
      }),
    );
  }

  private handleHeartbeat(m: Message): void {
    const last = this.log.lastIndex();
    this.log.commitTo(Math.min(m.commit, last));
    // The leader never sends a commit index beyond what we acknowledged. If
    // our log ends before it, we lost entries since, and an idle leader would
    // never resend them: the rejecting response says where our log ends.
    const lost = m.commit > last;
    this.send(makeMessage({ type: MessageType.HeartbeatResp, to: m.from, context: m.context, reject: lost, rejectHint: lost ? last : 0 }));
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot;
    if (!snap) return;
    if (this.restore(snap)) {
      this.send(makeMessage({ type: MessageType.AppResp, to: m.from, index: this.log.lastIndex() }));
    } else {
      this.send(makeMessage({ type: MessageType.AppResp, to: m.from, index: this.log.committed }));
    }
  }

  /** Installs a leader's snapshot unless our log already covers it. */
  private restore(snap: NonNullable<Message['snapshot']>): boolean {
    if (snap.meta.index <= this.log.committed) return false;
    if (this.log.matchTerm(snap.meta.index, snap.meta.term)) {
      // We hold that entry already: fast-forward the commit instead.
      this.log.commitTo(snap.meta.index);
      return false;
    }
    this.log.restore(snap);
    this.progress.clear();
    this.applyConfState(snap.meta.conf);
    return true;
  }

  private applyConfState(conf: ConfState): void {
    const next = this.log.lastIndex() + 1;
    for (const id of conf.voters) this.progress.set(id, new Progress(next, this.maxInflight, false));
    for (const id of conf.learners) this.progress.set(id, new Progress(next, this.maxInflight, true));
  }

  private addProgress(id: NodeId, isLearner: boolean): void {
    const pr = new Progress(this.log.lastIndex() + 1, this.maxInflight, isLearner);
    if (id === this.id) pr.match = this.log.lastIndex();
    this.progress.set(id, pr);
  }

  // ---- replication: leader side -------------------------------------------

  private handleProposal(m: Message): boolean {
    if (m.entries.length === 0) throw new Error('raft: proposal with no entries');
    if (!this.progress.has(this.id)) return false;
    if (this.leadTransferee !== NONE) return false;
    let confIndex = this.pendingConfIndex;
    for (let i = 0; i < m.entries.length; i++) {
      if (m.entries[i]!.type !== EntryType.ConfChange) continue;
      // One membership change at a time: the previous one must be applied.
      if (confIndex > this.log.applied) return false;
      confIndex = this.log.lastIndex() + i + 1;
    }
    this.pendingConfIndex = confIndex;
    this.appendEntries(m.entries);
    this.bcastAppend();
    return true;
  }

  private appendEntries(entries: Entry[]): void {
    let index = this.log.lastIndex();
    const stamped = entries.map((e) => ({ ...e, term: this.term, index: ++index }));
    const last = this.log.append(stamped);
    this.progress.get(this.id)?.maybeUpdate(last);
    this.maybeCommit();
  }

  /**
   * Advances the commit index to the highest index a quorum of voters holds,
   * but only if that entry is from the current term (Raft §5.4.2): counting
   * replicas of an older term's entry does not make it safe.
   */
  protected maybeCommit(): boolean {
    const committedBefore = this.log.committed;
    const advanced = this.log.maybeCommit(this.quorumMatchIndex(), this.term);
    if (advanced && committedBefore < this.log.committed) this.releasePendingReads();
    return advanced;
  }

  protected quorumMatchIndex(): number {
    const matches: number[] = [];
    for (const pr of this.progress.values()) if (!pr.isLearner) matches.push(pr.match);
    return quorumIndex(matches);
  }

  private bcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id, true);
  }

  /** Sends the next batch of entries (or a snapshot) to a peer; returns whether anything went out. */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const lastIndex = this.log.lastIndex();
    const entries = pr.next > lastIndex ? [] : this.log.slice(pr.next, lastIndex + 1, this.maxSizePerMsg);
    if (prevTerm === undefined || entries === undefined) return this.sendSnapshot(to, pr);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send(
      makeMessage({ type: MessageType.App, to, index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed }),
    );
    pr.sentEntries(prevIndex + entries.length, entries.length);
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    // A snapshot to a peer we have not heard from is likely wasted.
    if (!pr.recentActive) return false;
    const snapshot = this.log.snapshot();
    if (snapshot.meta.index === 0) throw new Error('raft: a peer needs a snapshot but none exists');
    this.send(makeMessage({ type: MessageType.Snap, to, snapshot }));
    pr.becomeSnapshot(snapshot.meta.index);
    return true;
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      const hint = m.hintTerm > 0 ? this.log.findConflictByTerm(m.rejectHint, m.hintTerm) : m.rejectHint;
      if (pr.maybeDecreaseTo(m.index, hint)) {
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === ProgressState.Probe) {
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.Snapshot && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.Replicate) {
      pr.inflights.freeUpTo(m.index);
    }
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else if (wasPaused) {
      this.sendAppend(m.from, true);
    }
    // Keep the pipeline full while there is more to send.
    while (this.sendAppend(m.from, false)) {
      /* send until paused or caught up */
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send(makeMessage({ type: MessageType.TimeoutNow, to: m.from }));
    }
  }

  private bcastHeartbeat(): void {
    const context = this.readOnly.lastContext() ?? EMPTY;
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.send(makeMessage({ type: MessageType.Heartbeat, to: id, commit: Math.min(pr.match, this.log.committed), context }));
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirst();
    if (m.reject) pr.maybeLostEntries(m.rejectHint);
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    if (m.context.length === 0 || this.leaseReads) return;
    const acks = this.readOnly.ack(m.context, m.from);
    if (!acks || !this.hasVoterQuorum(acks)) return;
    for (const req of this.readOnly.releaseThrough(m.context)) this.answerRead(req);
  }

  private quorumRecentlyActive(): boolean {
    const active = new Set<NodeId>();
    for (const [id, pr] of this.progress) {
      if (id === this.id || pr.recentActive) active.add(id);
      if (id === this.id) continue;
      pr.activeLastWindow = pr.recentActive;
      pr.recentActive = false;
    }
    return this.hasVoterQuorum(active);
  }

  private hasVoterQuorum(members: Set<NodeId>): boolean {
    let voters = 0;
    let present = 0;
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      voters++;
      if (members.has(id)) present++;
    }
    return present >= majority(voters);
  }

  // ---- linearizable reads -------------------------------------------------

  private handleReadIndex(m: Message): void {
    if (this.isSingleVoter()) {
      this.answerRead({ context: m.context, from: m.from, index: this.log.committed, acks: new Set() });
      return;
    }
    // Until an entry of this term commits, our commit index may lag the
    // true one: defer the read.
    if (this.log.term(this.log.committed) !== this.term) {
      this.pendingReads.push(m);
      return;
    }
    this.startRead(m);
  }

  private startRead(m: Message): void {
    if (this.leaseReads) {
      this.answerRead({ context: m.context, from: m.from, index: this.log.committed, acks: new Set() });
      return;
    }
    this.readOnly.add(m.context, m.from, this.log.committed, this.id);
    const context = m.context;
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.send(makeMessage({ type: MessageType.Heartbeat, to: id, commit: Math.min(pr.match, this.log.committed), context }));
    }
  }

  private releasePendingReads(): void {
    if (this.role !== Role.Leader || this.pendingReads.length === 0) return;
    if (this.log.term(this.log.committed) !== this.term) return;
    const reads = this.pendingReads;
    this.pendingReads = [];
    for (const m of reads) this.startRead(m);
  }

  private answerRead(req: ReadRequest): void {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index: req.index, context: req.context });
    } else {
      this.send(makeMessage({ type: MessageType.ReadIndexResp, to: req.from, index: req.index, context: req.context }));
    }
  }

  private isSingleVoter(): boolean {
    let voters = 0;
    for (const pr of this.progress.values()) if (!pr.isLearner) voters++;
    return voters === 1 && this.isVoter(this.id);
  }

  // ---- leadership transfer ------------------------------------------------

  private handleTransferLeader(target: NodeId, pr: Progress): void {
    if (pr.isLearner || target === this.id) return;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === target) return;
      this.abortLeaderTransfer();
    }
    this.leadTransferee = target;
    // The transfer must finish within an election timeout or it is abandoned.
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) {
      this.send(makeMessage({ type: MessageType.TimeoutNow, to: target }));
    } else {
      this.sendAppend(target, true);
    }
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  // ---- output -------------------------------------------------------------

  private send(m: Message): void {
    const out = { ...m, from: m.from === NONE || !isTermless(m.type) ? this.id : m.from };
    if (isTermless(m.type)) {
      out.term = 0;
    } else if (m.type !== MessageType.PreVote && m.type !== MessageType.PreVoteResp && m.type !== MessageType.VoteResp) {
      out.term = this.term;
    } else if (out.term === 0) {
      out.term = this.term;
    }
    this.msgs.push(out);
  }
}
