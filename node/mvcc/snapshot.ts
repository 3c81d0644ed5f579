// The binary form of a whole store, for Raft snapshots. The same state always
// encodes to the same bytes. Layout (integers are LEB128 varints; signed ones
// are zigzag-encoded first):
//
//   "KVMV" magic, format version
//   applied index, revision, compact revision
//   leases:    count, then per lease: id, granted TTL (signed), granted index,
//              granted revision, remaining TTL (signed)
//   keys:      count, then per key in byte order: key length, key bytes,
//              record count, then per record: mod revision as a delta from the
//              previous record (the first from 0), create revision, version,
//              lease, value length, value bytes
//   change log: first revision, revision count, then per revision: change
//              count and each change as the ordinal of its key above
//   CRC32 of everything before it, 4 bytes big-endian
//
// Format versions: 1 writes lease IDs (in the lease table and the records)
// as unsigned varints, which holds the IDs releases before int64 lease IDs
// granted (1 to 2^53-1) and 0 for "no lease"; 2 writes them as zigzag
// varints of any int64. A store writes 2 only once it has granted an ID
// that 1 cannot hold, so members of older releases keep reading its
// snapshots until then; both are read.

import { crc32 } from 'node:zlib';
import {
  type History,
  createRevisionAt,
  encodedHistoriesBytes,
  historyKey,
  lastSlot,
  leaseAt,
  modRevisionAt,
  recordsAtOrBefore,
  slotOf,
  valueRefAt,
  versionAt,
} from './key-index.js';
import { type ValueRef, ValueSlabs } from './values.js';
import { ChangeLog } from './change-log.js';
import { zigzag } from './snapshot-size.js';
import { type LeaseId, type LeaseInfo, NO_LEASE } from './types.js';
import { varintSize } from '../varint.js';

const MAGIC = 'KVMV';
/** Lease IDs as unsigned varints (0 to 2^53-1). */
const FORMAT_LEGACY_LEASE_IDS = 1;
/** Lease IDs as zigzag varints of any int64. */
const FORMAT_INT64_LEASE_IDS = 2;

export interface SnapshotContent {
  appliedIndex: number;
  revision: number;
  compactRevision: number;
  leases: LeaseInfo[];
  /** Whether the store has granted a lease ID outside 1..2^53-1 (the snapshot then uses format 2). */
  wideLeaseIds: boolean;
  /** Every remembered key's history, in key byte order. */
  histories: History[];
  /** Where the histories' values are (their value slots hold refs into it). */
  values: ValueSlabs;
  /** Which of those histories each retained revision changed. */
  changeLog: ChangeLog;
}

/** What parts of the encoding take, from totals kept as the store changed (snapshot-size.ts). */
export interface SnapshotTotals {
  /** The keys and their records (KeyIndex.encodedBytes). */
  keyBytes: number;
  /** The change log's changes, and the varint bytes of their per-revision counts (ChangeLog). */
  changeCount: number;
  changeCountBytes: number;
}

/** What a snapshot captures at one moment, cheaply, for SnapshotEncoder to encode later. */
export interface SnapshotView extends Omit<SnapshotContent, 'histories'> {
  /** How many keys there were at capture time. */
  keyCount: number;
  /**
   * Those keys' histories in key order, walked once per encoder. Histories
   * only grow at their end until a compaction, so the records at or before
   * `revision` are the ones the capture saw.
   */
  histories: () => Iterator<History>;
  /** The newest change log revision at capture time. */
  lastRevision: number;
  /** The running totals as they were at capture time; read only to size the encoding. */
  totals: () => SnapshotTotals;
  /**
   * Bytes placed before the encoding (outside its checksum), so a container
   * format can wrap it without copying it.
   */
  prefix?: Uint8Array;
}

/** The whole encoding at once (tests, maintenance snapshots of a quiet store). */
export function encodeSnapshot(content: SnapshotContent): Uint8Array {
  const view: SnapshotView = {
    ...content,
    keyCount: content.histories.length,
    histories: () => content.histories[Symbol.iterator](),
    lastRevision: content.changeLog.lastRevision,
    // Whole encodings are not sized first: the keys' pass runs only if asked.
    totals: () => ({
      keyBytes: encodedHistoriesBytes(content.histories, content.values, content.wideLeaseIds),
      changeCount: content.changeLog.changeCount,
      changeCountBytes: content.changeLog.countVarintBytes,
    }),
  };
  const bytes = new SnapshotEncoder(view).encodeUntil(Infinity);
  if (bytes === undefined) throw new Error('snapshot: encoder stopped before its deadline');
  return bytes;
}

