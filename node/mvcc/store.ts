// The MVCC key-value state machine every Raft member applies committed
// entries to, with etcd v3 semantics.
//
// Determinism: nothing here reads a clock or randomness, and iteration is
// always in key or revision order, so members that apply the same entries end
// in byte-identical states (see hash() and snapshot()).
//
// Revisions: an empty store is at revision 1. Every write request that changes
// something (a put, a delete that found keys, a txn with such writes, a lease
// revoke that deleted keys) takes exactly one new revision; writes inside it
// are ordered as they ran. Requests that change nothing leave the revision.
//
// Errors: every check that can fail runs before the first write, so a request
// that throws has changed nothing (except the applied index, which moves past
// the entry either way).

import { ChangeLog } from './change-log.js';
import { MvccError, errors } from './errors.js';
import { hashRecords } from './hash.js';
import {
  type History,
  KeyIndex,
  RECORD,
  createRevisionAt,
  historyKey,
  isTombstoneAt,
  lastSlot,
  leaseAt,
  liveSlotAtRevision,
  modRevisionAt,
  slotOf,
  slotWrittenAt,
  versionAt,
} from './key-index.js';
import { type KeyRange, fromByteString, keyRange, rangeContains, toByteString } from './keys.js';
import { LeaseTable, isLegacyLeaseId } from './lease.js';
import { readRange, toKeyValue } from './range.js';
import { RangeCounts } from './range-counts.js';
import { ByteWriter, SnapshotEncoder, decodeSnapshot, type SnapshotView } from './snapshot.js';
import type {
  ApplyRequest,
  ApplyResponse,
  Compare,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  HashKvResult,
  KeyValue,
  LeaseCheckpointRequest,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseId,
  LeaseInfo,
  LeaseRevokeResponse,
  LeaseTimeToLive,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseOp,
  TxnRequest,
  TxnResponse,
  WatchEvent,
} from './types.js';
import { NO_LEASE } from './types.js';
import {
  DEFAULT_MAX_TXN_OPS,
  isReadOnlyTxn,
  validateDeleteRange,
  validatePut,
  validateRange,
  validateTxn,
} from './validate.js';

const NO_VALUE = new Uint8Array(0);

export interface MvccStoreOptions {
  /** etcd's --max-txn-ops; must be the same on every member. */
  maxTxnOps?: number;
}

/** Called after each new revision, with the changed keys' histories in write order. */
export type CommitListener = (revision: number, changed: readonly History[]) => void;
/** Called after a compaction. */
export type CompactListener = (compactRevision: number) => void;

/** The revision being written and the keys it has changed so far. */
class WriteContext {
  readonly changed: History[] = [];

  constructor(readonly revision: number) {}

  /** What reads inside the write see: its own writes once it has made any. */
  get readRevision(): number {
    return this.changed.length > 0 ? this.revision : this.revision - 1;
  }
}

export class MvccStore {
  private index: KeyIndex;
  private leases: LeaseTable;
  /**
   * Set once a lease ID outside 1..2^53-1 is granted: from then on snapshots
   * use the format that carries any int64 (older releases read only the
   * first, and cannot have granted such IDs).
   */
  private wideLeaseIds = false;
  private changeLog: ChangeLog;
  private currentRevision: number;
  private compacted: number;
  private applied: number;
  private liveKeys = 0;
  /** Bumped by compactions and restores, which rewrite histories in place. */
  private rewrites = 0;
  /** Samples for paginated reads; valid until the next compaction or restore. */
  private readonly rangeCounts = new RangeCounts();
  private readonly maxTxnOps: number;
  private readonly commitListeners = new Set<CommitListener>();
  private readonly compactListeners = new Set<CompactListener>();
  private readonly restoreListeners = new Set<() => void>();

  constructor(options: MvccStoreOptions = {}) {
    this.maxTxnOps = options.maxTxnOps ?? DEFAULT_MAX_TXN_OPS;
    this.index = new KeyIndex();
    this.leases = new LeaseTable();
    this.currentRevision = 1;
    this.compacted = 0;
    this.applied = 0;
    this.changeLog = new ChangeLog(1);
    this.changeLog.append(1, []);
  }

  /** The newest revision. */
  get revision(): number {
    return this.currentRevision;
  }

  /** The revision of the latest compaction; 0 before any. */
  get compactRevision(): number {
    return this.compacted;
  }

