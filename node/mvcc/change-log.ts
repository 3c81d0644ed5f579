// Which keys each retained revision changed, in the order the writes happened
// (etcd's sub-revision order). Watchers replay history from it, compaction
// uses it to find the keys it has to prune, and it keeps event order exact
// across a snapshot. Entries point at the key's history array, so the log
// costs one reference per change and never copies a key.

import type { History } from './key-index.js';
import { varintSize } from '../varint.js';

export class ChangeLog {
  /** changes[i] holds revision first + i: a lone history, or several in write order. */
  private changes: (History | History[])[] = [];
  private first: number;
  /** Changes logged, over every revision. */
  private changeTotal = 0;
  /** What the revisions' change counts take as varints in a snapshot (node/mvcc/snapshot-size.ts). */
  private countBytes = 0;

  constructor(firstRevision = 1) {
    this.first = firstRevision;
  }

  /** The oldest revision still logged. */
  get firstRevision(): number {
    return this.first;
  }

  /** The newest revision logged (first - 1 when empty). */
  get lastRevision(): number {
    return this.first + this.changes.length - 1;
  }

  /** How many changes the logged revisions hold together. */
  get changeCount(): number {
    return this.changeTotal;
  }

  /** The bytes every logged revision's change count takes as a varint. */
  get countVarintBytes(): number {
    return this.countBytes;
  }

  /** Logs the next revision; revisions without changes (the initial one) log []. */
  append(revision: number, changed: History[]): void {
    if (revision !== this.lastRevision + 1) {
      throw new Error(`change log: expected revision ${this.lastRevision + 1}, got ${revision}`);
    }
    this.changes.push(changed.length === 1 ? changed[0]! : changed);
    this.tally(changed.length, 1);
  }

  private tally(count: number, sign: 1 | -1): void {
    this.changeTotal += sign * count;
    this.countBytes += sign * varintSize(count);
  }

  /** Calls `visit` for each key changed at `revision`, in write order, without allocating. */
  forEachAt(revision: number, visit: (h: History) => void): void {
    const entry = this.changes[revision - this.first];
    if (entry === undefined) return;
    if (isLone(entry)) visit(entry);
    else entry.forEach((h) => visit(h));
  }

  /** How many keys `revision` changed. */
  countAt(revision: number): number {
    const entry = this.changes[revision - this.first];
    if (entry === undefined) return 0;
    return isLone(entry) ? 1 : entry.length;
  }

  /** Whether `h` is the one key `revision` changed (an identity check: no history is read). */
  isOnlyChange(revision: number, h: History): boolean {
    return this.changes[revision - this.first] === h;
  }

  /** Keys changed at `revision`, in write order; [] outside the logged window. */
  at(revision: number): readonly History[] {
    const entry = this.changes[revision - this.first];
    if (entry === undefined) return [];
    return isLone(entry) ? [entry] : entry;
  }

  /** Replaces histories by their copies (KeyIndex.compactHistory) in the logged revisions from `from` on. */
  repoint(moved: ReadonlyMap<History, History>, from: number): void {
    if (moved.size === 0) return;
    for (let i = Math.max(0, from - this.first); i < this.changes.length; i++) {
      const entry = this.changes[i]!;
      if (isLone(entry)) {
        const now = moved.get(entry);
        if (now !== undefined) this.changes[i] = now;
        continue;
      }
      for (let k = 0; k < entry.length; k++) {
        const now = moved.get(entry[k]!);
        if (now !== undefined) entry[k] = now;
      }
    }
  }

  /**
   * Forgets revisions before `revision`. The compact revision's own changes
   * stay whole: compaction keeps their records, tombstones included
   * (KeyIndex.compactHistory), so every logged change still resolves.
   */
  compact(revision: number): void {
    if (revision <= this.first) return;
    const drop = Math.min(revision - this.first, this.changes.length);
    for (let r = this.first; r < this.first + drop; r++) this.tally(this.countAt(r), -1);
    this.changes.splice(0, drop);
    this.first += drop;
  }
}

/** A history starts with its key string; a list of histories starts with an array. */
function isLone(entry: History | History[]): entry is History {
  return typeof entry[0] === 'string';
}