/** A varint takes one more byte from each of these on (key counts stay below 2^53). */
const ORDINAL_WIDTH_BOUNDS = [2 ** 7, 2 ** 14, 2 ** 21, 2 ** 28, 2 ** 35, 2 ** 42, 2 ** 49];

/** How many keys or revisions are encoded between two looks at the clock. */
const CLOCK_CHECK_EVERY = 512;

/** The bytes one slice of encoding produced, and whether the encoding is complete. */
export interface EncodedSlice {
  chunks: Uint8Array[];
  done: boolean;
}

/**
 * Encodes a captured view a slice at a time, so a member with a large store
 * keeps serving (and sending heartbeats) while its snapshot is written. The
 * output comes in chunks of a few MiB that a caller may write out as they
 * come (encodeSlice), so a snapshot as large as the store never sits in one
 * buffer; encodeUntil joins them for callers that want the whole. The caller
 * must stop using it once the store compacts or restores, since those
 * rewrite records in place.
 *
 * A store's histories are scattered over a large heap, so what costs is
 * reaching them, not writing bytes: the first pass over the keys (sizing or
 * encoding) lists them in order and notes each logged change's key ordinal,
 * so a later pass reads that list rather than walking the tree again, and
 * the change log is written without searching the keys.
 */
export class SnapshotEncoder {
  private readonly out: ByteWriter;
  /** Bytes the prefix and the header before the keys take. */
  private readonly headBytes: number;
  private readonly walk: Iterator<History>;
  /** The histories walked so far, in key order: a key's ordinal is its position here. */
  private readonly ordered: History[] = [];
  private readonly ordinals: ChangeOrdinals;
  /** Keys encoded so far. */
  private encodedKeys = 0;
  private nextRevision: number;
  /** Where in nextRevision's changes the encoding stopped. */
  private nextChange = 0;
  private logHeaderWritten = false;
  /** Chunks encodeUntil has collected so far. */
  private collected: Uint8Array[] = [];
  private readonly wide: boolean;
  /** Sizing: the keys looked at so far for the ordinals' widths, and the changes among them below each width's bound. */
  private sizedKeys = 0;
  private readonly changesBelow = ORDINAL_WIDTH_BOUNDS.map(() => 0);
  /** What reach() read, kept so that the reads are not optimized away. */
  touched = 0;

  constructor(
    private readonly view: SnapshotView,
    out: ByteWriter = new ByteWriter(),
  ) {
    this.out = out;
    this.wide = view.wideLeaseIds;
    if (view.prefix) out.prefix(view.prefix);
    out.latin1(MAGIC);
    out.uint(this.wide ? FORMAT_INT64_LEASE_IDS : FORMAT_LEGACY_LEASE_IDS);
    out.uint(view.appliedIndex);
    out.uint(view.revision);
    out.uint(view.compactRevision);
    out.uint(view.leases.length);
    for (const lease of view.leases) {
      this.leaseId(lease.id);
      out.int(lease.grantedTtl);
      out.uint(lease.grantedIndex);
      out.uint(lease.grantedRevision);
      out.int(lease.remainingTtl);
    }
    out.uint(view.keyCount);
    this.headBytes = out.written;
    this.walk = view.histories();
    this.nextRevision = view.changeLog.firstRevision;
    this.ordinals = new ChangeOrdinals(view.changeLog, view.changeLog.firstRevision, view.lastRevision);
  }

  private leaseId(id: LeaseId): void {
    // Most records have no lease: 0 in either format, without a bigint conversion.
    if (id === NO_LEASE) this.out.uint(0);
    else if (this.wide) this.out.uint64(zigzag(id));
    else this.out.uint(Number(id));
  }

  /** Encodes until `deadline` (a performance.now() time); the whole encoding once it is complete. */
  encodeUntil(deadline: number): Uint8Array | undefined {
    if (this.out.reuse) throw new Error('snapshot: an encoder that reuses its chunks cannot collect them');
    for (;;) {
      const { chunks, done } = this.encodeSlice(deadline);
      for (const c of chunks) this.collected.push(c);
      if (done) break;
      if (performance.now() >= deadline) return undefined;
    }
    const all = this.collected;
    this.collected = [];
    return all.length === 1 ? all[0]! : new Uint8Array(Buffer.concat(all));
  }

