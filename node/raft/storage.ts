// What the Raft core reads from durable storage. The application persists
// every Ready's entries, hard state and snapshot into an implementation of
// this interface before calling advance(); the core only ever reads from it.
import type { ConfState, Entry, HardState, Snapshot } from './types.js';

/** Thrown when asking for a log position already folded into a snapshot. */
export class CompactedError extends Error {
  constructor(index: number, firstIndex: number) {
    super(`raft: log index ${index} is compacted (first available index is ${firstIndex})`);
    this.name = 'CompactedError';
  }
}

/** Thrown when asking for a log position not yet written. */
export class UnavailableError extends Error {
  constructor(index: number, lastIndex: number) {
    super(`raft: log index ${index} is unavailable (last index is ${lastIndex})`);
    this.name = 'UnavailableError';
  }
}

export interface LogStorage {
  /** The hard state and membership saved so far (used when a member restarts). */
  initialState(): { hardState: HardState; conf: ConfState };
  /**
   * Entries in [lo, hi), cut after about maxBytes of payload (always at least
   * one entry). Throws CompactedError or UnavailableError.
   */
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  /** Term of entry i; valid for firstIndex()-1 (the snapshot's index) through lastIndex(). */
  term(i: number): number;
  /** Index of the first entry still held (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  /** The newest snapshot, sent to followers whose next entry was compacted away. */
  snapshot(): Snapshot;
}

/**
 * entries[from, to) cut so that `used` plus their payload stays within
 * maxBytes; the first entry is always taken when nothing was taken before
 * (used 0), so a single large entry still makes progress.
 */
export function entriesWithin(entries: readonly Entry[], from: number, to: number, maxBytes = Infinity, used = 0): Entry[] {
  if (maxBytes === Infinity) return entries.slice(from, to);
  let end = from;
  for (; end < to; end++) {
    const size = used + entries[end]!.data.length;
    if (size > maxBytes && (end > from || used > 0)) break;
    used = size;
  }
  return entries.slice(from, end);
}

/** Payload bytes of some entries. */
export function payloadBytes(entries: readonly Entry[]): number {
  let n = 0;
  for (const e of entries) n += e.data.length;
  return n;
}
