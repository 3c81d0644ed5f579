// Clients waiting for their proposals to apply. A proposal is known by the
// member that proposed it and that member's request ID; when the entry
// applies, on the proposer, its waiter gets the result. Waiters also fail:
// on their deadline (one sweep for all, not a timer each), when a new leader
// shows their proposal may be lost, and when the member stops.
import type { NodeId } from '../raft/types.js';
import { errLeaderChanged, errTimeout } from './errors.js';

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  /** When the client stops waiting (Date.now() ms). */
  deadline: number;
  /** The leader when the request was proposed. */
  leader: NodeId;
}

export interface WaiterHooks {
  onSucceeded?(): void;
  onFailed?(): void;
}

export class Waiters {
  /** In deadline order: every waiter gets the same timeout, and a Map keeps insertion order. */
  private readonly pending = new Map<number, Waiter>();

  constructor(
    /** Only entries this member proposed have waiters here. */
    private readonly memberId: NodeId,
    private readonly hooks: WaiterHooks = {},
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Waits for the answer to `requestId`, proposed under `leader`, until `deadline`. */
  wait(requestId: number, leader: NodeId, deadline: number): Promise<unknown> {
    return new Promise((resolve, reject) => this.pending.set(requestId, { resolve, reject, deadline, leader }));
  }

  /** Answers the waiter of an applied (or refused) entry, if this member proposed it and someone still waits. */
  settle(origin: NodeId, requestId: number, result: unknown, error?: Error): void {
    if (origin !== this.memberId) return;
    const waiter = this.pending.get(requestId);
    if (!waiter) return;
    this.pending.delete(requestId);
    if (error) {
      this.hooks.onFailed?.();
      waiter.reject(error);
    } else {
      this.hooks.onSucceeded?.();
      waiter.resolve(result);
    }
  }

  /** Fails the waiters whose deadline passed. */
  expire(now: number): void {
    for (const [id, w] of this.pending) {
      if (w.deadline > now) break;
      this.fail(id, w, errTimeout());
    }
  }

  /**
   * A request proposed under another leader may have been lost with it (a
   * proposal forwarded to a leader that died is gone). Rather than leave its
   * client waiting for the timeout, fail it now with etcd's "leader changed":
   * it was never acknowledged, so the client may retry.
   */
  failUnlessProposedUnder(lead: NodeId): void {
    for (const [id, w] of this.pending) if (w.leader !== lead) this.fail(id, w, errLeaderChanged());
  }

  /** Fails every waiter (the member stops). */
  failAll(err: Error): void {
    for (const w of this.pending.values()) w.reject(err);
    this.pending.clear();
  }

  private fail(id: number, w: Waiter, err: Error): void {
    this.pending.delete(id);
    this.hooks.onFailed?.();
    w.reject(err);
  }
}