  /**
   * How many bytes the encoding (prefix included) takes, once known; until
   * then undefined, having worked until `deadline`. The keys' part and the
   * change counts come from totals kept as the store changed. What is
   * looked at here is the width of each change's key ordinal (a varint of
   * the key's position in byte order): how many changes belong to the first
   * 128, 16384, ... keys, up to the last such bound below the key count.
   * For a million keys that is the first 16384 of them, not all, and the
   * encoding goes on from that walk instead of repeating it.
   */
  measureUntil(deadline: number): number | undefined {
    const { keyCount, lastRevision, changeLog } = this.view;
    const bounds = ORDINAL_WIDTH_BOUNDS.filter((b) => b < keyCount);
    const walk = bounds.length > 0 ? bounds[bounds.length - 1]! : 0;
    while (this.sizedKeys < walk) {
      const end = Math.min(walk, this.sizedKeys + CLOCK_CHECK_EVERY);
      this.reach(this.sizedKeys, end);
      for (let k = this.sizedKeys; k < end; k++) {
        const changes = this.loggedChanges(this.ordered[k]!);
        for (let b = 0; b < bounds.length; b++) if (k < bounds[b]!) this.changesBelow[b] += changes;
      }
      this.sizedKeys = end;
      if (this.sizedKeys < walk && performance.now() >= deadline) return undefined;
    }
    const { keyBytes, changeCount, changeCountBytes } = this.view.totals();
    // Each change's ordinal takes one byte, and one more for every bound it reaches.
    let ordinalBytes = changeCount;
    for (let b = 0; b < bounds.length; b++) ordinalBytes += changeCount - this.changesBelow[b]!;
    const first = changeLog.firstRevision;
    const logHeader = varintSize(first) + varintSize(lastRevision - first + 1);
    return this.headBytes + keyBytes + logHeader + changeCountBytes + ordinalBytes + 4;
  }

  /** How many of the captured change log's changes are `h`'s: its records in the logged window. */
  private loggedChanges(h: History): number {
    const { revision, lastRevision, changeLog } = this.view;
    let n = 0;
    for (let i = recordsAtOrBefore(h, revision) - 1; i >= 0; i--) {
      const mod = modRevisionAt(h, slotOf(i));
      if (mod < changeLog.firstRevision) break;
      if (mod <= lastRevision) n++;
    }
    return n;
  }

  /** Encodes until `deadline`; returns the chunks completed meanwhile. */
  encodeSlice(deadline: number): EncodedSlice {
    this.out.reclaim();
    const chunks = this.encodeSome(deadline);
    return chunks === undefined ? { chunks: this.out.takeChunks(), done: false } : { chunks, done: true };
  }

  /**
   * Lists the histories with ordinals [from, end) (passes go in order: the
   * first pass takes them from the walk and notes their logged changes), and
   * reads each one's array, key and newest value once in tight loops first:
   * in a store written in another order than its keys sort, each is a cache
   * miss, and loads that do not depend on one another overlap instead of
   * waiting in turn inside the encoding loop.
   */
  private reach(from: number, end: number): void {
    const { ordered } = this;
    const fresh = ordered.length;
    while (ordered.length < end) {
      const next = this.walk.next();
      if (next.done) throw new Error('snapshot: the index holds fewer keys than were captured');
      ordered.push(next.value);
    }
    let touched = 0;
    for (let k = from; k < end; k++) touched += ordered[k]!.length;
    for (let k = from; k < end; k++) touched += historyKey(ordered[k]!).length;
    const { values } = this.view;
    for (let k = from; k < end; k++) {
      const h = ordered[k]!;
      touched += values.length(valueRefAt(h, lastSlot(h)));
    }
    this.touched = touched;
    for (let k = fresh; k < end; k++) {
      const h = ordered[k]!;
      this.ordinals.note(h, k, recordsAtOrBefore(h, this.view.revision));
    }
  }

  /** How many keys `revision` changed. */
  private changeCount(revision: number): number {
    const noted = this.ordinals.count(revision);
    return noted >= 0 ? noted : this.view.changeLog.countAt(revision);
  }

