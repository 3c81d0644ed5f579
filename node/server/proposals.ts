// Getting a client's request into the log and waiting for its answer: a
// request ID that never repeats, admission control, the proposal itself, and
// the wait (see waiters.ts). Also the linearizable read barrier, which waits
// the same way for a leader before asking it.
import { ProposalDroppedError } from '../raft/raft.js';
import type { ConfChange } from '../raft/types.js';
import { encodeConfContext, encodeEntry, type ServerRequest } from './entry.js';
import { droppedProposalError, errNoLeader, errStopped, ServerError } from './errors.js';
import { RequestIds } from './ids.js';
import type { Member } from './membership.js';
import type { RaftNode } from './raft-node.js';
import type { Waiters } from './waiters.js';
import { localReads } from '../failpoints.js';

/** Requests this member lets wait for the log at once before answering "too many requests". */
const MAX_PENDING_REQUESTS = 20_000;

/** How often one request is handed to Raft again after a drop for want of a leader. */
const MAX_RESUBMITS = 3;

export interface ProposerOptions {
  memberId: number;
  node: RaftNode;
  waiters: Waiters;
  /** How long a client waits for its write to apply. */
  requestTimeoutMs: number;
  /** How long a request waits for a leader to be known. */
  leaderWaitMs: number;
  /**
   * A write gave up waiting for a leader: a failed proposal, as etcd counts
   * one that waits in Raft for a leader until its deadline. (Requests turned
   * away before that, "too many requests" among them, are not proposals.)
   */
  onNoLeader?: () => void;
  /** The cluster's entry format now: which encoding new entries use. */
  entryFormat: () => number;
}

export class Proposer {
  private readonly ids = new RequestIds();
  /** Set when the member starts stopping: new requests are answered "server stopped" so clients go elsewhere. */
  private refusing = false;

  constructor(private readonly opts: ProposerOptions) {}

  /** From now on, new requests fail with etcd's "server stopped" (those already waiting finish). */
  refuseNew(): void {
    this.refusing = true;
  }

  /** Proposes a request and resolves to its result once it applies here. */
  propose(request: ServerRequest): Promise<unknown> {
    if (this.refusing) return Promise.reject(errStopped());
    const requestId = this.ids.next();
    let data: Uint8Array;
    try {
      data = encodeEntry({ origin: this.opts.memberId, requestId, request }, this.opts.entryFormat());
    } catch (err) {
      // A request the cluster's entry format cannot carry (see entry.ts).
      return Promise.reject(err as Error);
    }
    return this.waitFor(requestId, () => this.submit(requestId, data, MAX_RESUBMITS));
  }

  /**
   * Hands an entry to Raft. The core drops it with "no leader" when an
   * election began between the leader check and the step (a leadership
   * transfer, a leader lost): it reached no log, so once a leader is known
   * it is handed over again, under the same request ID and within its
   * client's deadline, instead of failing a request a moment's wait serves.
   * Any other drop, or a waiter already gone (its deadline passed), fails.
   */
  private submit(requestId: number, data: Uint8Array, resubmits: number): void {
    const { node, waiters } = this.opts;
    node.propose(data, (err) => {
      if (err.reason !== 'no leader' || resubmits === 0 || this.refusing) {
        waiters.drop(requestId, droppedProposalError(err));
        return;
      }
      this.leaderKnown().then(
        () => {
          if (!waiters.reproposed(requestId, node.term)) return;
          try {
            this.submit(requestId, data, resubmits - 1);
          } catch (e) {
            waiters.drop(requestId, e as Error);
          }
        },
        (e: Error) => waiters.drop(requestId, e),
      );
    });
  }

  /** Proposes a membership change for `member`; resolves once it applies here. */
  proposeConf(cc: Omit<ConfChange, 'context'>, member: Member): Promise<unknown> {
    if (this.refusing) return Promise.reject(errStopped());
    const requestId = this.ids.next();
    const context = encodeConfContext({
      id: member.id,
      name: member.name,
      peerUrls: member.peerUrls,
      isLearner: member.isLearner,
      origin: this.opts.memberId,
      requestId,
    });
    return this.waitFor(requestId, () => this.opts.node.proposeConfChange({ ...cc, context }));
  }

  /** Resolves once a read may be served from local state linearizably. */
  async readBarrier(): Promise<number> {
    if (this.refusing) throw errStopped();
    // Test builds only (node/failpoints.ts): a deliberately broken member that reads locally.
    if (localReads()) return 0;
    await this.leaderKnown();
    try {
      return await this.opts.node.linearizableReadBarrier();
    } catch (err) {
      if (err instanceof ServerError) throw err;
      throw new ServerError('UNAVAILABLE', `etcdserver: ${(err as Error).message}`);
    }
  }

  /** Waits (up to a few election timeouts) for a leader before giving up with "no leader". */
  async leaderKnown(): Promise<void> {
    try {
      await this.opts.node.whenLeader(this.opts.leaderWaitMs);
    } catch {
      throw errNoLeader();
    }
  }

  private async waitFor(requestId: number, submit: () => void): Promise<unknown> {
    // The common case, a known leader, costs no extra promise and turn.
    if (this.opts.node.leaderId === 0) {
      try {
        await this.leaderKnown();
      } catch (err) {
        this.opts.onNoLeader?.();
        throw err;
      }
    }
    const { waiters, node } = this.opts;
    // Admission control: past this many requests in flight, more would only
    // queue behind them (and starve the loop); fail fast as etcd does.
    if (waiters.size >= MAX_PENDING_REQUESTS) throw new ServerError('RESOURCE_EXHAUSTED', 'etcdserver: too many requests');
    const answer = waiters.wait(requestId, node.term, Date.now() + this.opts.requestTimeoutMs);
    try {
      submit();
    } catch (err) {
      // Refused before it reached the log: nobody else will settle it.
      const error = err instanceof ProposalDroppedError ? droppedProposalError(err) : (err as Error);
      waiters.drop(requestId, error);
    }
    return answer;
  }
}