  /** The Raft index of the last entry applied (or skipped as non-MVCC). */
  get appliedIndex(): number {
    return this.applied;
  }

  /** Number of live keys at the current revision. */
  get keyCount(): number {
    return this.liveKeys;
  }

  /** Approximate bytes of retained data, for the quota and etcd_mvcc_db_total_size_in_bytes. */
  /** Bytes of the stored values, and of the slabs holding them (values.ts). */
  get valueBytes(): { live: number; held: number } {
    return { live: this.index.values.liveBytes, held: this.index.values.heldBytes };
  }

  get sizeBytes(): number {
    return this.index.sizeBytes + this.leases.size * 64;
  }

  // ---- the apply entry point --------------------------------------------

  /**
   * Applies the committed entry at Raft `index`. An entry at or below the
   * applied index was applied before (a replay after restart) and is skipped:
   * the result is undefined. Throws MvccError for requests etcd rejects; the
   * entry still counts as applied and nothing else changed.
   */
  apply<R extends ApplyRequest>(index: number, request: R): ApplyResponse<R> | undefined {
    if (index <= this.applied) return undefined;
    this.applied = index;
    return this.dispatch(index, request) as ApplyResponse<R>;
  }

  /** Moves the applied index past an entry that carries no MVCC request (conf change, empty entry). */
  markApplied(index: number): void {
    if (index > this.applied) this.applied = index;
  }

  private dispatch(index: number, request: ApplyRequest): ApplyResponse {
    if ('put' in request) return this.put(request.put);
    if ('deleteRange' in request) return this.deleteRange(request.deleteRange);
    if ('txn' in request) return this.txn(request.txn);
    if ('compaction' in request) return this.compact(request.compaction.revision);
    if ('leaseGrant' in request) return this.grantLease(index, request.leaseGrant);
    if ('leaseRevoke' in request) return this.revokeLease(request.leaseRevoke.id);
    if ('leaseCheckpoint' in request) return this.checkpointLeases(request.leaseCheckpoint);
    throw new MvccError('INVALID_ARGUMENT', 'etcdserver: unknown request');
  }

  // ---- reads -------------------------------------------------------------

  /** A Range, served directly (the server decides linearizable vs serializable). */
  range(r: RangeRequest): RangeResponse {
    validateRange(r);
    const revision = this.checkReadRevision(r.revision ?? 0);
    return { header: { revision: this.currentRevision }, ...readRange(this.index, r, revision, this.rangeCounts) };
  }

  /** A txn whose every branch only reads, served without going through the log. */
  readTxn(r: TxnRequest): TxnResponse {
    if (!isReadOnlyTxn(r)) throw new MvccError('INVALID_ARGUMENT', 'etcdserver: txn is not read-only');
    validateTxn(r, this.maxTxnOps);
    const w = new WriteContext(this.currentRevision + 1);
    const path = this.checkTxn(r);
    return this.runTxn(w, r, path);
  }

  /** HashKV: CRC32 of all retained records up to `revision` (0 = current). */
  hash(revision = 0): HashKvResult {
    const hashRevision = this.checkReadRevision(revision);
    return { hash: hashRecords(this.index, hashRevision), compactRevision: this.compacted, hashRevision };
  }

  lease(id: LeaseId): LeaseInfo | undefined {
    return this.leases.info(id);
  }

  leaseTimeToLive(id: LeaseId, keys = false): LeaseTimeToLive | undefined {
    return this.leases.timeToLive(id, keys);
  }

  /** All leases by ID: what the leader needs to rebuild its expiry clock. */
  leaseList(): LeaseInfo[] {
    return this.leases.list();
  }

  // ---- watch support -----------------------------------------------------
  // These hand out the index's internal History arrays; they exist for the
  // watch hub in this folder and are not meant for other callers.

  onCommit(listener: CommitListener): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  onCompact(listener: CompactListener): () => void {
    this.compactListeners.add(listener);
    return () => this.compactListeners.delete(listener);
  }

  /** Called after restoreSnapshot() replaced the whole state. */
  onRestore(listener: () => void): () => void {
    this.restoreListeners.add(listener);
    return () => this.restoreListeners.delete(listener);
  }