  /** The ordinal of the `position`th key `revision` changed. */
  private changeOrdinal(revision: number, position: number): number {
    const noted = this.ordinals.ordinal(revision, position);
    // Only a change log that disagrees with the histories lacks a noted ordinal.
    return noted >= 0 ? noted : ordinalOf(this.ordered, this.view.changeLog.at(revision)[position]!);
  }

  /**
   * A slice ends at its deadline, or as soon as a chunk is full: a consumer
   * that pulls chunks only as fast as it can pass them on then holds about
   * two chunks, however fast the encoder runs.
   */
  private sliceOver(deadline: number): boolean {
    return this.out.hasFullChunk() || performance.now() >= deadline;
  }

  /** Encodes until `deadline`; undefined while unfinished, else the last chunks. */
  private encodeSome(deadline: number): Uint8Array[] | undefined {
    const { keyCount, revision, changeLog, lastRevision, values } = this.view;
    const { out } = this;
    while (this.encodedKeys < keyCount) {
      const end = Math.min(keyCount, this.encodedKeys + CLOCK_CHECK_EVERY);
      this.reach(this.encodedKeys, end);
      for (let k = this.encodedKeys; k < end; k++) {
        const h = this.ordered[k]!;
        const records = recordsAtOrBefore(h, revision);
        out.bytes(historyKey(h));
        out.uint(records);
        let previousMod = 0;
        for (let i = 0; i < records; i++) {
          const slot = slotOf(i);
          const mod = modRevisionAt(h, slot);
          out.uint(mod - previousMod);
          previousMod = mod;
          out.uint(createRevisionAt(h, slot));
          out.uint(versionAt(h, slot));
          this.leaseId(leaseAt(h, slot));
          out.value(values, valueRefAt(h, slot));
        }
      }
      this.encodedKeys = end;
      if (this.sliceOver(deadline)) return undefined;
    }
    if (!this.logHeaderWritten) {
      out.uint(changeLog.firstRevision);
      out.uint(lastRevision - changeLog.firstRevision + 1);
      this.logHeaderWritten = true;
    }
    // One revision may change many keys (a large txn): the clock is checked
    // by changes written, and a revision may span slices.
    let work = 0;
    while (this.nextRevision <= lastRevision) {
      const count = this.changeCount(this.nextRevision);
      if (this.nextChange === 0) out.uint(count);
      const end = Math.min(count, this.nextChange + CLOCK_CHECK_EVERY - work);
      for (let i = this.nextChange; i < end; i++) {
        out.uint(this.changeOrdinal(this.nextRevision, i));
      }
      work += end - this.nextChange + 1;
      if (end < count) {
        this.nextChange = end;
      } else {
        this.nextChange = 0;
        this.nextRevision++;
      }
      if (work >= CLOCK_CHECK_EVERY) {
        work = 0;
        if (this.nextRevision <= lastRevision && this.sliceOver(deadline)) return undefined;
      }
    }
    return out.finishWithChecksum();
  }
}

/**
 * The key ordinal of every change in a window of the change log, noted as
 * the keys are walked in order: a key's records name the revisions that
 * changed it. A revision that changed one key (most do) costs 4 bytes here;
 * one that changed several gets its own small array.
 */
class ChangeOrdinals {
  /** By revision - first: the ordinal of the revision's only changed key, or -1. */
  private readonly lone: Int32Array;
  /**
   * Revisions that changed several keys, each as a run in `pool`: where the
   * next search starts, then the ordinals in change order (-1 where not noted).
   */
  private readonly grouped = new Map<number, number>();
  private pool = new Int32Array(64);
  private pooled = 0;

  constructor(
    private readonly log: ChangeLog,
    private readonly first: number,
    private readonly last: number,
  ) {
    this.lone = new Int32Array(Math.max(0, last - first + 1)).fill(-1);
  }

  /** Notes the changes among `h`'s first `records` records, `h` being the key with `ordinal`. */
  note(h: History, ordinal: number, records: number): void {
    // Records are oldest first: the ones in the window are at the end.
    for (let i = records - 1; i >= 0; i--) {
      const revision = modRevisionAt(h, slotOf(i));
      if (revision < this.first) return;
      if (revision > this.last) continue;
      if (this.log.isOnlyChange(revision, h)) {
        this.lone[revision - this.first] = ordinal;
        continue;
      }
      const changed = this.log.at(revision);
      const run = this.grouped.get(revision) ?? this.newRun(revision, changed.length);
      const position = findChange(changed, h, this.pool[run]!);
      if (position >= 0) {
        this.pool[run + 1 + position] = ordinal;
        this.pool[run] = position + 1;
      }
    }
  }

