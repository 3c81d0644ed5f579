// The retained Raft log in memory: a base position (the snapshot or the last
// compacted entry, whose term stays answerable) followed by contiguous
// entries. WAL replay rebuilds one; DiskStorage serves the Raft core from one.
import { CompactedError, UnavailableError, entriesWithin } from '../raft/storage.js';
import type { Entry } from '../raft/types.js';

export interface LogPosition {
  index: number;
  term: number;
}

export class LogCache {
  private baseIndex: number;
  private baseTerm: number;
  /** entries[k] has index baseIndex + 1 + k. */
  private log: Entry[];

  constructor(base: LogPosition = { index: 0, term: 0 }, entries: Entry[] = []) {
    this.baseIndex = base.index;
    this.baseTerm = base.term;
    this.log = [];
    this.append(entries);
  }

  get base(): LogPosition {
    return { index: this.baseIndex, term: this.baseTerm };
  }

  firstIndex(): number {
    return this.baseIndex + 1;
  }

  lastIndex(): number {
    return this.baseIndex + this.log.length;
  }

  /** Term at i, or undefined when i is outside [base, last]. */
  termAt(i: number): number | undefined {
    if (i === this.baseIndex) return this.baseTerm;
    if (i < this.baseIndex || i > this.lastIndex()) return undefined;
    return this.log[i - this.baseIndex - 1]!.term;
  }

  term(i: number): number {
    if (i < this.baseIndex) throw new CompactedError(i, this.firstIndex());
    if (i > this.lastIndex()) throw new UnavailableError(i, this.lastIndex());
    return this.termAt(i)!;
  }

  /** Entries in [lo, hi), cut after about maxBytes of payload (at least one). */
  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    if (lo <= this.baseIndex) throw new CompactedError(lo, this.firstIndex());
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    if (lo >= hi) return [];
    return entriesWithin(this.log, lo - this.baseIndex - 1, hi - this.baseIndex - 1, maxBytes);
  }

  /**
   * Appends contiguous entries. An entry at or below the last index replaces
   * that position and drops everything after it (Raft's conflicting suffix);
   * entries at or below the base are already covered and skipped.
   */
  append(entries: readonly Entry[]): void {
    assertContiguous(entries);
    const fresh = this.notCovered(entries);
    if (fresh.length === 0) return;
    const first = fresh[0]!.index;
    if (first > this.lastIndex() + 1) {
      throw new RangeError(`log: entry ${first} would leave a gap after last index ${this.lastIndex()}`);
    }
    this.log.length = first - this.baseIndex - 1;
    for (const entry of fresh) this.log.push(entry);
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
      this.log = this.log.slice(snap.index - this.baseIndex);
    } else {
      this.log = [];
    }
    this.baseIndex = snap.index;
    this.baseTerm = snap.term;
  }

  /** Forgets entries up to and including i (its term is kept as the base). */
  compact(i: number): void {
    if (i <= this.baseIndex) return;
    if (i > this.lastIndex()) throw new UnavailableError(i, this.lastIndex());
    this.baseTerm = this.termAt(i)!;
    this.log = this.log.slice(i - this.baseIndex);
    this.baseIndex = i;
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
