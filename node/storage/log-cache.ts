// The retained Raft log in memory: a base position (the snapshot or the last
// compacted entry, whose term stays answerable) followed by contiguous
// entries. WAL replay rebuilds one; DiskStorage serves the Raft core from one.
//
// It can hold a few hundred thousand entries, and as Entry objects each cost
// nearly three times its payload (README.md), so it is packed: typed-array
// columns, payloads copied into chunks. Reads hand out Entry objects over
// views of a chunk. Bytes handed out are never written again, so a view
// stays valid while held; a chunk goes once compaction passes its entries.
//
// Committed entries are read again only by a follower that fell behind, yet
// a member snapshots once they add up to a quarter of its state, so held in
// memory they could take a quarter again of the state's size. Once the WAL
// says where an entry's record lies (place()), spill() lets go of the chunks
// whose entries are all applied and placed; a read of one of those goes
// to the WAL through the cold reader, which checks the record it reads.
import { CompactedError, UnavailableError } from '../raft/storage.js';
import type { Entry, EntryType } from '../raft/types.js';

export interface LogPosition {
  index: number;
  term: number;
}

/** Payloads are copied into chunks of this size... */
const CHUNK_BYTES = 256 * 1024;
/** ...except larger ones, which get a chunk of their own size. */
const OWN_CHUNK_BYTES = CHUNK_BYTES / 8;
const INITIAL_CAPACITY = 1024;
const EMPTY = new Uint8Array(0);

/** Reads entry (term, index)'s payload of `length` bytes back from its WAL record. */
export type ColdReader = (segmentSeq: number, offset: number, term: number, index: number, length: number) => Uint8Array;

interface Chunk {
  /** Undefined once spilled: its payloads are read from the WAL. */
  bytes: Uint8Array | undefined;
  /** The highest entry index ever written into it. */
  lastIndex: number;
}

export class LogCache {
  private baseIndex: number;
  private baseTerm: number;
  /** Entry baseIndex + 1 + k lives in row head + k of the columns. */
  private head = 0;
  private count = 0;
  private terms = new Float64Array(INITIAL_CAPACITY);
  private types = new Uint8Array(INITIAL_CAPACITY);
  /** Sequence number of the chunk holding the payload (chunks[seq - firstChunkSeq]). */
  private chunkSeqs = new Float64Array(INITIAL_CAPACITY);
  private offsets = new Uint32Array(INITIAL_CAPACITY);
  private lengths = new Uint32Array(INITIAL_CAPACITY);
  /** Where the WAL wrote the entry's record: segment sequence number (0: not told yet) and offset. */
  private walSeqs = new Float64Array(INITIAL_CAPACITY);
  private walOffsets = new Float64Array(INITIAL_CAPACITY);
  /** Every entry up to here has an empty payload or a known place in the WAL. */
  private placedThrough = 0;
  private coldReader: ColdReader | undefined;
  private resident = 0;
  /** Oldest first; dropped from the front once compaction passes their last entry. */
  private chunks: Chunk[] = [];
  private firstChunkSeq = 0;
  /** The chunk small payloads are appended to, and where its free space starts. */
  private filling: Chunk | undefined;
  private fillingSeq = 0;
  private fill = 0;

  constructor(base: LogPosition = { index: 0, term: 0 }, entries: readonly Entry[] = []) {
    this.baseIndex = base.index;
    this.baseTerm = base.term;
    this.placedThrough = base.index;
    this.append(entries);
  }

  get base(): LogPosition {
    return { index: this.baseIndex, term: this.baseTerm };
  }

  firstIndex(): number {
    return this.baseIndex + 1;
  }

  lastIndex(): number {
    return this.baseIndex + this.count;
  }

  /** Entries held (after the base). */
  get entryCount(): number {
    return this.count;
  }

  /** Payload bytes held in memory in chunks, gaps included (what the log costs beyond its columns). */
  get heldBytes(): number {
    return this.resident;
  }

  /** Lets spill() go ahead: payloads of spilled chunks are read back through `reader`. */
  readColdFrom(reader: ColdReader): void {
    this.coldReader = reader;
  }

  /** The WAL wrote entry (term, index)'s record at `offset` of segment `segmentSeq`. */
  place(term: number, index: number, segmentSeq: number, offset: number): void {
    if (index <= this.baseIndex || this.termAt(index) !== term) return; // compacted, or replaced since
    const row = this.head + index - this.baseIndex - 1;
    this.walSeqs[row] = segmentSeq;
    this.walOffsets[row] = offset;
  }