  private newRun(revision: number, count: number): number {
    if (this.pooled + 1 + count > this.pool.length) {
      const grown = new Int32Array(Math.max(this.pool.length * 2, this.pooled + 1 + count));
      grown.set(this.pool.subarray(0, this.pooled));
      this.pool = grown;
    }
    const run = this.pooled;
    this.pool[run] = 0;
    this.pool.fill(-1, run + 1, run + 1 + count);
    this.pooled += 1 + count;
    this.grouped.set(revision, run);
    return run;
  }

  /** How many keys `revision` changed, or -1 if no key named it. */
  count(revision: number): number {
    if (this.lone[revision - this.first]! >= 0) return 1;
    const run = this.grouped.get(revision);
    return run === undefined ? -1 : this.log.countAt(revision);
  }

  /** The ordinal of the `position`th key `revision` changed, or -1 if not noted. */
  ordinal(revision: number, position: number): number {
    const lone = this.lone[revision - this.first]!;
    if (lone >= 0) return position === 0 ? lone : -1;
    const run = this.grouped.get(revision);
    return run === undefined ? -1 : this.pool[run + 1 + position]!;
  }
}

/** How far past the last match a large revision's changes are searched for the next key. */
const GROUP_LOOKAHEAD = 16;

/**
 * Where `h` is among one revision's changes, or -1. A large revision (a
 * range delete) lists its keys in key order, the order they are walked in,
 * so the search starts after the previous match and looks only a little
 * further; a key not found there is left to the encoder's binary search,
 * which keeps a revision of n changes from costing n² here.
 */
function findChange(changed: readonly History[], h: History, from: number): number {
  if (changed.length <= GROUP_LOOKAHEAD) return changed.indexOf(h);
  const end = Math.min(changed.length, from + GROUP_LOOKAHEAD);
  for (let i = from; i < end; i++) if (changed[i] === h) return i;
  return -1;
}

/**
 * The position of `h` among the histories (in key order), by binary search
 * on its key: the fallback for a change the walk did not note.
 */
function ordinalOf(histories: readonly History[], h: History): number {
  const key = historyKey(h);
  let lo = 0;
  let hi = histories.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const k = historyKey(histories[mid]!);
    if (k < key) lo = mid + 1;
    else if (k > key) hi = mid - 1;
    else if (histories[mid] === h) return mid;
    else break;
  }
  throw new Error('snapshot: change log names a key the index no longer holds');
}

export function decodeSnapshot(bytes: Uint8Array): SnapshotContent {
  const input = new ByteReader(bytes);
  if (input.latin1(MAGIC.length) !== MAGIC) throw new Error('snapshot: not an MVCC snapshot');
  const format = input.uint();
  if (format !== FORMAT_LEGACY_LEASE_IDS && format !== FORMAT_INT64_LEASE_IDS) throw new Error(`snapshot: unsupported format version ${format}`);
  const wideLeaseIds = format === FORMAT_INT64_LEASE_IDS;
  // Records share the lease table's bigints rather than holding one each.
  const interned = new Map<LeaseId, LeaseId>([[NO_LEASE, NO_LEASE]]);
  const leaseId = (): LeaseId => {
    const id = wideLeaseIds ? unzigzag(input.uint64()) : BigInt(input.uint());
    return interned.get(id) ?? id;
  };
  const appliedIndex = input.uint();
  const revision = input.uint();
  const compactRevision = input.uint();

  const leases: LeaseInfo[] = [];
  for (let n = input.uint(); n > 0; n--) {
    const id = leaseId();
    interned.set(id, id);
    leases.push({
      id,
      grantedTtl: input.int(),
      grantedIndex: input.uint(),
      grantedRevision: input.uint(),
      remainingTtl: input.int(),
    });
  }

  const histories: History[] = [];
  const values = new ValueSlabs();
  for (let n = input.uint(); n > 0; n--) {
    const key = input.latin1(input.uint());
    const records = input.uint();
    if (records > input.remaining()) throw new Error('snapshot: truncated');
    // Sized up front: arrays grown by push keep up to 16 spare slots each,
    // which over a million keys is ~100 MiB of nothing.
    const h: History = new Array<number | string | LeaseId>(1 + records * 5);
    h[0] = key;
    let mod = 0;
    for (let r = 0, slot = 1; r < records; r++, slot += 5) {
      mod += input.uint();
      h[slot] = mod;
      h[slot + 1] = input.uint();
      h[slot + 2] = input.uint();
      h[slot + 3] = leaseId();
      h[slot + 4] = values.store(input.view(input.uint()));
    }
    histories.push(h);
  }

  const firstRevision = input.uint();
  const changeLog = new ChangeLog(firstRevision);
  for (let n = input.uint(), revision = firstRevision; n > 0; n--, revision++) {
    const changed: History[] = [];
    for (let c = input.uint(); c > 0; c--) {
      const h = histories[input.uint()];
      if (h === undefined) throw new Error('snapshot: change log names an unknown key');
      changed.push(h);
    }
    changeLog.append(revision, changed);
  }
  input.end();
  return { appliedIndex, revision, compactRevision, leases, wideLeaseIds, histories, values, changeLog };
}

