// The ordered key index: every key the store still remembers, in byte order,
// each with its retained revisions oldest first.
//
// Memory layout. A key's history is one flat array:
//
//   [key, mod, create, version, lease, value,  mod, create, version, lease, value, ...]
//
// with one five-slot record per revision that touched the key. The key string
// is stored once, shared by the tree and the history; there is no object per
// revision. A value is a ref into the index's ValueSlabs (values.ts), off
// V8's heap; dropping a record frees its value. A tombstone (the key deleted
// at `mod`) has version 0, create 0, lease 0 and an empty value. Consecutive
// records are one "generation" from a create up to its tombstone; version
// and create revision restart after one.

import bTreeModule from 'sorted-btree';
import { bulkLoad } from 'sorted-btree/extended/bulkLoad.js';
import { type ByteString, type KeyRange, compareByteStrings } from './keys.js';
import type { LeaseId } from './types.js';
import { KeysBytes } from './snapshot-size.js';
import { type ValueRef, ValueSlabs } from './values.js';

const BTree = bTreeModule.default;
type BTree<K, V> = InstanceType<typeof bTreeModule.default<K, V>>;

export type History = (number | string | LeaseId)[];

/** Slots per revision record, and the offset of the first record. */
export const RECORD = 5;
const FIRST = 1;

/** Rough per-record bookkeeping cost, for the db size estimate. */
const RECORD_OVERHEAD_BYTES = 48;

/** What one record counts for in the db size estimate. */
const recordBytes = (key: ByteString, valueLength: number): number => key.length + valueLength + RECORD_OVERHEAD_BYTES;

export const historyKey = (h: History): ByteString => h[0] as string;
export const modRevisionAt = (h: History, slot: number): number => h[slot] as number;
export const createRevisionAt = (h: History, slot: number): number => h[slot + 1] as number;
export const versionAt = (h: History, slot: number): number => h[slot + 2] as number;
export const leaseAt = (h: History, slot: number): LeaseId => h[slot + 3] as LeaseId;
export const valueRefAt = (h: History, slot: number): ValueRef => h[slot + 4] as number;
export const isTombstoneAt = (h: History, slot: number): boolean => h[slot + 2] === 0;
export const recordCount = (h: History): number => (h.length - FIRST) / RECORD;
export const slotOf = (recordIndex: number): number => FIRST + recordIndex * RECORD;
export const lastSlot = (h: History): number => h.length - RECORD;

/** The slot of the newest record at or before `revision`, or -1. */
export function slotAtRevision(h: History, revision: number): number {
  let lo = 0;
  let hi = recordCount(h) - 1;
  if (hi < 0 || modRevisionAt(h, slotOf(0)) > revision) return -1;
  if (modRevisionAt(h, slotOf(hi)) <= revision) return slotOf(hi);
  // Invariant: record lo is <= revision, record hi is > revision.
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (modRevisionAt(h, slotOf(mid)) <= revision) lo = mid;
    else hi = mid;
  }
  return slotOf(lo);
}

/** How many of the history's records are at or before `revision` (its records are oldest first). */
export function recordsAtOrBefore(h: History, revision: number): number {
  const slot = slotAtRevision(h, revision);
  return slot < 0 ? 0 : (slot - FIRST) / RECORD + 1;
}

/** The slot of the live (non-tombstone) record visible at `revision`, or -1. */
export function liveSlotAtRevision(h: History, revision: number): number {
  const slot = slotAtRevision(h, revision);
  return slot >= 0 && !isTombstoneAt(h, slot) ? slot : -1;
}

/** The slot of the record written exactly at `revision`, or -1. */
export function slotWrittenAt(h: History, revision: number): number {
  const slot = slotAtRevision(h, revision);
  return slot >= 0 && modRevisionAt(h, slot) === revision ? slot : -1;
}

/** Adds a whole history to a running total of the snapshot encoding's keys part. */
function countEncoded(tally: KeysBytes, values: ValueSlabs, h: History): void {
  let previousMod = 0;
  for (let i = 0; i < recordCount(h); i++) {
    const slot = slotOf(i);
    tally.record(1, modRevisionAt(h, slot) - previousMod, createRevisionAt(h, slot), versionAt(h, slot), leaseAt(h, slot), values.length(valueRefAt(h, slot)));
    previousMod = modRevisionAt(h, slot);
  }
  tally.header(historyKey(h), 0, recordCount(h));
}

