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
  historyKey,
  leaseAt,
  modRevisionAt,
  recordsAtOrBefore,
  slotOf,
  valueAt,
  versionAt,
} from './key-index.js';
import { ChangeLog } from './change-log.js';
import { type LeaseId, type LeaseInfo, NO_LEASE } from './types.js';

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
  /** Which of those histories each retained revision changed. */
  changeLog: ChangeLog;
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
  };
  const bytes = new SnapshotEncoder(view).encodeUntil(Infinity);
  if (bytes === undefined) throw new Error('snapshot: encoder stopped before its deadline');
  return bytes;
}

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
 */
export class SnapshotEncoder {
  private readonly out: ByteSink;
  private readonly walk: Iterator<History>;
  /** The histories encoded so far, in key order: a key's ordinal is its position here. */
  private readonly ordered: History[] = [];
  private nextRevision: number;
  /** Where in nextRevision's changes the encoding stopped. */
  private nextChange = 0;
  private logHeaderWritten = false;
  /** Chunks encodeUntil has collected so far. */
  private collected: Uint8Array[] = [];
  private readonly wide: boolean;

  /** With a ByteCounter as `out`, the encoder produces no bytes and only counts them (see measureUntil). */
  constructor(
    private readonly view: SnapshotView,
    out: ByteSink = new ByteWriter(),
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
    this.walk = view.histories();
    this.nextRevision = view.changeLog.firstRevision;
  }

  private leaseId(id: LeaseId): void {
    if (this.wide) this.out.uint64(id >= 0n ? id * 2n : -id * 2n - 1n);
    else this.out.uint(Number(id));
  }

  /** Encodes until `deadline` (a performance.now() time); the whole encoding once it is complete. */
  encodeUntil(deadline: number): Uint8Array | undefined {
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
   * For an encoder made with a ByteCounter: runs until `deadline`, and once
   * complete returns how many bytes the encoding (prefix included) takes.
   */
  measureUntil(deadline: number): number | undefined {
    if (!(this.out instanceof ByteCounter)) throw new Error('snapshot: measureUntil needs an encoder made with a ByteCounter');
    return this.encodeSome(deadline) === undefined ? undefined : this.out.length;
  }

  /** Encodes until `deadline`; returns the chunks completed meanwhile. */
  encodeSlice(deadline: number): EncodedSlice {
    const chunks = this.encodeSome(deadline);
    return chunks === undefined ? { chunks: this.out.takeChunks(), done: false } : { chunks, done: true };
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
    const { keyCount, revision, changeLog, lastRevision } = this.view;
    const { out, ordered } = this;
    while (ordered.length < keyCount) {
      const end = Math.min(keyCount, ordered.length + CLOCK_CHECK_EVERY);
      while (ordered.length < end) {
        const next = this.walk.next();
        if (next.done) throw new Error('snapshot: the index holds fewer keys than were captured');
        const h = next.value;
        ordered.push(h);
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
          out.bytes(valueAt(h, slot));
        }
      }
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
      const changed = changeLog.at(this.nextRevision);
      if (this.nextChange === 0) out.uint(changed.length);
      const end = Math.min(changed.length, this.nextChange + CLOCK_CHECK_EVERY - work);
      for (let i = this.nextChange; i < end; i++) {
        out.uint(ordinalOf(ordered, changed[i]!));
      }
      work += end - this.nextChange + 1;
      if (end < changed.length) {
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
 * The position of `h` among the histories (in key order), by binary search
 * on its key: no map from every history to its position, which for a large
 * store would cost tens of bytes per key for as long as an encoding runs.
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
      h[slot + 4] = input.latin1(input.uint());
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
  return { appliedIndex, revision, compactRevision, leases, wideLeaseIds, histories, changeLog };
}

function unzigzag(z: bigint): bigint {
  return z % 2n === 0n ? z / 2n : -(z + 1n) / 2n;
}

/** Strings up to this length are copied byte by byte rather than by Buffer.write. */
const SHORT_STRING = 32;

/** Bytes per output chunk by default: large enough for few writes, small enough to never hold the store twice. */
const SNAPSHOT_CHUNK_BYTES = 4 * 1024 * 1024;

/** Where SnapshotEncoder puts its bytes. */
interface ByteSink {
  uint(n: number): void;
  /** An unsigned varint of up to 64 bits. */
  uint64(n: bigint): void;
  int(n: number): void;
  /** A length-prefixed byte string. */
  bytes(s: string): void;
  latin1(s: string): void;
  /** Bytes before everything else, outside the checksum; only before the first write. */
  prefix(bytes: Uint8Array): void;
  /** The chunks filled since the last call. */
  takeChunks(): Uint8Array[];
  /** Whether a chunk was filled since the last takeChunks(). */
  hasFullChunk(): boolean;
  /** Appends the checksum and returns the remaining chunks. */
  finishWithChecksum(): Uint8Array[];
}

/**
 * A sink that only counts: the size of an encoding without its bytes, so a
 * container that states its length up front can stream the encoding after.
 */
export class ByteCounter implements ByteSink {
  length = 0;

  uint(n: number): void {
    if (n >= 0 && n < 0x80 && Number.isInteger(n)) {
      this.length += 1;
      return;
    }
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`snapshot: cannot encode ${n} as unsigned`);
    let size = 1;
    while (n >= 0x80) {
      n = Math.floor(n / 0x80);
      size++;
    }
    this.length += size;
  }

  int(n: number): void {
    this.uint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  uint64(n: bigint): void {
    let size = 1;
    while (n >= 0x80n) {
      n >>= 7n;
      size++;
    }
    this.length += size;
  }

  bytes(s: string): void {
    this.uint(s.length);
    this.length += s.length;
  }

  latin1(s: string): void {
    this.length += s.length;
  }

  prefix(bytes: Uint8Array): void {
    this.length += bytes.length;
  }

  takeChunks(): Uint8Array[] {
    return [];
  }

  hasFullChunk(): boolean {
    return false;
  }

  finishWithChecksum(): Uint8Array[] {
    this.length += 4;
    return [];
  }
}

/**
 * An append-only byte sink that fills fixed-size chunks (never regrowing or
 * copying what it wrote) and keeps a running CRC32 of everything after the
 * prefix.
 */
export class ByteWriter implements ByteSink {
  private chunk: Buffer;
  private length = 0;
  /** Where the checksummed part of the current chunk starts (after a prefix). */
  private checksumFrom = 0;
  private crc = 0;
  private full: Uint8Array[] = [];

  constructor(private readonly chunkBytes = SNAPSHOT_CHUNK_BYTES) {
    this.chunk = Buffer.allocUnsafe(chunkBytes);
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

  /** A length-prefixed byte string. */
  bytes(s: string): void {
    this.uint(s.length);
    this.latin1(s);
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
    this.chunk = Buffer.allocUnsafe(Math.max(this.chunkBytes, extra));
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
