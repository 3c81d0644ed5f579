// Applying committed entries to the replicated state: the MVCC store, the
// member table, the alarms and the auth store, plus what follows from them locally (lease
// clocks, peer links, the proposer's waiting client). Every member applies
// the same entries in the same order; only the proposer answers a client.
import type { Logger } from 'pino';
import { MvccError } from '../mvcc/errors.js';
import type { MvccStore } from '../mvcc/store.js';
import type { ApplyRequest } from '../mvcc/types.js';
import { decodeConfChange } from '../raft/confchange.js';
import { ConfChangeType, EntryType, type ConfChange, type ConfState, type Entry, type Snapshot } from '../raft/types.js';
import type { Alarms } from './alarms.js';
import type { AuthStore } from './auth/auth-store.js';
import { errAuthOldRevision } from './auth/auth-errors.js';
import { decodeConfContext, decodeEntry, type ServerRequest } from './entry.js';
import { EntryFormatTooNewError, MAX_ENTRY_FORMAT } from './entry-format.js';
import { errLeaseNotFound, ServerError } from './errors.js';
import type { LeaseClock } from './lease-clock.js';
import type { Member, Membership } from './membership.js';
import { decodeStateSnapshot } from './state-snapshot.js';
import type { Waiters } from './waiters.js';

/** The links to other members, which follow the member table. */
export interface PeerDirectory {
  addPeer(id: number, urls: string[]): void;
  removePeer(id: number): void;
  updatePeer?(id: number, urls: string[]): void;
}

/** The replicated state: every member holds the same after applying the same entries. */
export interface ReplicatedState {
  store: MvccStore;
  membership: Membership;
  alarms: Alarms;
  auth: AuthStore;
}

export interface ApplierOptions {
  memberId: number;
  state: ReplicatedState;
  leases: LeaseClock;
  waiters: Waiters;
  peers: PeerDirectory;
  /** Tells the Raft core about an applied conf change (absent before the node starts). */
  applyConfChange: (cc: ConfChange) => ConfState | undefined;
  /** After a batch of entries applied (the space quota's check). */
  afterApply: () => void;
  onMembershipChange?: (members: Member[]) => void;
  /** The cluster's entry format changed (applied, or restored from a snapshot). */
  onEntryFormatChange?: (format: number) => void;
  logger: Logger;
  /** How long a request proposed in an earlier term may still apply once a later term's entry has (see Waiters.newTermApplied). */
  leaderChangeGraceMs: number;
}

export class Applier {
  /** The term of the last entry applied. */
  private term = 0;

  constructor(private readonly opts: ApplierOptions) {}

  apply(entries: readonly Entry[]): void {
    const { store } = this.opts.state;
    for (const entry of entries) {
      if (entry.type === EntryType.ConfChange) this.applyConfChange(entry);
      else if (entry.data.length === 0) store.markApplied(entry.index);
      else this.applyRequest(entry);
      if (entry.term > this.term) {
        this.term = entry.term;
        this.opts.waiters.newTermApplied(entry.term, Date.now(), this.opts.leaderChangeGraceMs);
      }
    }
    this.opts.afterApply();
  }

  private applyRequest(entry: Entry): void {
    const { origin, requestId, request } = decodeEntry(entry.data);
    const settle = (result: unknown, error?: Error): void => this.opts.waiters.settle(origin, requestId, result, error);
    if ('mvcc' in request) {
      this.applyMvcc(entry.index, request.mvcc, settle);
      return;
    }
    if ('asUser' in request) {
      const { auth, store } = this.opts.state;
      // Checked at an older auth revision: users, roles or permissions changed since, so the check no longer holds.
      if (auth.enabled && request.asUser.revision < auth.revision) {
        store.markApplied(entry.index);
        settle(undefined, errAuthOldRevision());
        return;
      }
      this.applyMvcc(entry.index, request.asUser.mvcc, settle);
      return;
    }
    this.opts.state.store.markApplied(entry.index);
    this.applyServerRequest(entry.index, origin, request, settle);
  }

  private applyMvcc(index: number, request: ApplyRequest, settle: (result: unknown, error?: Error) => void): void {
    const { leases } = this.opts;
    let response: unknown;
    try {
      response = this.opts.state.store.apply(index, request);
    } catch (err) {
      if (!(err instanceof MvccError)) throw err;
      settle(undefined, new ServerError(err.code, err.message));
      return;
    }
    if ('leaseGrant' in request && response) leases.granted(request.leaseGrant.id, request.leaseGrant.ttl);
    if ('leaseRevoke' in request) leases.revoked(request.leaseRevoke.id);
    settle(response);
  }

