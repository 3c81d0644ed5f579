// The application's handle on the Raft core. The application loop is:
//   1. feed in ticks, peer messages and requests (tick, step, propose, ...);
//   2. if hasReady(), take ready();
//   3. persist ready.snapshot, ready.entries and ready.hardState (fsync);
//   4. send ready.messages;
//   5. apply ready.snapshot and ready.committedEntries (calling
//      applyConfChange for conf change entries), serve ready.readStates;
//   6. advance(ready).
// Nothing may be stepped between ready() and advance().
import { encodeConfChange } from './confchange.js';
import { ProposalDroppedError, Raft, Role, makeMessage, type DropReason, type RaftConfig, type ReadState } from './raft.js';
import {
  EntryType,
  MessageType,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type Snapshot,
} from './types.js';

export interface SoftState {
  lead: NodeId;
  role: Role;
}

export interface Ready {
  /** Set when leader or role changed since the last Ready. */
  softState?: SoftState;
  /** Set when term, vote or commit changed; persist before sending messages. */
  hardState?: HardState;
  /** Entries to persist (appending, replacing any conflicting suffix). */
  entries: Entry[];
  /** A snapshot from the leader to persist and install. */
  snapshot?: Snapshot;
  /** Committed entries to apply, in order. */
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
}

/** What a leader knows of one member's replication (a copy; see Status.progress). */
export interface MemberProgress {
  /** The highest index known to be in that member's log. */
  match: number;
  next: number;
  isLearner: boolean;
  /** Heard from within the current or the previous CheckQuorum period (this member always counts). */
  recentActive: boolean;
}

/** A point-in-time copy of the core's state, for the application and tests. */
export interface Status {
  id: NodeId;
  term: number;
  vote: NodeId;
  lead: NodeId;
  role: Role;
  commit: number;
  applied: number;
  /** The first index the log still holds (the snapshot's index + 1 after compaction). */
  firstIndex: number;
  lastIndex: number;
  conf: ConfState;
  leadTransferee: NodeId;
  /** Whether this member may campaign (a voter not waiting on a snapshot). */
  promotable: boolean;
  /** The leader's view of every member (itself included); empty on other members. */
  progress: ReadonlyMap<NodeId, MemberProgress>;
}

export class RawNode {
  private readonly raft: Raft;
  private prevHardState: HardState;
  private prevSoftState: SoftState;

  /** `create` lets tests substitute a deliberately altered core. */
  constructor(config: RaftConfig, create: (config: RaftConfig) => Raft = (c) => new Raft(c)) {
    this.raft = create(config);
    this.prevHardState = this.hardState();
    this.prevSoftState = this.softState();
  }

  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (if this member may). */
  campaign(): void {
    this.raft.step(makeMessage({ type: MessageType.Hup, from: this.raft.id }));
  }

  /**
   * Feeds a message received from a peer (local-only message types are
   * refused); false if the core dropped it (a proposal it cannot take now).
   */
  step(m: Message): boolean {
    if (m.type === MessageType.Hup || m.type === MessageType.SnapStatus || m.type === MessageType.Unreachable) {
      throw new Error(`raft: message type ${MessageType[m.type]} cannot come from the network`);
    }
    return this.raft.step(m);
  }

  /** Proposes data for the log; throws ProposalDroppedError if it cannot be accepted now. */
  propose(data: Uint8Array): void {
    this.proposeEntry({ term: 0, index: 0, type: EntryType.Normal, data });
  }

