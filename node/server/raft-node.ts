// Drives the Raft core for one member: feeds it ticks and peer messages,
// and for every Ready persists first (one fsync for the whole batch: group
// commit), then sends messages, then hands committed entries to the
// application, then advances. Inputs that arrive while a Ready is being
// persisted wait in a queue, so they are stepped together afterwards.
import type { Logger } from 'pino';
import { ProposalDroppedError, Role } from '../raft/raft.js';
import { RawNode, type Ready, type SoftState, type Status } from '../raft/raw-node.js';
import { MessageType, type ConfChange, type ConfState, type Entry, type Message, type NodeId, type Snapshot, type HardState } from '../raft/types.js';
import { errNoLeader, errProposalRefused, errStopped } from './errors.js';
import { RequestIds, formatId } from './ids.js';
import { ReadBarrier } from './read-barrier.js';
import { Snapshotter, type SavedSnapshot, type SnapshotPoint, type SnapshotStorage } from './snapshotter.js';
import { ackBeforeFsyncDelayMs } from '../failpoints.js';

/** A read index round unanswered this long is sent again (its request or answer was lost). */
const READ_INDEX_RETRY_MS = 500;

/** The durable side of the log (DiskStorage in production). */
export interface DurableLog extends SnapshotStorage {
  save(hardState: HardState | undefined, entries: readonly Entry[]): Promise<void>;
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /** The application has applied every entry up to `index`: from now on only followers read them. */
  appliedTo?(index: number): void;
}

export interface MessageSender {
  send(messages: Message[]): void;
  /** As send(), but written before it returns rather than on a later turn. */
  sendNow?(messages: Message[]): void;
}

