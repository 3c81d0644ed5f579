// Samples that let a paginated walk count each page without a full scan.
//
// etcd's Range reports `count`, every live key in the range at the read
// revision, even when `limit` returns one page. A paginated walk
// (kube-apiserver's LIST with `limit` and `continue`) reads [k, end) at one
// pinned revision again and again with k moving forward; counting each page
// from scratch costs O(keys left), so O(n²/limit) for the whole walk. A read
// at a fixed revision never changes until a compaction or a restore, so the
// first full scan of [start, end) at revision r keeps every STRIDE-th live
// key, and a later page [k, end) at r (k >= start) is counted from them plus
// at most STRIDE keys of scanning.

import type { ByteString, KeyRange } from './keys.js';

/** One sample per this many live keys. */
export const STRIDE = 64;

/** Ranges smaller than this are counted by scanning; sampling them gains little. */
export const MIN_SAMPLED_KEYS = 1024;

export interface RangeSamples {
  readonly start: ByteString;
  /** null: every key from `start` up. */
  readonly end: ByteString | null;
  readonly revision: number;
  /** keys[i] is the (i·STRIDE)-th live key of [start, end) at `revision`, in key order. */
  readonly keys: readonly ByteString[];
  /** Live keys in [start, end) at `revision`. */
  readonly total: number;
}

export class RangeCounts {
  /** Most recently used last. */
  private readonly entries = new Map<string, RangeSamples>();

  constructor(private readonly capacity = 16) {}

  get size(): number {
    return this.entries.size;
  }

  /** Samples that cover a read of `range` at `revision`: same end and revision, starting at or before it. */
  find(range: KeyRange, revision: number): RangeSamples | undefined {
    if (range.single || (range.end !== null && range.start >= range.end)) return undefined;
    const id = entryId(range.end, revision);
    const s = this.entries.get(id);
    if (s === undefined || s.start > range.start) return undefined;
    this.entries.delete(id);
    this.entries.set(id, s);
    return s;
  }

  remember(samples: RangeSamples): void {
    const id = entryId(samples.end, samples.revision);
    this.entries.delete(id);
    this.entries.set(id, samples);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** Forgets everything: a compaction or restore rewrote the histories the samples describe. */
  clear(): void {
    this.entries.clear();
  }
}

function entryId(end: ByteString | null, revision: number): string {
  // The revision is digits, so the first ':' ends it; '*' and '=' tell "no end" from any end.
  return end === null ? `${revision}:*` : `${revision}:=${end}`;
}

/** How many samples are smaller than `key`. */
export function samplesBefore(s: RangeSamples, key: ByteString): number {
  let lo = 0;
  let hi = s.keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s.keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
