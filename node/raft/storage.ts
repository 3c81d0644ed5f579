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
  /** Entries in [lo, hi). Throws CompactedError or UnavailableError. */
  entries(lo: number, hi: number): Entry[];
  /** Term of entry i; valid for firstIndex()-1 (the snapshot's index) through lastIndex(). */
  term(i: number): number;
  /** Index of the first entry still held (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  /** The newest snapshot, sent to followers whose next entry was compacted away. */
  snapshot(): Snapshot;
}
