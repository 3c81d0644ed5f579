// Drives the Raft core for one member: feeds it ticks and peer messages,
// and for every Ready persists first (one fsync for the whole batch: group
// commit), then sends messages, then hands committed entries to the
// application, then advances. Inputs that arrive while a Ready is being
// persisted wait in a queue, so they are stepped together afterwards.
import type { Logger } from 'pino';
import { ProposalDroppedError, Role } from '../raft/raft.js';
import { RawNode, type Ready, type SoftState, type Status } from '../raft/raw-node.js';
import type { LogStorage } from '../raft/storage.js';
import type { ConfChange, ConfState, Entry, Message, NodeId, Snapshot, HardState } from '../raft/types.js';

/** The durable side of the log (DiskStorage in production). */
export interface DurableLog extends LogStorage {
  save(hardState: HardState | undefined, entries: readonly Entry[]): Promise<void>;
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /** Saves a snapshot of this member's applied state, streamed in chunks; resolves to its size. */
  saveOwnSnapshot(meta: Snapshot['meta'], chunks: AsyncIterable<Uint8Array>): Promise<number>;
  compact(index: number): Promise<void>;
}

export interface MessageSender {
  send(messages: Message[]): void;
}

export interface Application {
  /** Applies committed entries in order (normal and conf change entries). */
  apply(entries: Entry[]): void;
  /** Replaces the application state with a snapshot received from the leader. */
  installSnapshot(snapshot: Snapshot): void;
  /**
   * The application's state at its applied index, for a local snapshot. The
   * state must be captured during the call; its bytes may come later, in
   * chunks.
   */
  snapshotData(): AsyncIterable<Uint8Array>;
  leaderChanged?(soft: SoftState): void;
}

export interface RaftNodeOptions {
  id: NodeId;
  storage: DurableLog;
  transport: MessageSender;
  app: Application;
  logger: Logger;
  /** Milliseconds per tick (etcd's --heartbeat-interval). */
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  /** Index already applied to the application state (the snapshot's index on restart). */
  applied: number;
  /** Take a snapshot every this many applied entries (etcd's --snapshot-count). */
  snapshotCount: number;
  /** Entries kept after a snapshot so slightly lagging followers need no snapshot. */
  snapshotCatchUpEntries?: number;
  random?: () => number;
  /** Called once if the member stops for good (storage or core failure), so its process can exit and be restarted. */
  onFatal?: (err: Error) => void;
}

interface PendingRead {
  resolve: (index: number) => void;
  reject: (err: Error) => void;
}

export class RaftNode {
  private readonly raw: RawNode;
  private readonly opts: RaftNodeOptions;
  private inbox: Message[] = [];
  private ticks = 0;
  private busy = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private appliedIndex: number;
  private snapshotIndex: number;
  /** Reads waiting to join the next ReadIndex round. */
  private readQueue: PendingRead[] = [];
  /** Reads whose ReadIndex round is in flight, by context. */
  private readsInFlight = new Map<string, PendingRead[]>();
  /** Reads confirmed at an index the application has not applied yet. */
  private readsAwaitingApply: { index: number; reads: PendingRead[] }[] = [];
  private readSeq = 0;
  private confState: ConfState;
  private failure: Error | undefined;
  /** The leader when the reads in flight were sent; a change means they will never be answered. */
  private leaderIdAtRead: NodeId = 0;

  constructor(opts: RaftNodeOptions) {
    this.opts = opts;
    this.raw = new RawNode({
      id: opts.id,
      storage: opts.storage,
      electionTick: opts.electionTicks,
      heartbeatTick: opts.heartbeatTicks,
      applied: opts.applied,
      random: opts.random ?? Math.random,
      preVote: true,
      checkQuorum: true,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
    });
    this.appliedIndex = opts.applied;
    this.snapshotIndex = opts.storage.snapshot().meta.index;
    this.confState = opts.storage.initialState().conf;
  }

  start(): void {
    this.timer = setInterval(() => {
      this.ticks++;
      this.kick();
    }, this.opts.tickMs);
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const err = new Error('etcdserver: server stopped');
    for (const r of this.readQueue) r.reject(err);
    for (const reads of this.readsInFlight.values()) for (const r of reads) r.reject(err);
    for (const w of this.readsAwaitingApply) for (const r of w.reads) r.reject(err);
    this.readQueue = [];
    this.readsInFlight.clear();
    this.readsAwaitingApply = [];
  }

  /** A message from a peer. */
  receive(m: Message): void {
    if (this.stopped) return;
    this.inbox.push(m);
    this.kick();
  }