  /** Requests the server applies itself (they carry no MVCC change). */
  private applyServerRequest(index: number, origin: number, request: Exclude<ServerRequest, { mvcc: unknown } | { asUser: unknown }>, settle: (result: unknown, error?: Error) => void): void {
    const { store, membership, alarms } = this.opts.state;
    if ('leaseRenew' in request) {
      const lease = store.lease(request.leaseRenew.id);
      if (!lease) return settle(undefined, errLeaseNotFound());
      this.opts.leases.renewed(lease.id, lease.grantedTtl);
      settle(lease.grantedTtl);
    } else if ('leaseRenewBatch' in request) {
      // The leader's own clocks were set when it answered the keep-alives.
      if (origin !== this.opts.memberId) {
        for (const id of request.leaseRenewBatch.ids) {
          const lease = store.lease(id);
          if (lease) this.opts.leases.renewed(id, lease.grantedTtl);
        }
      }
      settle(undefined);
    } else if ('memberAttributes' in request) {
      const a = request.memberAttributes;
      membership.setAttributes(a.id, a.name, a.clientUrls, a.entryFormat);
      this.opts.onMembershipChange?.(membership.list());
      settle(undefined);
    } else if ('memberUpdate' in request) {
      membership.updatePeerUrls(request.memberUpdate.id, request.memberUpdate.peerUrls);
      this.opts.peers.updatePeer?.(request.memberUpdate.id, request.memberUpdate.peerUrls);
      settle(undefined);
    } else if ('entryFormat' in request) {
      const format = request.entryFormat.format;
      // Stop rather than misread what follows (the Raft node stops the member and its process exits).
      if (format > MAX_ENTRY_FORMAT) throw new EntryFormatTooNewError(format, `raised at index ${index}`);
      if (format > membership.entryFormat) {
        membership.entryFormat = format;
        this.opts.logger.info({ format, index }, 'cluster entry format raised');
        this.opts.onEntryFormatChange?.(format);
      }
      settle(undefined);
    } else if ('auth' in request) {
      try {
        this.opts.state.auth.apply(request.auth);
      } catch (err) {
        // Refused by the store's rules (every member refuses it alike and changes nothing).
        if (!(err instanceof ServerError)) throw err;
        return settle(undefined, err);
      }
      settle(undefined);
    } else if ('alarm' in request) {
      const { action, memberId, alarm } = request.alarm;
      if (action === 'activate') alarms.activate(memberId, alarm);
      else alarms.deactivate(memberId, alarm);
      settle(undefined);
    }
  }

  private applyConfChange(entry: Entry): void {
    const { store, membership } = this.opts.state;
    const { memberId, peers, logger } = this.opts;
    store.markApplied(entry.index);
    const cc = decodeConfChange(entry.data);
    const ctx = decodeConfContext(cc.context);
    this.opts.applyConfChange(cc);
    switch (cc.type) {
      case ConfChangeType.AddNode:
      case ConfChangeType.AddLearner:
        if (membership.has(cc.nodeId)) {
          if (cc.type === ConfChangeType.AddNode) membership.promote(cc.nodeId);
        } else if (ctx) {
          membership.add({ id: cc.nodeId, name: ctx.name, peerUrls: ctx.peerUrls, clientUrls: [], isLearner: cc.type === ConfChangeType.AddLearner });
          if (cc.nodeId !== memberId) peers.addPeer(cc.nodeId, ctx.peerUrls);
        }
        break;
      case ConfChangeType.RemoveNode:
        membership.remove(cc.nodeId);
        if (cc.nodeId !== memberId) peers.removePeer(cc.nodeId);
        else logger.warn('this member was removed from the cluster');
        break;
    }
    logger.info({ type: ConfChangeType[cc.type], member: cc.nodeId.toString(16), index: entry.index }, 'applied membership change');
    this.opts.onMembershipChange?.(membership.list());
    if (ctx?.origin !== undefined && ctx.requestId !== undefined) this.opts.waiters.settle(ctx.origin, ctx.requestId, undefined);
  }

  /** Replaces the whole state with a snapshot's (from the leader, or this member's own on restart). */
  installSnapshot(snapshot: Snapshot): void {
    const { store, membership, alarms, auth } = this.opts.state;
    const { memberId, peers } = this.opts;
    const payload = decodeStateSnapshot(snapshot.data);
    const format = payload.membership.entryFormat ?? 1;
    if (format > MAX_ENTRY_FORMAT) throw new EntryFormatTooNewError(format, `in the snapshot at index ${snapshot.meta.index}`);
    store.restoreSnapshot(payload.mvcc);
    if (store.appliedIndex > snapshot.meta.index) {
      // Its state would skip entries the log still has to apply.
      throw new Error(`snapshot at index ${snapshot.meta.index} holds state applied up to ${store.appliedIndex}`);
    }
    store.markApplied(snapshot.meta.index);
    const before = new Set(membership.list().map((m) => m.id));
    membership.restore(payload.membership);
    for (const m of membership.list()) {
      if (m.id !== memberId && !before.has(m.id)) peers.addPeer(m.id, m.peerUrls);
      before.delete(m.id);
    }
    for (const gone of before) peers.removePeer(gone);
    alarms.restore(payload.alarms);
    auth.restore(payload.auth);
    this.opts.onEntryFormatChange?.(membership.entryFormat);
    if (snapshot.meta.term > this.term) {
      this.term = snapshot.meta.term;
      this.opts.waiters.newTermApplied(this.term, Date.now(), this.opts.leaderChangeGraceMs);
    }
    this.opts.leases.reset();
    this.opts.logger.info({ index: snapshot.meta.index }, 'installed snapshot');
  }
}
