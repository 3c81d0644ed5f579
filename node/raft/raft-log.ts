// The log as the core sees it: durable entries in LogStorage followed by an
// unstable tail (and possibly a snapshot) not yet handed to the application
// for persistence. Also tracks the commit and applied positions.
import { CompactedError, UnavailableError, entriesWithin, payloadBytes, type LogStorage } from './storage.js';
import type { Entry, Snapshot } from './types.js';

export class RaftLog {
  /** Entries at index >= unstableOffset not yet persisted. */
  private unstableEntries: Entry[] = [];
  private unstableOffset: number;
  /** A snapshot received from the leader and not yet persisted. */
  private unstableSnapshot: Snapshot | undefined;
  committed: number;
  applied: number;

  constructor(readonly storage: LogStorage) {
    this.unstableOffset = storage.lastIndex() + 1;
    this.committed = storage.firstIndex() - 1;
    this.applied = storage.firstIndex() - 1;
  }

  firstIndex(): number {
    if (this.unstableSnapshot) return this.unstableSnapshot.meta.index + 1;
    return this.storage.firstIndex();
  }

  lastIndex(): number {
    if (this.unstableEntries.length > 0) return this.unstableOffset + this.unstableEntries.length - 1;
    if (this.unstableSnapshot) return this.unstableSnapshot.meta.index;
    return this.storage.lastIndex();
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** Term of entry i, or undefined when it is compacted away or not yet written. */
  term(i: number): number | undefined {
    if (i === 0) return 0;
    if (this.unstableSnapshot && i === this.unstableSnapshot.meta.index) return this.unstableSnapshot.meta.term;
    if (i >= this.unstableOffset) {
      const e = this.unstableEntries[i - this.unstableOffset];
      return e?.term;
    }
    if (this.unstableSnapshot && i < this.unstableSnapshot.meta.index) return undefined;
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return undefined;
    try {
      return this.storage.term(i);
    } catch (err) {
      if (err instanceof CompactedError || err instanceof UnavailableError) return undefined;
      throw err;
    }
  }

  matchTerm(i: number, term: number): boolean {
    return this.term(i) === term;
  }

  /**
   * Entries in [lo, hi) limited to about maxBytes of payload (at least one
   * entry). Returns undefined when lo has been compacted away.
   */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] | undefined {
    if (lo >= hi) return [];
    if (lo < this.firstIndex()) return undefined;
    if (hi > this.lastIndex() + 1) throw new Error(`raft: slice [${lo}, ${hi}) beyond last index ${this.lastIndex()}`);
    // Only what fits is copied: a far-behind follower or a long backlog of
    // committed entries must not cost a copy of the whole log per call.
    let stable: Entry[] = [];
    if (lo < this.unstableOffset) {
      const stableHi = Math.min(hi, this.unstableOffset);
      try {
        stable = this.storage.entries(lo, stableHi, maxBytes);
      } catch (err) {
        if (err instanceof CompactedError) return undefined;
        throw err;
      }
      if (hi <= this.unstableOffset || stable.length < stableHi - lo) return stable;
    }
    const from = Math.max(lo, this.unstableOffset) - this.unstableOffset;
    const used = stable.length > 0 && maxBytes !== Infinity ? payloadBytes(stable) : 0;
    const unstable = entriesWithin(this.unstableEntries, from, hi - this.unstableOffset, maxBytes, used);
    return stable.length > 0 ? stable.concat(unstable) : unstable;
  }

  /** Whether a candidate whose log ends at (lastIndex, lastTerm) is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * The follower side of AppendEntries: if our log holds (prevIndex, prevTerm),
   * append `entries` (dropping any conflicting suffix), advance the commit, and
   * return the index of the last new entry. Undefined means the log does not match.
   */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, entries: Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new Error(`raft: entry ${conflict} conflicts with committed entry (committed ${this.committed})`);
      }
      this.append(entries.slice(conflict - (prevIndex + 1)));
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /** Index of the first entry whose term differs from ours (or that we lack), or 0. */
  private findConflict(entries: Entry[]): number {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`: where a leader and a
   * follower whose logs disagree can safely resume probing.
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    for (; i > 0; i--) {
      const t = this.term(i);
      if (t === undefined || t <= term) break;
    }
    return i;
  }

  /** Appends entries to the unstable tail, truncating whatever they replace. */
  append(entries: Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    const first = entries[0]!.index;
    if (first - 1 < this.committed) throw new Error(`raft: append at ${first} would overwrite committed entry ${this.committed}`);
    if (first === this.unstableOffset + this.unstableEntries.length) {
      for (const e of entries) this.unstableEntries.push(e);
    } else if (first <= this.unstableOffset) {
      // Replaces part of the stable log: the new tail supersedes it once persisted.
      this.unstableOffset = first;
      this.unstableEntries = [...entries];
    } else {
      this.unstableEntries = this.unstableEntries.slice(0, first - this.unstableOffset).concat(entries);
    }
    return this.lastIndex();
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) throw new Error(`raft: commit ${index} is beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Leader side: commit up to `index` if it belongs to `term` (the current term). */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    if (index > this.committed || index < this.applied) {
      throw new Error(`raft: applied ${index} is outside [${this.applied}, ${this.committed}]`);
    }
    this.applied = index;
  }

  /** Installs a snapshot from the leader as the whole log. */
  restore(snap: Snapshot): void {
    this.unstableSnapshot = snap;
    this.unstableEntries = [];
    this.unstableOffset = snap.meta.index + 1;
    this.committed = snap.meta.index;
  }

  pendingSnapshot(): Snapshot | undefined {
    return this.unstableSnapshot;
  }

  pendingEntries(): Entry[] {
    return this.unstableEntries;
  }

  /** Committed entries not yet handed to the application. */
  nextCommittedEntries(maxBytes = Infinity): Entry[] {
    if (this.unstableSnapshot) return [];
    const lo = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed < lo) return [];
    return this.slice(lo, this.committed + 1, maxBytes) ?? [];
  }

  hasNextCommittedEntries(): boolean {
    return !this.unstableSnapshot && this.committed >= Math.max(this.applied + 1, this.firstIndex());
  }

  /** The application persisted the unstable entries up to (index, term). */
  stableTo(index: number, term: number): void {
    if (index < this.unstableOffset) return;
    const pos = index - this.unstableOffset;
    if (pos >= this.unstableEntries.length || this.unstableEntries[pos]!.term !== term) return;
    this.unstableEntries = this.unstableEntries.slice(pos + 1);
    this.unstableOffset = index + 1;
  }

  /** The application persisted the pending snapshot. */
  stableSnapshotTo(index: number): void {
    if (this.unstableSnapshot?.meta.index === index) {
      this.unstableSnapshot = undefined;
      this.applied = Math.max(this.applied, index);
    }
  }

  snapshot(): Snapshot {
    return this.unstableSnapshot ?? this.storage.snapshot();
  }
}