  /**
   * Queues data for the log. Everything proposed before the loop next runs
   * goes in as one batch: one append, one broadcast, one fsync. `onDropped`
   * is called if the core refuses the batch (no leader, transfer running).
   */
  propose(data: Uint8Array, onDropped: (err: ProposalDroppedError) => void): void {
    this.assertRunning();
    this.proposals.push(data);
    this.proposalDropped.push(onDropped);
    this.kick();
  }

  private proposals: Uint8Array[] = [];
  private proposalDropped: ((err: ProposalDroppedError) => void)[] = [];

  private stepProposals(): void {
    if (this.proposals.length === 0) return;
    const data = this.proposals;
    const dropped = this.proposalDropped;
    this.proposals = [];
    this.proposalDropped = [];
    try {
      this.raw.proposeBatch(data);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
      for (const d of dropped) d(err);
    }
  }

  proposeConfChange(cc: ConfChange): void {
    this.assertRunning();
    this.raw.proposeConfChange(cc);
    this.kick();
  }

  applyConfChange(cc: ConfChange): ConfState {
    this.confState = this.raw.applyConfChange(cc);
    return this.confState;
  }

  transferLeadership(target: NodeId): void {
    this.raw.transferLeadership(target);
    this.kick();
  }

  reportUnreachable(id: NodeId): void {
    this.raw.reportUnreachable(id);
    this.kick();
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raw.reportSnapshot(id, ok);
    this.kick();
  }

  /**
   * Resolves once it is safe to serve a linearizable read from local state:
   * the leader confirmed its leadership and this member applied up to the
   * leader's commit index at that moment. Concurrent reads share one round.
   */
  linearizableReadBarrier(): Promise<number> {
    this.assertRunning();
    return new Promise((resolve, reject) => {
      this.readQueue.push({ resolve, reject });
      this.kick();
    });
  }