  /**
   * The events of `revision` in write order, limited to keys in `range`.
   * prevKv is filled (when asked) with the key's value just before, unless the
   * event created the key or that revision is compacted away.
   */
  eventsAt(revision: number, range: KeyRange | null, withPrevKv: boolean): WatchEvent[] {
    return this.eventsOf(revision, this.changeLog.at(revision), range, withPrevKv);
  }

  /** Same as eventsAt, for the histories a commit listener was handed. */
  eventsOf(revision: number, changed: readonly History[], range: KeyRange | null, withPrevKv: boolean): WatchEvent[] {
    const events: WatchEvent[] = [];
    for (const h of changed) {
      if (range !== null && !rangeContains(range, historyKey(h))) continue;
      const slot = slotWrittenAt(h, revision);
      if (slot < 0) continue;
      const event: WatchEvent = isTombstoneAt(h, slot)
        ? { type: 'DELETE', kv: tombstoneKv(h, revision) }
        : { type: 'PUT', kv: toKeyValue(this.index, h, slot) };
      if (withPrevKv && revision - 1 >= this.compacted) {
        const prev = slot - RECORD;
        if (prev >= slotOf(0) && !isTombstoneAt(h, prev)) event.prevKv = toKeyValue(this.index, h, prev);
      }
      events.push(event);
    }
    return events;
  }

  // ---- snapshot ----------------------------------------------------------

  /** The whole state machine as bytes; restore() rebuilds it exactly. */
  snapshot(): Uint8Array {
    const bytes = this.snapshotEncoder().encodeUntil(Infinity);
    if (bytes === undefined) throw new Error('snapshot: encoder stopped before its deadline');
    return bytes;
  }

  /**
   * Captures the state now (in O(1): a copy-on-write clone of the index and
   * the revision; no copies of keys or values) and returns an encoder that produces the same bytes snapshot()
   * would have, a slice per call, while the store keeps applying writes.
   * A compaction or restore in between makes the encoder throw. `prefix`
   * goes before the encoding, outside its checksum (see SnapshotView).
   * measureUntil() sizes the same captured state without encoding it, for
   * containers that state their length before the bytes. `chunkBytes` sizes
   * the output chunks (4 MiB by default); with `reuseChunks`, the chunks of
   * one encodeSlice() are valid only until the next (see ByteWriter).
   */
  snapshotEncoder(prefix?: Uint8Array, chunkBytes?: number, reuseChunks = false): Pick<SnapshotEncoder, 'encodeUntil' | 'encodeSlice' | 'measureUntil'> {
    const keys = this.index.freeze();
    const totals = { keyBytes: this.index.encodedBytes(this.wideLeaseIds), changeCount: this.changeLog.changeCount, changeCountBytes: this.changeLog.countVarintBytes };
    const view: SnapshotView = {
      appliedIndex: this.applied,
      revision: this.currentRevision,
      compactRevision: this.compacted,
      leases: this.leases.list().map((l) => ({ ...l })),
      wideLeaseIds: this.wideLeaseIds,
      keyCount: keys.count,
      histories: keys.histories,
      values: this.index.values,
      changeLog: this.changeLog,
      lastRevision: this.changeLog.lastRevision,
      totals: () => totals,
      ...(prefix && { prefix }),
    };
    const encoder = new SnapshotEncoder(view, new ByteWriter(chunkBytes, reuseChunks));
    const generation = this.rewrites;
    return {
      measureUntil: (deadline: number) => {
        this.assertGeneration(generation);
        return encoder.measureUntil(deadline);
      },
      encodeUntil: (deadline: number) => {
        this.assertGeneration(generation);
        return encoder.encodeUntil(deadline);
      },
      encodeSlice: (deadline: number) => {
        this.assertGeneration(generation);
        return encoder.encodeSlice(deadline);
      },
    };
  }

  /** A new store holding the state `bytes` (from snapshot()) describes. */
  static restore(bytes: Uint8Array, options: MvccStoreOptions = {}): MvccStore {
    const store = new MvccStore(options);
    store.restoreSnapshot(bytes);
    return store;
  }

