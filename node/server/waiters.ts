// Clients waiting for their proposals to apply. A proposal is known by the
// member that proposed it and that member's request ID; when the entry
// applies, on the proposer, its waiter gets the result. Waiters also fail:
// on their deadline (one sweep for all, not a timer each), when a later
// leader's entries show their proposal may be lost, and when the member stops.
import type { NodeId } from '../raft/types.js';
import { errLeaderChanged, errTimeout } from './errors.js';

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  /** When the client stops waiting (Date.now() ms). */
  deadline: number;
  /** The Raft term when the request was proposed. */
  term: number;
  /** When it fails with "leader changed" unless applied first (a later term's entry applied). */
  suspectUntil?: number;
}

/**
 * What happened to this member's proposals, as etcd's
 * etcd_server_proposals_{committed,failed}_total count them: a proposal that
 * reached the log and applied was committed, even when its answer is an
 * error (a compacted revision, an unknown lease); it failed when Raft
 * dropped it, its client's deadline passed, or a leader change lost it.
 */
export interface WaiterHooks {
  onSucceeded?(): void;
  onFailed?(): void;
}

export class Waiters {
  /** In deadline order: every waiter gets the same timeout, and a Map keeps insertion order. */
  private readonly pending = new Map<number, Waiter>();
  /** Waiters proposed in a term before the last one applied here (see newTermApplied). */
  private readonly suspects = new Set<number>();

  constructor(
    /** Only entries this member proposed have waiters here. */
    private readonly memberId: NodeId,
    private readonly hooks: WaiterHooks = {},
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Waits for the answer to `requestId`, proposed in `term`, until `deadline`. */
  wait(requestId: number, term: number, deadline: number): Promise<unknown> {
    return new Promise((resolve, reject) => this.pending.set(requestId, { resolve, reject, deadline, term }));
  }

  /**
   * Answers the waiter of an applied entry, if this member proposed it and
   * someone still waits: with its result, or with the error applying it
   * gave (the proposal itself succeeded either way).
   */
  settle(origin: NodeId, requestId: number, result: unknown, error?: Error): void {
    if (origin !== this.memberId) return;
    const waiter = this.pending.get(requestId);
    if (!waiter) return;
    this.pending.delete(requestId);
    this.suspects.delete(requestId);
    this.hooks.onSucceeded?.();
    if (error) waiter.reject(error);
    else waiter.resolve(result);
  }

  /**
   * `requestId` is proposed again in `term` (the first proposal reached no
   * log): it is judged by that term from now on. False if nobody waits.
   */
  reproposed(requestId: number, term: number): boolean {
    const waiter = this.pending.get(requestId);
    if (!waiter) return false;
    waiter.term = term;
    waiter.suspectUntil = undefined;
    this.suspects.delete(requestId);
    return true;
  }

  /** Fails the waiter of a proposal that never reached the log (Raft refused or dropped it). */
  drop(requestId: number, error: Error): void {
    const waiter = this.pending.get(requestId);
    if (waiter) this.fail(requestId, waiter, error);
  }

  /** Fails the waiters whose deadline, or grace as a suspect, passed. */
  expire(now: number): void {
    for (const id of this.suspects) {
      const w = this.pending.get(id);
      if (w && w.suspectUntil! <= now) this.fail(id, w, errLeaderChanged());
    }
    for (const [id, w] of this.pending) {
      if (w.deadline > now) break;
      this.fail(id, w, errTimeout());
    }
  }

  /**
   * An entry of `term` applied here. A request proposed in an earlier term
   * that has not applied yet may be lost (a proposal forwarded to a leader
   * that died, or dropped while it handed over leadership, is gone): rather
   * than leave its client waiting for the timeout, it fails with etcd's
   * "leader changed" (never acknowledged, so the client may retry) unless it
   * applies within `graceMs`. The grace lets proposals that were held during
   * a leadership transfer and then forwarded to the new leader land (they
   * come right after its first entry), so a graceful handover fails none.
   * Entries the old leader had appended were applied before this one.
   */
  newTermApplied(term: number, now: number, graceMs: number): void {
    for (const [id, w] of this.pending) {
      if (w.term < term && w.suspectUntil === undefined) {
        w.suspectUntil = now + graceMs;
        this.suspects.add(id);
      }
    }
  }

  /** Fails every waiter (the member stops). */
  failAll(err: Error): void {
    for (const w of this.pending.values()) w.reject(err);
    this.pending.clear();
    this.suspects.clear();
  }

  private fail(id: number, w: Waiter, err: Error): void {
    this.pending.delete(id);
    this.suspects.delete(id);
    this.hooks.onFailed?.();
    w.reject(err);
  }
}