function unzigzag(z: bigint): bigint {
  return z % 2n === 0n ? z / 2n : -(z + 1n) / 2n;
}

/** Strings up to this length are copied byte by byte rather than by Buffer.write. */
const SHORT_STRING = 32;

/** Bytes per output chunk by default: large enough for few writes, small enough to never hold the store twice. */
const SNAPSHOT_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * An append-only byte sink that fills fixed-size chunks (never regrowing or
 * copying what it wrote) and keeps a running CRC32 of everything after the
 * prefix.
 */
export class ByteWriter {
  private chunk: Buffer;
  private length = 0;
  /** Where the checksummed part of the current chunk starts (after a prefix). */
  private checksumFrom = 0;
  private crc = 0;
  private full: Uint8Array[] = [];
  /** Bytes in the chunks before the current one. */
  private before = 0;
  /** With reuse: chunks handed out since the last reclaim(), and chunks free to fill again. */
  private lent: Buffer[] = [];
  private spare: Buffer[] = [];

  /**
   * `reuse`: a chunk taken is valid only until the next reclaim(), after
   * which its memory is filled again; a stream that passes each chunk on
   * before asking for more then allocates a few chunks, not one per chunk.
   */
  constructor(
    private readonly chunkBytes = SNAPSHOT_CHUNK_BYTES,
    readonly reuse = false,
  ) {
    this.chunk = Buffer.allocUnsafe(chunkBytes);
  }

  /** With reuse: the chunks taken so far are no longer read, and may be filled again. */
  reclaim(): void {
    for (const c of this.lent) this.spare.push(c);
    this.lent = [];
  }

