// Rebuilds the log from WAL records in write order: last write wins for an
// index (and drops what followed it), a snapshot marker moves the log's
// start, the newest hard state counts.
import { WalCorruptionError } from './errors.js';
import { LogCache } from './log-cache.js';
import type { SnapshotMarker } from './wal-codec.js';
import type { Entry, HardState } from '../raft/types.js';

export interface ReplayedLog {
  hardState: HardState;
  snapshot: SnapshotMarker;
  /** The entries after the snapshot, contiguous, as the log that holds them (see log-cache.ts). */
  log: LogCache;
  /** The same entries as objects, made when read. */
  readonly entries: Entry[];
}

/** A ReplayedLog over `log`. */
export function replayedLog(hardState: HardState, log: LogCache): ReplayedLog {
  return {
    hardState,
    snapshot: log.base,
    log,
    get entries(): Entry[] {
      return log.entries(log.firstIndex(), log.lastIndex() + 1);
    },
  };
}

/** Where a record came from: for error messages, and for reading an entry's payload back later (log-cache.ts). */
export interface RecordLocation {
  file: string;
  segmentSeq: number;
  offset: number;
}

export class WalReplay {
  private log = new LogCache();
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private sawEntry = false;
  /**
   * Once old segments are deleted, the first surviving entry may start after
   * a gap that a snapshot marker later in the WAL covers. Until that marker
   * is seen, the base just before the first entry is assumed, not known.
   */
  private baseAssumed = false;

  onHardState(hs: HardState): void {
    this.hardState = hs;
  }

  onSnapshotMarker(marker: SnapshotMarker): void {
    if (this.baseAssumed && marker.index >= this.log.base.index) {
      this.baseAssumed = false;
      if (marker.index === this.log.base.index) {
        this.log.baseTermKnown(marker.term);
        return;
      }
    }
    this.log.applySnapshot(marker);
  }

  onEntry(entry: Entry, where: RecordLocation): void {
    if (!this.sawEntry && entry.index > this.log.lastIndex() + 1) {
      this.log = new LogCache({ index: entry.index - 1, term: 0 });
      this.baseAssumed = true;
    }
    this.sawEntry = true;
    if (entry.index > this.log.lastIndex() + 1) {
      throw new WalCorruptionError(where.file, where.offset, `entry ${entry.index} leaves a gap after index ${this.log.lastIndex()}`);
    }
    this.log.append([entry]);
    this.log.place(entry.term, entry.index, where.segmentSeq, where.offset);
  }

  /** Index of the last entry replayed so far (or the base if there are none). */
  lastIndex(): number {
    return this.log.lastIndex();
  }

  currentHardState(): HardState {
    return this.hardState;
  }

  currentSnapshot(): SnapshotMarker {
    return this.log.base;
  }

  finish(): ReplayedLog {
    if (this.baseAssumed) {
      throw new Error(`wal: the oldest segment starts at entry ${this.log.firstIndex()} but no snapshot marker covers index ${this.log.base.index}; segments are missing`);
    }
    return replayedLog(this.hardState, this.log);
  }
}
