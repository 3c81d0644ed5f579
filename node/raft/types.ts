// The data the Raft core consumes and produces. These shapes are shared with
// storage (what is persisted), transport (what crosses the wire) and the
// server (what is applied). Member IDs and log positions are plain numbers:
// IDs are generated below 2^53 so they stay exact in JavaScript.

export type NodeId = number;
/** Marks "no member": no vote cast, no known leader. */
export const NONE: NodeId = 0;

export enum EntryType {
  Normal = 0,
  ConfChange = 1,
}

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  /** Opaque to Raft; an empty payload is the no-op a new leader appends. */
  data: Uint8Array;
}

/** Must be durable before any message that depends on it is sent. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  conf: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** The application's state at meta.index, opaque to Raft. */
  data: Uint8Array;
}

export enum ConfChangeType {
  /** Adds a voter, or promotes an existing learner to voter. */
  AddNode = 0,
  RemoveNode = 1,
  AddLearner = 2,
}

export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  /** Application data carried along (for example the member's peer URLs). */
  context: Uint8Array;
}

export enum MessageType {
  /** Local: start an election now. */
  Hup = 0,
  /** Local or forwarded: propose entries to the leader. */
  Prop = 1,
  App = 2,
  AppResp = 3,
  Vote = 4,
  VoteResp = 5,
  PreVote = 6,
  PreVoteResp = 7,
  Heartbeat = 8,
  HeartbeatResp = 9,
  Snap = 10,
  /** Local: the transport could not deliver a snapshot (or it was applied). */
  SnapStatus = 11,
  /** Local: the transport found a peer unreachable. */
  Unreachable = 12,
  /** Local or forwarded: ask the leader to hand leadership to `from`'s choice. */
  TransferLeader = 13,
  /** Leader to transferee: campaign now, skipping the election timeout. */
  TimeoutNow = 14,
  /** Local or forwarded: ask the leader for a read index. */
  ReadIndex = 15,
  ReadIndexResp = 16,
}

export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** App: index of the entry before `entries`. AppResp: last index matched, or the rejected index. */
  index: number;
  /** App: term of the entry at `index`. */
  logTerm: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** AppResp on reject: a hint of the follower's last index, for fast back-off. */
  rejectHint: number;
  /** AppResp on reject: the follower's term at rejectHint (for the conflict-term optimisation). */
  hintTerm: number;
  snapshot?: Snapshot;
  /** Heartbeat/ReadIndex: opaque request context echoed back. */
  context: Uint8Array;
}