/** What whole histories, their values in `values`, take in the keys part of a snapshot's encoding (see KeyIndex.encodedBytes). */
export function encodedHistoriesBytes(histories: readonly History[], values: ValueSlabs, wide: boolean): number {
  const tally = new KeysBytes();
  for (const h of histories) countEncoded(tally, values, h);
  return tally.total(wide);
}

export class KeyIndex {
  private bytes = 0;
  private records = 0;
  /** What the keys take in a snapshot's encoding, kept exact (see snapshot-size.ts). */
  private readonly encoded = new KeysBytes();

  constructor(
    /** Where the records' values are; the index frees a value with its record. */
    readonly values: ValueSlabs = new ValueSlabs(),
    private readonly tree: BTree<ByteString, History> = new BTree(undefined, compareByteStrings),
  ) {}

  /**
   * Builds an index from whole histories already in key order (a restored
   * snapshot), in O(n); their values are refs into `values`.
   */
  static fromSortedHistories(histories: History[], values: ValueSlabs): KeyIndex {
    const maxNodeSize = new BTree<ByteString, History>().maxNodeSize;
    const index = new KeyIndex(values, bulkLoad(histories.map(historyKey), histories, maxNodeSize, compareByteStrings));
    for (const h of histories) {
      for (let i = 0; i < recordCount(h); i++) index.bytes += recordBytes(historyKey(h), index.valueLength(h, slotOf(i)));
      index.records += recordCount(h);
      countEncoded(index.encoded, values, h);
    }
    return index;
  }

  /** A record's value, aliasing its slot: valid until the index next changes (copy to keep it). */
  valueView(h: History, slot: number): Buffer {
    return this.values.view(valueRefAt(h, slot));
  }