  /**
   * Resolves once some leader is known, or rejects with etcd's "no leader"
   * after `timeoutMs` (a member that just started, or lost its leader, gets
   * an election's worth of time before clients see an error).
   */
  whenLeader(timeoutMs: number): Promise<void> {
    if (this.raw.lead !== 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.leaderWaiters.delete(waiter);
        reject(new ProposalDroppedError('no leader'));
      }, timeoutMs);
      this.leaderWaiters.add(waiter);
    });
  }

  private readonly leaderWaiters = new Set<{ resolve: () => void }>();

  get applied(): number {
    return this.appliedIndex;
  }

  get isLeader(): boolean {
    return this.raw.role === Role.Leader;
  }

  get leaderId(): NodeId {
    return this.raw.lead;
  }

  get term(): number {
    return this.raw.term;
  }

  /** The core's state (log bounds, the leader's view of replication), copied. */
  status(): Status {
    return this.raw.status();
  }

  /** The term of the log entry at `index`, if the log holds it. */
  termAt(index: number): number | undefined {
    return this.raw.termAt(index);
  }

  /** Set when persisting failed: the member must stop (it cannot promise durability). */
  get fatalError(): Error | undefined {
    return this.failure;
  }

  /** Stops for good: the member can no longer promise durability or progress. */
  private fail(err: unknown, message: string): void {
    this.failure = err instanceof Error ? err : new Error(String(err));
    this.opts.logger.fatal({ err: this.failure }, message);
    this.stop();
    this.opts.onFatal?.(this.failure);
  }

  private assertRunning(): void {
    if (this.stopped) throw new ProposalDroppedError('server stopped');
    if (this.failure) throw new ProposalDroppedError(`storage failed: ${this.failure.message}`);
  }

  /** Runs the loop unless it is already waiting on a Ready. */
  private kick(): void {
    if (this.busy || this.stopped) return;
    this.busy = true;
    queueMicrotask(() => void this.run());
  }

  private async run(): Promise<void> {
    try {
      for (;;) {
        if (this.stopped) return;
        this.stepInputs();
        if (!this.raw.hasReady()) return;
        const rd = this.raw.ready();
        const started = performance.now();
        // A leader may send before its own write is durable (Raft thesis
        // 10.2.1, as etcd does): followers persist in parallel with it, and
        // the core counts the leader's own copy only toward commit, which is
        // applied after this persist. Others must persist before answering.
        const sendFirst = this.raw.role === Role.Leader;
        if (sendFirst) this.opts.transport.send(rd.messages);
        const persisting = this.persist(rd);
        // Committed entries this member had already made durable (before this
        // Ready's first new entry) are applied while the write is in flight,
        // so their clients need not wait for an fsync that is not theirs.
        const early = this.alreadyDurable(rd);
        if (early > 0) this.applyEntries(rd.committedEntries.slice(0, early));
        await persisting;
        const persisted = performance.now();
        if (this.stopped) return;
        if (!sendFirst) this.opts.transport.send(rd.messages);
        this.applyReady(rd, early);
        this.raw.advance(rd);
        this.serveReads();
        const took = performance.now() - started;
        if (took > this.opts.tickMs * 2) {
          this.opts.logger.warn(
            { tookMs: Math.round(took), persistMs: Math.round(persisted - started), entries: rd.entries.length, applied: rd.committedEntries.length, messages: rd.messages.length },
            'raft loop iteration took longer than two heartbeats',
          );
        }
        this.maybeSnapshot();
      }
    } catch (err) {
      this.fail(err, 'raft loop failed; the member stops serving');
    } finally {
      this.busy = false;
      // Inputs that arrived during the last await are handled now.
      if (!this.stopped && (this.inbox.length > 0 || this.ticks > 0 || this.proposals.length > 0 || this.raw.hasReady())) this.kick();
    }
  }

  private stepInputs(): void {
    const inbox = this.inbox;
    this.inbox = [];
    for (const m of inbox) {
      try {
        this.raw.step(m);
      } catch (err) {
        this.opts.logger.warn({ err, from: m.from, type: m.type }, 'dropping a peer message the core refused');
      }
    }
    // At most one tick per turn. After a stall (a large batch, a slow
    // fsync), applying every missed tick at once would push a follower past
    // its election timeout right after it stepped the leader's queued
    // heartbeats; dropping the extra ticks only slows the clock under load.
    if (this.ticks > 0) {
      this.raw.tick();
      this.ticks = 0;
    }
    this.stepProposals();
    if (this.readQueue.length > 0) this.startReadRound();
  }

  private startReadRound(): void {
    const context = new TextEncoder().encode(`r${this.opts.id}.${++this.readSeq}`);
    const reads = this.readQueue;
    this.readQueue = [];
    try {
      this.raw.readIndex(context);
      this.readsInFlight.set(contextKey(context), reads);
    } catch (err) {
      const error = err instanceof ProposalDroppedError ? new Error('etcdserver: no leader') : (err as Error);
      for (const r of reads) r.reject(error);
    }
  }

  private async persist(rd: Ready): Promise<void> {
    if (rd.snapshot) await this.opts.storage.saveSnapshot(rd.snapshot);
    if (rd.hardState || rd.entries.length > 0) await this.opts.storage.save(rd.hardState, rd.entries);
  }

  /** How many of the Ready's committed entries were durable here before it (0 when it changes leader or installs a snapshot). */
  private alreadyDurable(rd: Ready): number {
    if (rd.snapshot || rd.softState || rd.committedEntries.length === 0) return 0;
    const firstNew = rd.entries.length > 0 ? rd.entries[0]!.index : Infinity;
    let n = 0;
    while (n < rd.committedEntries.length && rd.committedEntries[n]!.index < firstNew) n++;
    return n;
  }

  private applyEntries(entries: Entry[]): void {
    this.countAppliedBytes(entries);
    this.opts.app.apply(entries);
    this.appliedIndex = entries[entries.length - 1]!.index;
  }

  /** Applies the Ready after its write is durable; the first `appliedEarly` committed entries already were. */
  private applyReady(rd: Ready, appliedEarly = 0): void {
    if (rd.softState) this.opts.app.leaderChanged?.(rd.softState);
    if (rd.softState && rd.softState.lead !== 0 && this.leaderWaiters.size > 0) {
      for (const w of this.leaderWaiters) w.resolve();
      this.leaderWaiters.clear();
    }
    if (rd.snapshot) {
      this.opts.app.installSnapshot(rd.snapshot);
      this.appliedIndex = rd.snapshot.meta.index;
      this.snapshotIndex = rd.snapshot.meta.index;
      this.confState = rd.snapshot.meta.conf;
    }
    if (rd.committedEntries.length > appliedEarly) {
      this.applyEntries(appliedEarly > 0 ? rd.committedEntries.slice(appliedEarly) : rd.committedEntries);
    }
    for (const rs of rd.readStates) {
      const key = contextKey(rs.context);
      const reads = this.readsInFlight.get(key);
      if (!reads) continue;
      this.readsInFlight.delete(key);
      this.readsAwaitingApply.push({ index: rs.index, reads });
    }
    // A member that lost its leader will never hear back about reads in flight.
    if (rd.softState && this.readsInFlight.size > 0 && rd.softState.lead !== this.leaderIdAtRead) {
      const err = new Error('etcdserver: leader changed');
      for (const reads of this.readsInFlight.values()) for (const r of reads) r.reject(err);
      this.readsInFlight.clear();
    }
    if (rd.softState) this.leaderIdAtRead = rd.softState.lead;
  }

  private serveReads(): void {
    if (this.readsAwaitingApply.length === 0) return;
    const still: { index: number; reads: PendingRead[] }[] = [];
    for (const w of this.readsAwaitingApply) {
      if (w.index <= this.appliedIndex) for (const r of w.reads) r.resolve(w.index);
      else still.push(w);
    }
    this.readsAwaitingApply = still;
  }

  /**
   * Starts a snapshot of the applied state once enough entries applied since
   * the last. It is encoded and saved in the background: the loop keeps
   * stepping heartbeats and proposals meanwhile, and only one runs at a time.
   */
  private countAppliedBytes(entries: readonly Entry[]): void {
    for (const e of entries) this.bytesSinceSnapshot += e.data.length;
  }

  /** Entry bytes applied since the last local snapshot started. */
  private bytesSinceSnapshot = 0;
  /** Size of the last local snapshot (0 before the first). */
  private lastSnapshotBytes = 0;

  /**
   * A snapshot is due after --snapshot-count entries, and once the entries
   * applied since the last one add up to a quarter of its size: a snapshot
   * holds the whole state, so without the second rule a large store would
   * rewrite it every few thousand writes and the disk would stall the WAL's
   * fsyncs (the cost stays within ~4x the log bytes either way).
   */
  private snapshotDue(): boolean {
    if (this.appliedIndex - this.snapshotIndex < this.opts.snapshotCount) return false;
    return this.bytesSinceSnapshot * 4 >= this.lastSnapshotBytes;
  }

  private maybeSnapshot(): void {
    if (this.snapshotInFlight || !this.snapshotDue()) return;
    const index = this.appliedIndex;
    const term = this.raw.termAt(index);
    if (term === undefined) return;
    const conf = this.confState;
    this.snapshotInFlight = true;
    this.bytesSinceSnapshot = 0;
    let data: AsyncIterable<Uint8Array>;
    try {
      data = this.opts.app.snapshotData();
    } catch (err) {
      this.snapshotInFlight = false;
      this.opts.logger.warn({ err, index }, 'capturing a snapshot failed; will retry');
      return;
    }
    void this.saveSnapshot(index, term, conf, data).finally(() => {
      this.snapshotInFlight = false;
    });
  }

  private snapshotInFlight = false;

  private async saveSnapshot(index: number, term: number, conf: ConfState, data: AsyncIterable<Uint8Array>): Promise<void> {
    const started = performance.now();
    // A snapshot installed from the leader meanwhile supersedes this one.
    if (this.stopped || index <= this.snapshotIndex) return;
    let bytes: number;
    try {
      bytes = await this.opts.storage.saveOwnSnapshot({ index, term, conf }, encodingFailures(data));
      this.lastSnapshotBytes = bytes;
      this.snapshotIndex = Math.max(this.snapshotIndex, index);
      const keep = this.opts.snapshotCatchUpEntries ?? 5000;
      if (index > keep) await this.opts.storage.compact(Math.min(index - keep, this.opts.storage.snapshot().meta.index));
    } catch (err) {
      if (this.stopped) return;
      if (err instanceof SnapshotEncodingError) {
        // e.g. a compaction rewrote the state under the encoder: the next turn tries again.
        this.opts.logger.warn({ err: err.cause, index }, 'encoding a snapshot failed; will retry');
        return;
      }
      this.fail(err, 'saving a snapshot failed; the member stops serving');
      return;
    }
    this.opts.logger.info({ index, term, bytes, tookMs: Math.round(performance.now() - started) }, 'saved snapshot and compacted the log');
  }
}

/** The application failed to produce its snapshot's bytes (as opposed to storage failing to keep them). */
class SnapshotEncodingError extends Error {
  constructor(cause: unknown) {
    super(`encoding the snapshot failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

async function* encodingFailures(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of chunks) yield chunk;
  } catch (err) {
    throw new SnapshotEncodingError(err);
  }
}

function contextKey(ctx: Uint8Array): string {
  return Buffer.from(ctx).toString('latin1');
}