  uint(n: number): void {
    // Most values (versions, deltas, lengths, ordinals) fit one byte.
    if (n >= 0 && n < 0x80 && Number.isInteger(n)) {
      if (this.length === this.chunk.length) this.cut(1);
      this.chunk[this.length++] = n;
      return;
    }
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`snapshot: cannot encode ${n} as unsigned`);
    this.reserve(8);
    // Arithmetic, not bit operations: values can exceed 32 bits.
    while (n >= 0x80) {
      this.chunk[this.length++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.chunk[this.length++] = n;
  }

  int(n: number): void {
    this.uint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  uint64(n: bigint): void {
    if (n < 0n || n >= 2n ** 64n) throw new Error(`snapshot: cannot encode ${n} as unsigned 64-bit`);
    if (n < 0x80n) {
      if (this.length === this.chunk.length) this.cut(1);
      this.chunk[this.length++] = Number(n);
      return;
    }
    this.reserve(10);
    while (n >= 0x80n) {
      this.chunk[this.length++] = Number(n & 0x7fn) | 0x80;
      n >>= 7n;
    }
    this.chunk[this.length++] = Number(n);
  }

  /** Bytes written so far, prefix included. */
  get written(): number {
    return this.before + this.length;
  }

  /** A length-prefixed byte string. */
  bytes(s: string): void {
    this.uint(s.length);
    this.latin1(s);
  }

  /** A stored value, length-prefixed, copied from its slot. */
  value(values: ValueSlabs, ref: ValueRef): void {
    const length = values.length(ref);
    this.uint(length);
    this.reserve(length);
    this.length += values.copyInto(ref, this.chunk, this.length);
  }

  latin1(s: string): void {
    this.reserve(s.length);
    if (s.length <= SHORT_STRING) {
      // A loop beats the native write's call overhead for short keys.
      const chunk = this.chunk;
      let at = this.length;
      for (let i = 0; i < s.length; i++) chunk[at++] = s.charCodeAt(i);
      this.length = at;
    } else {
      this.length += this.chunk.write(s, this.length, 'latin1');
    }
  }

  /** Bytes before everything else, outside the checksum; only before the first write. */
  prefix(bytes: Uint8Array): void {
    if (this.length !== 0 || this.full.length > 0) throw new Error('snapshot: a prefix must come first');
    this.reserve(bytes.length);
    this.chunk.set(bytes, 0);
    this.length = this.checksumFrom = bytes.length;
  }

  /** The chunks filled since the last call. */
  takeChunks(): Uint8Array[] {
    const out = this.full;
    this.full = [];
    return out;
  }

  hasFullChunk(): boolean {
    return this.full.length > 0;
  }

  /** Appends the checksum and returns the remaining chunks. */
  finishWithChecksum(): Uint8Array[] {
    this.foldChecksum();
    const checksum = this.crc;
    this.reserve(4);
    this.chunk.writeUInt32BE(checksum, this.length);
    this.length += 4;
    this.cut(0);
    return this.takeChunks();
  }

  private foldChecksum(): void {
    this.crc = crc32(this.chunk.subarray(this.checksumFrom, this.length), this.crc);
    this.checksumFrom = this.length;
  }

  private reserve(extra: number): void {
    if (this.length + extra > this.chunk.length) this.cut(extra);
  }

  /** Closes the current chunk and starts one with room for at least `extra` bytes. */
  private cut(extra: number): void {
    this.foldChecksum();
    if (this.length > 0) this.full.push(new Uint8Array(this.chunk.buffer, this.chunk.byteOffset, this.length));
    this.before += this.length;
    if (this.reuse && this.chunk.length === this.chunkBytes) this.lent.push(this.chunk);
    this.chunk = (extra <= this.chunkBytes && this.spare.pop()) || Buffer.allocUnsafe(Math.max(this.chunkBytes, extra));
    this.length = this.checksumFrom = 0;
  }
}

/** Reads what ByteWriter wrote, refusing truncated or corrupted input. */
class ByteReader {
  private readonly buf: Buffer;
  private pos = 0;

  constructor(bytes: Uint8Array) {
    if (bytes.length < 4) throw new Error('snapshot: truncated');
    const all = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.buf = all.subarray(0, all.length - 4);
    if (crc32(this.buf) !== all.readUInt32BE(all.length - 4)) throw new Error('snapshot: checksum mismatch');
  }

  uint(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('snapshot: truncated');
      const byte = this.buf[this.pos++]!;
      n += (byte & 0x7f) * scale;
      if (byte < 0x80) return n;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new Error('snapshot: varint too long');
    }
  }

  uint64(): bigint {
    let n = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (this.pos >= this.buf.length) throw new Error('snapshot: truncated');
      if (shift > 63n) throw new Error('snapshot: varint too long');
      const byte = this.buf[this.pos++]!;
      n |= BigInt(byte & 0x7f) << shift;
      if (n >= 2n ** 64n) throw new Error('snapshot: varint beyond 64 bits');
      if (byte < 0x80) return n;
    }
  }

  int(): number {
    const z = this.uint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  /** The next `length` bytes, aliasing the input. */
  view(length: number): Buffer {
    if (this.pos + length > this.buf.length) throw new Error('snapshot: truncated');
    const v = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return v;
  }

  latin1(length: number): string {
    if (this.pos + length > this.buf.length) throw new Error('snapshot: truncated');
    const s = this.buf.toString('latin1', this.pos, this.pos + length);
    this.pos += length;
    return s;
  }

  /** Bytes left to read. */
  remaining(): number {
    return this.buf.length - this.pos;
  }

  end(): void {
    if (this.pos !== this.buf.length) throw new Error('snapshot: trailing bytes');
  }
}