export interface Application {
  /** Applies committed entries in order (normal and conf change entries). */
  apply(entries: Entry[]): void;
  /** Replaces the application state with a snapshot received from the leader. */
  installSnapshot(snapshot: Snapshot): void;
  /**
   * The application's state at its applied index, for a local snapshot. The
   * state must be captured during the call; its bytes may come later, in
   * chunks, each valid only until the next is asked for.
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

export class RaftNode {
  private readonly raw: RawNode;
  private readonly opts: RaftNodeOptions;
  private inbox: Message[] = [];
  private ticks = 0;
  private busy = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private appliedIndex: number;
  private readonly reads: ReadBarrier;
  /** Test builds only (node/failpoints.ts): a deliberately broken member that acknowledges before its write is durable. */
  private readonly ackBeforeFsync = ackBeforeFsyncDelayMs();
  private readonly snapshots: Snapshotter;
  private confState: ConfState;
  private failure: Error | undefined;

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
    this.confState = opts.storage.initialState().conf;
    const contexts = new RequestIds();
    this.reads = new ReadBarrier(() => new TextEncoder().encode(`r${opts.id}.${contexts.next()}`));
    this.snapshots = new Snapshotter({
      storage: opts.storage,
      capture: () => opts.app.snapshotData(),
      logger: opts.logger,
      snapshotCount: opts.snapshotCount,
      catchUpEntries: opts.snapshotCatchUpEntries ?? 5000,
      isStopped: () => this.stopped,
      onFatal: (err, message) => this.fail(err, message),
    });
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
    this.reads.failAll(errStopped());
  }

  /** A message from a peer. */
  receive(m: Message): void {
    if (this.stopped) return;
    if (m.type === MessageType.Prop) {
      this.lastPeerProposalAt = Date.now();
      // A proposal that reached a member no longer leading is passed on to
      // the leader; peers accept a message only from the member that sends it,
      // so it goes on as this member's (nothing answers a proposal's sender).
      m = { ...m, from: this.opts.id };
    }
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

  /**
   * While this leader hands leadership over, the core would drop proposals;
   * they wait here instead (local ones and those forwarded by followers) and
   * go in when the handover ends: to the new leader, forwarded, or back into
   * this member's log if the transfer failed. Clients see a short pause, not
   * an error.
   */
  private get holdingProposals(): boolean {
    const leading = this.raw.role === Role.Leader;
    if (leading || this.raw.lead !== 0) {
      // A leader is known, this member included: the leaderless wait below
      // starts afresh at the next loss, not at an election long past.
      this.noLeaderSince = 0;
      return leading && this.raw.leadTransferee !== 0;
    }
    // No leader to forward to: between stepping down and hearing from the
    // new leader, or during an election (a handover's is a round trip). Wait
    // up to an election timeout before the core refuses them ("no leader").
    const now = Date.now();
    if (this.noLeaderSince === 0) this.noLeaderSince = now;
    return now < this.handoffUntil || now - this.noLeaderSince < this.opts.tickMs * this.opts.electionTicks;
  }

  /** When this member last found itself without a leader (0 while it knows one). */
  private noLeaderSince = 0;

  /** Until when (Date.now() ms) a handover this member started may still be under way. */
  private handoffUntil = 0;

  private heldForwards: Message[] = [];

  /** When a peer last sent this member a proposal (to lead or to pass on); a stopping member lingers until they stop coming. */
  lastPeerProposalAt = 0;

  /** The voter (not this member) whose log matches the leader's furthest, among those recently active. */
  mostCaughtUpVoter(): NodeId | undefined {
    const status = this.raw.status();
    let best: NodeId | undefined;
    let bestMatch = -1;
    for (const [id, pr] of status.progress) {
      if (id === this.opts.id || pr.isLearner || !pr.recentActive) continue;
      if (pr.match > bestMatch || (pr.match === bestMatch && best !== undefined && id < best)) {
        best = id;
        bestMatch = pr.match;
      }
    }
    return best;
  }

  /**
   * A leader about to stop hands leadership to its most caught-up voter
   * (TimeoutNow through the core's transfer) and waits until another member
   * leads, at most `timeoutMs`. Resolves to the new leader, or undefined when
   * this member does not lead, has no voter to hand to, or the time ran out.
   */
  async handOffLeadership(timeoutMs: number): Promise<NodeId | undefined> {
    if (!this.isLeader || this.stopped) return undefined;
    const target = this.mostCaughtUpVoter();
    if (target === undefined) return undefined;
    this.opts.logger.info({ to: target.toString(16) }, 'stopping: handing leadership over');
    const deadline = Date.now() + timeoutMs;
    this.handoffUntil = deadline;
    this.transferLeadership(target);
    while (Date.now() < deadline && !this.stopped) {
      await new Promise((r) => setTimeout(r, 5));
      if (!this.isLeader && this.raw.lead !== 0 && this.raw.lead !== this.opts.id) return this.raw.lead;
      // The core gives up after an election timeout; ask again while time remains.
      if (this.isLeader && this.raw.leadTransferee === 0) this.transferLeadership(this.mostCaughtUpVoter() ?? target);
    }
    this.handoffUntil = 0;
    return undefined;
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
    const read = this.reads.wait();
    this.kick();
    return read;
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
        reject(errNoLeader());
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
    if (this.stopped) throw errProposalRefused('server stopped');
    if (this.failure) throw errProposalRefused(`storage failed: ${this.failure.message}`);
  }

  /** Runs the loop unless it is already waiting on a Ready. */
  private kick(): void {
    if (this.busy || this.stopped) return;
    this.busy = true;
    // After the poll phase, not on a microtask: every request and peer
    // message read in this turn of the event loop joins one Ready, so one
    // WAL commit. (A WAL fsync made on the event loop reads nothing while it
    // runs; a microtask would start a Ready per request that follows it.)
    setImmediate(() => void this.run());
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
        const sendFirst = this.raw.role === Role.Leader || this.ackBeforeFsync !== undefined;
        if (sendFirst) this.send(rd.messages);
        const persisting = this.persist(rd);
        // Committed entries this member had already made durable (before this
        // Ready's first new entry) are applied while the write is in flight,
        // so their clients need not wait for an fsync that is not theirs.
        const early = this.alreadyDurable(rd);
        if (early > 0) this.applyEntries(rd.committedEntries.slice(0, early));
        await persisting;
        const persisted = performance.now();
        if (this.stopped) return;
        if (!sendFirst) this.send(rd.messages);
        this.applyReady(rd, early);
        this.raw.advance(rd);
        this.reads.applied(this.appliedIndex);
        const took = performance.now() - started;
        if (took > this.opts.tickMs * 2) {
          this.opts.logger.warn(
            { tookMs: Math.round(took), persistMs: Math.round(persisted - started), entries: rd.entries.length, applied: rd.committedEntries.length, messages: rd.messages.length },
            'raft loop iteration took longer than two heartbeats',
          );
        }
        this.snapshots.maybeSnapshot(() => this.snapshotPoint());
      }
    } catch (err) {
      this.fail(err, 'raft loop failed; the member stops serving');
    } finally {
      this.busy = false;
      // Inputs that arrived during the last await are handled now.
      // (Held proposals wait for a tick or message that ends the transfer, not a spin.)
      const proposalsWaiting = (this.proposals.length > 0 || this.heldForwards.length > 0) && !this.holdingProposals;
      if (!this.stopped && (this.inbox.length > 0 || this.ticks > 0 || proposalsWaiting || this.raw.hasReady())) this.kick();
    }
  }

  /** Messages leave before the WAL commit that may follow, which can block the event loop (storage/adaptive-sync.ts). */
  private send(messages: Message[]): void {
    if (messages.length === 0) return;
    const { transport } = this.opts;
    if (transport.sendNow) transport.sendNow(messages);
    else transport.send(messages);
  }

  private stepInputs(): void {
    const holding = this.holdingProposals;
    let inbox = this.inbox;
    this.inbox = [];
    if (!holding && this.heldForwards.length > 0) {
      inbox = [...this.heldForwards, ...inbox];
      this.heldForwards = [];
    }
    for (const m of inbox) {
      if (holding && m.type === MessageType.Prop) {
        this.heldForwards.push(m);
        continue;
      }
      try {
        if (!this.raw.step(m) && m.type === MessageType.Prop) {
          // Its proposer's clients get "leader changed" once a new term applies (Waiters.newTermApplied).
          this.opts.logger.debug({ from: formatId(m.from), entries: m.entries.length, lead: formatId(this.raw.lead) }, 'the core dropped a proposal a peer forwarded');
        }
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
      this.reads.retryUnanswered(READ_INDEX_RETRY_MS);
    }
    if (!this.holdingProposals) this.stepProposals();
    if (this.reads.hasQueued) this.reads.startRound((context) => this.raw.readIndex(context));
  }

  private async persist(rd: Ready): Promise<void> {
    if (rd.snapshot) await this.opts.storage.saveSnapshot(rd.snapshot);
    if (!rd.hardState && rd.entries.length === 0) return;
    const durable = this.opts.storage.save(rd.hardState, rd.entries);
    if (this.ackBeforeFsync === undefined) return durable;
    // BROKEN on purpose (test builds): the log in memory has the entries
    // (save() updates it at once), and nothing waits for the disk.
    durable.catch((err: unknown) => this.fail(err, 'a write this broken member did not wait for failed'));
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
    let bytes = 0;
    for (const e of entries) bytes += e.data.length;
    this.snapshots.countApplied(bytes);
    this.opts.app.apply(entries);
    this.appliedIndex = entries[entries.length - 1]!.index;
    this.opts.storage.appliedTo?.(this.appliedIndex);
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
      this.opts.storage.appliedTo?.(this.appliedIndex);
      this.snapshots.installed(rd.snapshot.meta.index);
      this.confState = rd.snapshot.meta.conf;
    }
    if (rd.committedEntries.length > appliedEarly) {
      this.applyEntries(appliedEarly > 0 ? rd.committedEntries.slice(appliedEarly) : rd.committedEntries);
    }
    this.reads.confirmed(rd.readStates);
    if (rd.softState) this.reads.leaderChanged(rd.softState.lead);
  }

  /** Where a snapshot taken now would be: the applied index, its term, the configuration. */
  private snapshotPoint(): SnapshotPoint | undefined {
    const term = this.raw.termAt(this.appliedIndex);
    return term === undefined ? undefined : { index: this.appliedIndex, term, conf: this.confState };
  }

  /**
   * Snapshots the applied state now (after any snapshot in flight) and
   * compacts the log behind it; resolves once both are durable.
   */
  snapshotNow(): Promise<SavedSnapshot | undefined> {
    this.assertRunning();
    return this.snapshots.snapshotNow(() => this.snapshotPoint());
  }
}