  /**
   * Replaces this store's whole state with a snapshot's, in place, as a
   * follower does when Raft installs a snapshot. Listeners (the watch hub)
   * stay attached and are told, so watchers resynchronise from the new history.
   * A snapshot that fails to decode leaves the store untouched.
   */
  restoreSnapshot(bytes: Uint8Array): void {
    const content = decodeSnapshot(bytes);
    const leases = new LeaseTable();
    for (const lease of content.leases) leases.grant(lease);
    for (const h of content.histories) {
      const slot = lastSlot(h);
      if (!isTombstoneAt(h, slot) && leaseAt(h, slot) !== NO_LEASE) leases.attach(leaseAt(h, slot), historyKey(h));
    }
    let liveKeys = 0;
    for (const h of content.histories) if (!isTombstoneAt(h, lastSlot(h))) liveKeys += 1;
    this.index = KeyIndex.fromSortedHistories(content.histories, content.values);
    this.liveKeys = liveKeys;
    this.leases = leases;
    this.wideLeaseIds = content.wideLeaseIds;
    this.changeLog = content.changeLog;
    this.applied = content.appliedIndex;
    this.currentRevision = content.revision;
    this.compacted = content.compactRevision;
    this.rewrites += 1;
    this.rangeCounts.clear();
    for (const listener of this.restoreListeners) listener();
  }

  private assertGeneration(generation: number): void {
    if (this.rewrites !== generation) throw new Error('snapshot: the store compacted or restored while its snapshot was being encoded');
  }

  // ---- writes ------------------------------------------------------------

  private put(r: PutRequest): PutResponse {
    validatePut(r);
    this.checkPut(r);
    const w = new WriteContext(this.currentRevision + 1);
    const response = this.putIn(w, r);
    this.commit(w);
    return response;
  }

  private deleteRange(r: DeleteRangeRequest): DeleteRangeResponse {
    validateDeleteRange(r);
    const w = new WriteContext(this.currentRevision + 1);
    const response = this.deleteIn(w, r);
    this.commit(w);
    return response;
  }

  private txn(r: TxnRequest): TxnResponse {
    validateTxn(r, this.maxTxnOps);
    const path = this.checkTxn(r);
    const w = new WriteContext(this.currentRevision + 1);
    const response = this.runTxn(w, r, path);
    this.commit(w);
    return response;
  }

  private compact(revision: number): CompactionResponse {
    if (!Number.isSafeInteger(revision)) throw errors.notAnInteger('compaction revision');
    if (revision <= this.compacted) throw errors.compacted();
    if (revision > this.currentRevision) throw errors.futureRevision();
    // Only keys changed since the last compaction can hold records it makes
    // unreachable; everything older was pruned then, except the tombstones
    // written at the last compact revision, which go now.
    const moved = new Map<History, History>();
    for (let rev = Math.max(this.compacted, this.changeLog.firstRevision); rev <= revision; rev++) {
      this.changeLog.forEachAt(rev, (h) => {
        const kept = this.index.compactHistory(h, revision);
        if (kept !== h) moved.set(h, kept);
      });
    }
    this.index.replaceHistories(moved);
    // The revisions the log keeps (from `revision` on), before its own
    // compaction, which reads their histories' records.
    this.changeLog.repoint(moved, revision);
    this.changeLog.compact(revision);
    this.compacted = revision;
    this.rewrites += 1;
    this.rangeCounts.clear();
    for (const listener of this.compactListeners) listener(revision);
    return { header: { revision: this.currentRevision } };
  }

  private grantLease(index: number, r: LeaseGrantRequest): LeaseGrantResponse {
    this.leases.grant({ id: r.id, grantedTtl: r.ttl, grantedIndex: index, grantedRevision: this.currentRevision });
    if (!isLegacyLeaseId(r.id)) this.wideLeaseIds = true;
    return { header: { revision: this.currentRevision }, id: r.id, ttl: r.ttl, error: '' };
  }

  private revokeLease(id: LeaseId): LeaseRevokeResponse {
    const keys = this.leases.revoke(id);
    const w = new WriteContext(this.currentRevision + 1);
    for (const key of keys) this.deleteKeys(w, { single: true, start: key }, null);
    this.commit(w);
    return { header: { revision: this.currentRevision } };
  }

  private checkpointLeases(r: LeaseCheckpointRequest): { header: { revision: number } } {
    for (const c of r.checkpoints) {
      if (!Number.isSafeInteger(c.remainingTtl)) throw errors.notAnInteger('remaining TTL');
    }
    for (const c of r.checkpoints) this.leases.checkpoint(c.id, c.remainingTtl);
    return { header: { revision: this.currentRevision } };
  }