  /**
   * Lets go of the oldest chunks whose entries are all at or below
   * `applied` (so committed, never rewritten) and placed in the WAL (the
   * chunk being filled stays); returns the bytes let go. Needs a cold reader.
   */
  spill(applied: number): number {
    if (this.coldReader === undefined) return 0;
    const through = Math.min(applied, this.lastIndex());
    let i = Math.max(this.placedThrough, this.baseIndex) + 1;
    for (; i <= through; i++) {
      const row = this.head + i - this.baseIndex - 1;
      if (this.lengths[row] !== 0 && this.walSeqs[row] === 0) break;
    }
    this.placedThrough = i - 1;
    let released = 0;
    // Oldest first, up to the first that holds a later entry (the chunk being filled is passed over).
    for (const chunk of this.chunks) {
      if (chunk.bytes === undefined || chunk === this.filling) continue;
      if (chunk.lastIndex > this.placedThrough) break;
      released += chunk.bytes.length;
      chunk.bytes = undefined;
    }
    this.resident -= released;
    return released;
  }

  /** Term at i, or undefined when i is outside [base, last]. */
  termAt(i: number): number | undefined {
    if (i === this.baseIndex) return this.baseTerm;
    if (i < this.baseIndex || i > this.lastIndex()) return undefined;
    return this.terms[this.head + i - this.baseIndex - 1];
  }

  term(i: number): number {
    if (i < this.baseIndex) throw new CompactedError(i, this.firstIndex());
    if (i > this.lastIndex()) throw new UnavailableError(i, this.lastIndex());
    return this.termAt(i)!;
  }

  /** Entries in [lo, hi), cut after about maxBytes of payload (at least one). */
  entries(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    if (lo <= this.baseIndex) throw new CompactedError(lo, this.firstIndex());
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    const out: Entry[] = [];
    let used = 0;
    for (let i = lo; i < hi; i++) {
      const row = this.head + i - this.baseIndex - 1;
      used += this.lengths[row]!;
      if (used > maxBytes && out.length > 0) break;
      out.push({ term: this.terms[row]!, index: i, type: this.types[row]! as EntryType, data: this.dataAt(row, i) });
    }
    return out;
  }

  /**
   * Appends contiguous entries, copying their payloads. An entry at or below
   * the last index replaces that position and drops everything after it
   * (Raft's conflicting suffix); entries at or below the base are already
   * covered and skipped.
   */
  append(entries: readonly Entry[]): void {
    assertContiguous(entries);
    const fresh = this.notCovered(entries);
    if (fresh.length === 0) return;
    const first = fresh[0]!.index;
    if (first > this.lastIndex() + 1) {
      throw new RangeError(`log: entry ${first} would leave a gap after last index ${this.lastIndex()}`);
    }
    // A dropped suffix's payload bytes stay where they are: views of them may be held.
    this.count = first - this.baseIndex - 1;
    if (this.placedThrough >= first) this.placedThrough = first - 1;
    for (const entry of fresh) this.push(entry);
  }

  /** Checks what append() would accept, without changing anything. */
  assertAppendable(entries: readonly Entry[]): void {
    assertContiguous(entries);
    const fresh = this.notCovered(entries);
    if (fresh.length > 0 && fresh[0]!.index > this.lastIndex() + 1) {
      throw new RangeError(`log: entry ${fresh[0]!.index} would leave a gap after last index ${this.lastIndex()}`);
    }
  }

  /**
   * Moves the base to a snapshot. If the log holds the snapshot's own entry
   * (same index and term) the entries after it stay, as when this member
   * snapshotted its own state; otherwise the whole log is replaced, as when a
   * leader's snapshot is installed. Older snapshots are ignored.
   */
  applySnapshot(snap: LogPosition): void {
    if (snap.index <= this.baseIndex) return;
    if (this.termAt(snap.index) === snap.term) {
      this.dropThrough(snap.index);
    } else {
      this.head = 0;
      this.count = 0;
      this.baseIndex = snap.index;
      this.placedThrough = snap.index;
    }
    this.baseTerm = snap.term;
    this.releaseChunks();
  }

  /** The base's term, assumed until now (WAL replay after a gap), turned out to be `term`. */
  baseTermKnown(term: number): void {
    this.baseTerm = term;
  }

  /** Forgets entries up to and including i (its term is kept as the base). */
  compact(i: number): void {
    if (i <= this.baseIndex) return;
    if (i > this.lastIndex()) throw new UnavailableError(i, this.lastIndex());
    this.baseTerm = this.termAt(i)!;
    this.dropThrough(i);
    this.releaseChunks();
  }

