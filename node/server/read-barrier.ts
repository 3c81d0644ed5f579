// Linearizable reads for one member (Raft's ReadIndex): reads that arrive
// together share one round; a round's answer is the leader's commit index
// when it confirmed its leadership, and a read is released once this member
// has applied up to it. The Raft loop drives this: it starts rounds, hands
// over the core's read states and leader changes, and says what it applied.
import { ProposalDroppedError } from '../raft/raft.js';
import type { ReadState } from '../raft/raft.js';
import type { NodeId } from '../raft/types.js';
import { errLeaderChanged, errNoLeader } from './errors.js';

interface PendingRead {
  resolve: (index: number) => void;
  reject: (err: Error) => void;
}

export class ReadBarrier {
  /** Reads waiting to join the next round. */
  private queue: PendingRead[] = [];
  /** Reads whose round is in flight, by context, with when the round was sent. */
  private readonly inFlight = new Map<string, PendingRead[]>();
  private readonly sentAt = new Map<string, number>();
  /** Reads confirmed at an index not applied yet. */
  private awaitingApply: { index: number; reads: PendingRead[] }[] = [];
  /** The leader when the reads in flight were sent; a change means they will never be answered. */
  private leaderAtRead: NodeId = 0;

  /** `nextContext` names a round; it must never repeat, across restarts too (a late answer must not release a newer read). */
  constructor(private readonly nextContext: () => Uint8Array) {}

  /** A read that resolves to the index it may be served at. */
  wait(): Promise<number> {
    return new Promise((resolve, reject) => this.queue.push({ resolve, reject }));
  }

  get hasQueued(): boolean {
    return this.queue.length > 0;
  }

  /** Starts one round for every queued read; `readIndex` asks the core. */
  startRound(readIndex: (context: Uint8Array) => void): void {
    const context = this.nextContext();
    const reads = this.queue;
    this.queue = [];
    try {
      readIndex(context);
      this.inFlight.set(contextKey(context), reads);
      this.sentAt.set(contextKey(context), Date.now());
    } catch (err) {
      const error = err instanceof ProposalDroppedError ? errNoLeader() : (err as Error);
      for (const r of reads) r.reject(error);
    }
  }

  /** The core confirmed these rounds: their reads wait for the apply to catch up. */
  confirmed(readStates: readonly ReadState[]): void {
    for (const rs of readStates) {
      const key = contextKey(rs.context);
      const reads = this.inFlight.get(key);
      if (!reads) continue;
      this.inFlight.delete(key);
      this.sentAt.delete(key);
      this.awaitingApply.push({ index: rs.index, reads });
    }
  }

  /** A member that lost its leader will never hear back about rounds in flight. */
  leaderChanged(lead: NodeId): void {
    if (this.inFlight.size > 0 && lead !== this.leaderAtRead) {
      for (const reads of this.inFlight.values()) for (const r of reads) r.reject(errLeaderChanged());
      this.inFlight.clear();
      this.sentAt.clear();
    }
    this.leaderAtRead = lead;
  }

  /**
   * Rounds unanswered for `afterMs` go again with the next round: the
   * request or the answer was lost on the way (a reset connection, a
   * dropped message) and, with the leader unchanged, nothing else would
   * ever release or fail those reads. (etcd resends a read index request
   * every 500 ms the same way.) A late answer to the old round is ignored.
   */
  retryUnanswered(afterMs: number, now = Date.now()): void {
    for (const [key, at] of this.sentAt) {
      if (now - at < afterMs) continue;
      this.queue.push(...this.inFlight.get(key)!);
      this.inFlight.delete(key);
      this.sentAt.delete(key);
    }
  }

  /** Releases the reads whose index is applied. */
  applied(index: number): void {
    if (this.awaitingApply.length === 0) return;
    const still: { index: number; reads: PendingRead[] }[] = [];
    for (const w of this.awaitingApply) {
      if (w.index <= index) for (const r of w.reads) r.resolve(w.index);
      else still.push(w);
    }
    this.awaitingApply = still;
  }

  failAll(err: Error): void {
    for (const r of this.queue) r.reject(err);
    for (const reads of this.inFlight.values()) for (const r of reads) r.reject(err);
    for (const w of this.awaitingApply) for (const r of w.reads) r.reject(err);
    this.queue = [];
    this.inFlight.clear();
    this.sentAt.clear();
    this.awaitingApply = [];
  }
}

function contextKey(ctx: Uint8Array): string {
  return Buffer.from(ctx).toString('latin1');
}