  private commit(w: WriteContext): void {
    if (w.changed.length === 0) return;
    this.currentRevision = w.revision;
    this.changeLog.append(w.revision, w.changed);
    for (const listener of this.commitListeners) listener(w.revision, w.changed);
  }

  // ---- the operations, inside one write ----------------------------------

  private putIn(w: WriteContext, r: PutRequest): PutResponse {
    const key = toByteString(r.key);
    const h = this.index.get(key);
    const prev = h === undefined ? -1 : liveSlotAtRevision(h, w.revision);
    const value = r.ignoreValue && h !== undefined && prev >= 0 ? this.index.valueView(h, prev) : (r.value ?? NO_VALUE);
    const lease = r.ignoreLease && h !== undefined && prev >= 0 ? leaseAt(h, prev) : this.leases.canonical(r.lease ?? NO_LEASE);
    let createRevision = w.revision;
    let version = 1;
    const response: PutResponse = { header: { revision: w.revision } };
    if (h !== undefined && prev >= 0) {
      createRevision = createRevisionAt(h, prev);
      version = versionAt(h, prev) + 1;
      if (r.prevKv) response.prevKv = toKeyValue(this.index, h, prev);
      if (leaseAt(h, prev) !== lease) this.leases.detach(leaseAt(h, prev), key);
    } else {
      this.liveKeys += 1;
    }
    this.leases.attach(lease, key);
    w.changed.push(h === undefined ? this.index.append(key, w.revision, createRevision, version, lease, value) : this.index.appendTo(h, w.revision, createRevision, version, lease, value));
    return response;
  }

  private deleteIn(w: WriteContext, r: DeleteRangeRequest): DeleteRangeResponse {
    const prevKvs: KeyValue[] = [];
    const deleted = this.deleteKeys(w, keyRange(r.key, r.rangeEnd), r.prevKv ? prevKvs : null);
    return { header: { revision: w.readRevision }, deleted, prevKvs };
  }

  /** Deletes the live keys in `range`; collects their last values into `prevKvs` when given. */
  private deleteKeys(w: WriteContext, range: KeyRange, prevKvs: KeyValue[] | null): number {
    const doomed: History[] = [];
    this.index.forEachInRange(range, (h) => {
      if (liveSlotAtRevision(h, w.revision) >= 0) doomed.push(h);
    });
    for (const h of doomed) {
      const slot = lastSlot(h);
      if (prevKvs !== null) prevKvs.push(toKeyValue(this.index, h, slot));
      this.leases.detach(leaseAt(h, slot), historyKey(h));
      this.index.appendTo(h, w.revision, 0, 0, NO_LEASE, '');
      w.changed.push(h);
    }
    this.liveKeys -= doomed.length;
    return doomed.length;
  }

  private rangeIn(w: WriteContext, r: RangeRequest): RangeResponse {
    const revision = r.revision !== undefined && r.revision > 0 ? r.revision : w.readRevision;
    return { header: { revision: w.readRevision }, ...readRange(this.index, r, revision) };
  }

  /** Runs a checked txn along `path` (one compare outcome per txn, depth first). */
  private runTxn(w: WriteContext, r: TxnRequest, path: boolean[]): TxnResponse {
    const succeeded = path.shift()!;
    const ops = (succeeded ? r.success : r.failure) ?? [];
    const responses: ResponseOp[] = ops.map((op) => this.runOp(w, op, path));
    return { header: { revision: w.readRevision }, succeeded, responses };
  }

  private runOp(w: WriteContext, op: RequestOp, path: boolean[]): ResponseOp {
    if (op.requestRange !== undefined) return { responseRange: this.rangeIn(w, op.requestRange) };
    if (op.requestPut !== undefined) return { responsePut: this.putIn(w, op.requestPut) };
    if (op.requestDeleteRange !== undefined) return { responseDeleteRange: this.deleteIn(w, op.requestDeleteRange) };
    return { responseTxn: this.runTxn(w, op.requestTxn!, path) };
  }

  // ---- checks against current state (no changes) ------------------------

  /** Resolves a read revision (0 = current) or throws if it is not retained. */
  private checkReadRevision(revision: number): number {
    if (revision > this.currentRevision) throw errors.futureRevision();
    const resolved = revision > 0 ? revision : this.currentRevision;
    if (resolved < this.compacted) throw errors.compacted();
    return resolved;
  }