  private dropThrough(i: number): void {
    const dropped = i - this.baseIndex;
    this.head += dropped;
    this.count -= dropped;
    this.baseIndex = i;
    if (this.count === 0) this.head = 0;
  }

  /** Lets go of the chunks no retained entry lies in. */
  private releaseChunks(): void {
    let drop = 0;
    if (this.count === 0) drop = this.chunks.length;
    while (drop < this.chunks.length && this.chunks[drop]!.lastIndex <= this.baseIndex) drop++;
    if (drop === 0) return;
    if (this.filling !== undefined && this.fillingSeq < this.firstChunkSeq + drop) this.filling = undefined;
    for (let k = 0; k < drop; k++) this.resident -= this.chunks[k]!.bytes?.length ?? 0;
    this.chunks = this.chunks.slice(drop);
    this.firstChunkSeq += drop;
  }

  private push(entry: Entry): void {
    if (this.head + this.count === this.terms.length) this.makeRoom();
    const row = this.head + this.count;
    this.terms[row] = entry.term;
    this.types[row] = entry.type;
    this.lengths[row] = entry.data.length;
    this.walSeqs[row] = 0;
    if (entry.data.length > 0) this.store(row, entry.index, entry.data);
    this.count += 1;
  }

  /** Copies a payload into a chunk and records where it went. */
  private store(row: number, index: number, data: Uint8Array): void {
    let chunk: Chunk;
    let seq: number;
    let offset = 0;
    if (data.length > OWN_CHUNK_BYTES) {
      chunk = { bytes: new Uint8Array(data.length), lastIndex: index };
      seq = this.firstChunkSeq + this.chunks.push(chunk) - 1;
      this.resident += data.length;
    } else {
      if (this.filling === undefined || this.fill + data.length > CHUNK_BYTES) {
        this.filling = { bytes: new Uint8Array(CHUNK_BYTES), lastIndex: index };
        this.fillingSeq = this.firstChunkSeq + this.chunks.push(this.filling) - 1;
        this.fill = 0;
        this.resident += CHUNK_BYTES;
      }
      chunk = this.filling;
      seq = this.fillingSeq;
      offset = this.fill;
      this.fill += data.length;
    }
    chunk.bytes!.set(data, offset);
    chunk.lastIndex = Math.max(chunk.lastIndex, index);
    this.chunkSeqs[row] = seq;
    this.offsets[row] = offset;
  }

  private dataAt(row: number, index: number): Uint8Array {
    const length = this.lengths[row]!;
    if (length === 0) return EMPTY;
    const chunk = this.chunks[this.chunkSeqs[row]! - this.firstChunkSeq]!;
    if (chunk.bytes === undefined) return this.coldReader!(this.walSeqs[row]!, this.walOffsets[row]!, this.terms[row]!, index, length);
    const offset = this.offsets[row]!;
    return chunk.bytes.subarray(offset, offset + length);
  }

  /** Moves the rows to the front when half the columns are behind the head, else doubles them. */
  private makeRoom(): void {
    const capacity = this.terms.length;
    const grown = this.head * 2 >= capacity ? capacity : capacity * 2;
    const from = this.head;
    const to = this.head + this.count;
    const move = <T extends Float64Array | Uint32Array | Uint8Array>(column: T, make: (n: number) => T): T => {
      if (grown === capacity) {
        column.copyWithin(0, from, to);
        return column;
      }
      const next = make(grown);
      next.set(column.subarray(from, to));
      return next;
    };
    this.terms = move(this.terms, (n) => new Float64Array(n));
    this.types = move(this.types, (n) => new Uint8Array(n));
    this.chunkSeqs = move(this.chunkSeqs, (n) => new Float64Array(n));
    this.offsets = move(this.offsets, (n) => new Uint32Array(n));
    this.lengths = move(this.lengths, (n) => new Uint32Array(n));
    this.walSeqs = move(this.walSeqs, (n) => new Float64Array(n));
    this.walOffsets = move(this.walOffsets, (n) => new Float64Array(n));
    this.head = 0;
  }

  private notCovered(entries: readonly Entry[]): readonly Entry[] {
    if (entries.length === 0 || entries[0]!.index > this.baseIndex) return entries;
    return entries.filter((e) => e.index > this.baseIndex);
  }
}

export function assertContiguous(entries: readonly Entry[]): void {
  for (let k = 1; k < entries.length; k++) {
    if (entries[k]!.index !== entries[k - 1]!.index + 1) {
      throw new RangeError(`log: entries are not contiguous (${entries[k - 1]!.index} then ${entries[k]!.index})`);
    }
  }
}