  /** A record's value as a new array of its own. */
  valueCopy(h: History, slot: number): Uint8Array {
    const view = this.valueView(h, slot);
    if (view.length === 0) return new Uint8Array(0);
    // From Buffer's pool, as the other byte arrays handed out (keys.ts); a plain Uint8Array over it.
    const copy = Buffer.allocUnsafe(view.length);
    view.copy(copy);
    return new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength);
  }

  /** A record's value as a byte string (one latin1 character per byte). */
  valueString(h: History, slot: number): ByteString {
    return this.values.string(valueRefAt(h, slot));
  }

  valueLength(h: History, slot: number): number {
    return this.values.length(valueRefAt(h, slot));
  }

  /** Keys remembered, including ones whose newest record is a tombstone. */
  get keyCount(): number {
    return this.tree.size;
  }

  get recordCount(): number {
    return this.records;
  }

  /** Approximate bytes held by all retained records. */
  get sizeBytes(): number {
    return this.bytes;
  }

  /**
   * Exactly what every key and its records take in a snapshot's encoding
   * now, lease IDs in format 2 (`wide`) or 1 (node/mvcc/snapshot.ts).
   */
  encodedBytes(wide: boolean): number {
    return this.encoded.total(wide);
  }

  get(key: ByteString): History | undefined {
    return this.tree.get(key);
  }

  /** Calls `visit` for each remembered key in the range, in byte order; `false` stops. */
  forEachInRange(range: KeyRange, visit: (h: History) => boolean | void): void {
    if (range.single) {
      const h = this.tree.get(range.start);
      if (h !== undefined) visit(h);
      return;
    }
    const high = range.end ?? this.tree.maxKey();
    if (high === undefined || high < range.start) return;
    // forRange stops early when the callback returns {break}; no pair arrays are allocated.
    this.tree.forRange(range.start, high, range.end === null, (_key, h) =>
      visit(h) === false ? { break: true } : undefined,
    );
  }

  /**
   * The keys as they are now, in O(1): a copy-on-write clone of the tree,
   * which later inserts and deletes do not change. The histories themselves
   * are shared and keep growing; readers bound them by revision.
   */
  freeze(): { count: number; histories: () => Iterator<History> } {
    const copy = this.tree.clone();
    return { count: copy.size, histories: () => copy.values() };
  }

  /** Calls `visit` for every key in byte order, newest records included. */
  forEach(visit: (h: History) => void): void {
    this.tree.forEachPair((_key, h) => {
      visit(h);
    });
  }

  /**
   * Appends a record for `key` (which must be newer than its last one) and
   * returns the history. The value is copied (a string is taken as latin1).
   */
  append(
    key: ByteString,
    modRevision: number,
    createRevision: number,
    version: number,
    lease: LeaseId,
    value: Uint8Array | ByteString,
  ): History {
    const h = this.tree.get(key);
    if (h !== undefined) return this.appendTo(h, modRevision, createRevision, version, lease, value);
    const created: History = [key, modRevision, createRevision, version, lease, this.values.store(value)];
    this.tree.set(key, created);
    this.bytes += recordBytes(key, value.length);
    this.records += 1;
    this.encoded.header(key, 0, 1);
    this.encoded.record(1, modRevision, createRevision, version, lease, value.length);
    return created;
  }

  /**
   * append() for a history just read from this index in the same write,
   * without looking its key up again (a delete of 300k keys spent most of
   * its time in those lookups).
   */
  appendTo(h: History, modRevision: number, createRevision: number, version: number, lease: LeaseId, value: Uint8Array | ByteString): History {
    const before = recordCount(h);
    const previousMod = before > 0 ? modRevisionAt(h, lastSlot(h)) : 0;
    this.encoded.header(historyKey(h), before, before + 1);
    this.encoded.record(1, modRevision - previousMod, createRevision, version, lease, value.length);
    h.push(modRevision, createRevision, version, lease, this.values.store(value));
    this.bytes += recordBytes(historyKey(h), value.length);
    this.records += 1;
    return h;
  }

  /**
   * Drops what a compaction at `revision` makes unreachable from `h`: every
   * record older than the one visible at `revision`, and that one too if it
   * is a tombstone written before `revision`. A tombstone written at
   * `revision` itself stays until the next compaction: a watch may start at
   * the compact revision and must see that delete (etcd keeps it as well
   * since its fix for issue 18089). A key left with no records leaves the index.
   *
   * Returns the key's history from now on. One that keeps records is copied
   * into an array of its own size, and `h` is left with no records: V8 grows
   * an array by half again plus 16 slots on push and keeps them when it
   * shrinks, so a key written twice would hold 25 slots for the 6 it keeps.
   * The caller hands every copy to replaceHistories() (the tree) and
   * ChangeLog.repoint() before anything reads the index again.
   */
  compactHistory(h: History, revision: number): History {
    const slot = slotAtRevision(h, revision);
    if (slot < 0) return h;
    const keepFrom = isTombstoneAt(h, slot) && modRevisionAt(h, slot) < revision ? slot + RECORD : slot;
    if (keepFrom === FIRST) return h;
    const key = historyKey(h);
    let previousMod = 0;
    for (let s = FIRST; s < keepFrom; s += RECORD) {
      const valueLength = this.valueLength(h, s);
      this.bytes -= recordBytes(key, valueLength);
      this.encoded.record(-1, modRevisionAt(h, s) - previousMod, createRevisionAt(h, s), versionAt(h, s), leaseAt(h, s), valueLength);
      this.values.free(valueRefAt(h, s));
      previousMod = modRevisionAt(h, s);
    }
    // The first record kept now states its mod revision whole, not as a delta.
    if (keepFrom < h.length) this.encoded.delta(modRevisionAt(h, keepFrom) - previousMod, modRevisionAt(h, keepFrom));
    const before = recordCount(h);
    this.records -= (keepFrom - FIRST) / RECORD;
    if (keepFrom === h.length) {
      h.length = FIRST;
      this.encoded.header(key, before, 0);
      // A history emptied here leaves the tree (unless the key already has a newer one).
      if (this.tree.get(key) === h) this.tree.delete(key);
      return h;
    }
    // slice() allocates exactly what it copies; the slot before the first record kept takes the key.
    const compacted = h.slice(keepFrom - FIRST);
    compacted[0] = key;
    h.length = FIRST;
    this.encoded.header(key, before, recordCount(compacted));
    return compacted;
  }

  /**
   * Puts compactHistory()'s copies in the tree in place of the histories
   * they replace (a history with records is always its key's in the tree).
   * Many copies are put in one walk over the tree, a few by key.
   */
  replaceHistories(moved: ReadonlyMap<History, History>): void {
    if (moved.size === 0) return;
    if (moved.size * 16 < this.tree.size) {
      for (const now of moved.values()) this.tree.set(historyKey(now), now);
      return;
    }
    this.tree.editAll((_key, h) => {
      const now = moved.get(h);
      return now === undefined ? undefined : { value: now };
    });
  }
}