  private checkPut(r: PutRequest): void {
    const lease = r.lease ?? NO_LEASE;
    if (lease !== NO_LEASE && !this.leases.has(lease)) throw errors.leaseNotFound();
    if (r.ignoreValue || r.ignoreLease) {
      const h = this.index.get(toByteString(r.key));
      if (h === undefined || liveSlotAtRevision(h, this.currentRevision) < 0) throw errors.keyNotFound();
    }
  }

  /**
   * Decides every compare against the state before the txn (as etcd does,
   * nested txns included), then checks the ops on the chosen branches.
   * Returns the branch decisions in depth-first order.
   */
  private checkTxn(r: TxnRequest): boolean[] {
    const path: boolean[] = [];
    this.choosePath(r, path);
    // Like etcd: first every put on the chosen branches, then every range.
    this.forEachChosenOp(r, [...path], (op) => op.requestPut && this.checkPut(op.requestPut));
    this.forEachChosenOp(r, [...path], (op) => op.requestRange && this.checkTxnRange(op.requestRange));
    return path;
  }

  private choosePath(r: TxnRequest, path: boolean[]): void {
    const succeeded = (r.compare ?? []).every((c) => this.compareHolds(c));
    path.push(succeeded);
    for (const op of (succeeded ? r.success : r.failure) ?? []) {
      if (op.requestTxn !== undefined) this.choosePath(op.requestTxn, path);
    }
  }

  /** Visits the non-txn ops that `path` selects, descending into nested txns. */
  private forEachChosenOp(r: TxnRequest, path: boolean[], visit: (op: RequestOp) => void): void {
    const ops = (path.shift()! ? r.success : r.failure) ?? [];
    for (const op of ops) {
      if (op.requestTxn !== undefined) this.forEachChosenOp(op.requestTxn, path, visit);
      else visit(op);
    }
  }

  private checkTxnRange(r: RangeRequest): void {
    const revision = r.revision ?? 0;
    if (revision <= 0) return;
    if (revision > this.currentRevision) throw errors.futureRevision();
    if (revision < this.compacted) throw errors.compacted();
  }

  /** etcd's applyCompare: every key in the range must pass; no key compares as zero values. */
  private compareHolds(c: Compare): boolean {
    const range = keyRange(c.key, c.rangeEnd);
    let matched = false;
    let holds = true;
    this.index.forEachInRange(range, (h) => {
      const slot = liveSlotAtRevision(h, this.currentRevision);
      if (slot < 0) return true;
      matched = true;
      holds = compareRecord(this.index, c, h, slot);
      return holds;
    });
    if (matched) return holds;
    // A missing key has no value to compare, so VALUE compares always fail.
    return c.target !== 'VALUE' && compareRecord(this.index, c, null, 0);
  }
}

function compareRecord(index: KeyIndex, c: Compare, h: History | null, slot: number): boolean {
  let order: number;
  switch (c.target) {
    case 'VALUE':
      // Unsigned bytes, a prefix first: etcd's bytes.Compare.
      order = Buffer.compare(h === null ? NO_VALUE : index.valueView(h, slot), c.value ?? NO_VALUE);
      break;
    case 'VERSION':
      order = Math.sign((h === null ? 0 : versionAt(h, slot)) - (c.version ?? 0));
      break;
    case 'CREATE':
      order = Math.sign((h === null ? 0 : createRevisionAt(h, slot)) - (c.createRevision ?? 0));
      break;
    case 'MOD':
      order = Math.sign((h === null ? 0 : modRevisionAt(h, slot)) - (c.modRevision ?? 0));
      break;
    case 'LEASE': {
      const actual = h === null ? NO_LEASE : leaseAt(h, slot);
      const wanted = c.lease ?? NO_LEASE;
      order = actual < wanted ? -1 : actual > wanted ? 1 : 0;
      break;
    }
  }
  switch (c.result) {
    case 'EQUAL':
      return order === 0;
    case 'NOT_EQUAL':
      return order !== 0;
    case 'GREATER':
      return order > 0;
    case 'LESS':
      return order < 0;
  }
}

/** A DELETE event's kv: the key and the revision that deleted it, nothing else. */
function tombstoneKv(h: History, revision: number): KeyValue {
  const key = fromByteString(historyKey(h));
  return { key, createRevision: 0, modRevision: revision, version: 0, value: new Uint8Array(0), lease: NO_LEASE };
}