  proposeConfChange(cc: ConfChange): void {
    this.proposeEntry({ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) });
  }

  /** Proposes many entries as one batch (one append and one broadcast); all or none are accepted. */
  proposeBatch(data: Uint8Array[]): void {
    if (data.length === 0) return;
    const entries = data.map((d) => ({ term: 0, index: 0, type: EntryType.Normal, data: d }));
    const accepted = this.raft.step(makeMessage({ type: MessageType.Prop, from: this.raft.id, entries }));
    if (!accepted) throw new ProposalDroppedError(this.dropReason());
  }

  private dropReason(): DropReason {
    return this.raft.lead === 0 ? 'no leader' : this.raft.leadTransferee !== 0 ? 'leadership transfer in progress' : 'a membership change is still pending';
  }

  private proposeEntry(entry: Entry): void {
    const accepted = this.raft.step(makeMessage({ type: MessageType.Prop, from: this.raft.id, entries: [entry] }));
    if (!accepted) throw new ProposalDroppedError(this.dropReason());
  }

  /** Asks for a linearizable read position; the answer arrives as a ReadState with this context. */
  readIndex(context: Uint8Array): void {
    const accepted = this.raft.step(makeMessage({ type: MessageType.ReadIndex, from: this.raft.id, context }));
    if (!accepted) throw new ProposalDroppedError('no leader to confirm the read');
  }

  /** Asks the leader to hand leadership to `target`. */
  transferLeadership(target: NodeId): void {
    this.raft.step(makeMessage({ type: MessageType.TransferLeader, from: target, to: this.raft.id }));
  }

  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  reportUnreachable(id: NodeId): void {
    this.raft.step(makeMessage({ type: MessageType.Unreachable, from: id }));
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step(makeMessage({ type: MessageType.SnapStatus, from: id, reject: !ok }));
  }

  hasReady(): boolean {
    const r = this.raft;
    return (
      r.msgs.length > 0 ||
      r.readStates.length > 0 ||
      r.log.pendingEntries().length > 0 ||
      r.log.pendingSnapshot() !== undefined ||
      r.log.hasNextCommittedEntries() ||
      !sameHardState(this.hardState(), this.prevHardState) ||
      !sameSoftState(this.softState(), this.prevSoftState)
    );
  }

  ready(): Ready {
    const r = this.raft;
    const rd: Ready = {
      entries: [...r.log.pendingEntries()],
      committedEntries: r.log.nextCommittedEntries(r.maxCommittedSizePerReady),
      messages: r.msgs,
      readStates: r.readStates,
    };
    r.msgs = [];
    r.readStates = [];
    const snapshot = r.log.pendingSnapshot();
    if (snapshot) rd.snapshot = snapshot;
    const hs = this.hardState();
    if (!sameHardState(hs, this.prevHardState)) rd.hardState = hs;
    const ss = this.softState();
    if (!sameSoftState(ss, this.prevSoftState)) rd.softState = ss;
    return rd;
  }

  /** Acknowledges that a Ready was persisted, sent and applied. */
  advance(rd: Ready): void {
    const log = this.raft.log;
    if (rd.hardState) this.prevHardState = rd.hardState;
    if (rd.softState) this.prevSoftState = rd.softState;
    if (rd.snapshot) log.stableSnapshotTo(rd.snapshot.meta.index);
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry) log.stableTo(lastEntry.index, lastEntry.term);
    const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastApplied) log.appliedTo(lastApplied.index);
  }

  status(): Status {
    const r = this.raft;
    const progress = new Map<NodeId, MemberProgress>();
    if (r.role === Role.Leader) {
      for (const [id, pr] of r.progress) {
        progress.set(id, { match: pr.match, next: pr.next, isLearner: pr.isLearner, recentActive: id === r.id || pr.recentActive || pr.activeLastWindow });
      }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      lead: r.lead,
      role: r.role,
      commit: r.log.committed,
      applied: r.log.applied,
      firstIndex: r.log.firstIndex(),
      lastIndex: r.log.lastIndex(),
      conf: r.confState(),
      leadTransferee: r.leadTransferee,
      promotable: r.promotable(),
      progress,
    };
  }

  // Cheap reads for the application's hot paths (status() copies).

  get term(): number {
    return this.raft.term;
  }

  /** The known leader, or NONE. */
  get lead(): NodeId {
    return this.raft.lead;
  }

  get role(): Role {
    return this.raft.role;
  }

  /** The member a leader is handing leadership to, or NONE. */
  get leadTransferee(): NodeId {
    return this.raft.leadTransferee;
  }

  /** The term of the entry at `index`, or undefined when the log no longer (or does not yet) hold it. */
  termAt(index: number): number | undefined {
    return this.raft.log.term(index);
  }

  /** Entries [lo, hi) of the log, persisted or not; undefined when part of the range is compacted away. */
  entries(lo: number, hi: number): Entry[] | undefined {
    return this.raft.log.slice(lo, hi);
  }

  private hardState(): HardState {
    return { term: this.raft.term, vote: this.raft.vote, commit: this.raft.log.committed };
  }

  private softState(): SoftState {
    return { lead: this.raft.lead, role: this.raft.role };
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.lead === b.lead && a.role === b.role;
}
