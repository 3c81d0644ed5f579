// When and how a member snapshots its own state: after --snapshot-count
// entries (and enough bytes, see due()), or at once when asked (Defragment).
// The state is captured at the applied index during the call and encoded and
// saved in the background while the Raft loop keeps running; one snapshot at
// a time. After a save the log is compacted, keeping some entries for
// followers that lag a little.
import type { Logger } from 'pino';
import type { ConfState, Snapshot } from '../raft/types.js';
import type { LogStorage } from '../raft/storage.js';

/** The storage side a snapshot is saved to. */
export interface SnapshotStorage extends LogStorage {
  /** Saves a snapshot of this member's applied state, streamed in chunks; resolves to its size. */
  saveOwnSnapshot(meta: Snapshot['meta'], chunks: AsyncIterable<Uint8Array>): Promise<number>;
  compact(index: number): Promise<void>;
}

/** Where the member is when a snapshot is taken. */
export interface SnapshotPoint {
  index: number;
  term: number;
  conf: ConfState;
}

export interface SnapshotterOptions {
  storage: SnapshotStorage;
  /** Captures the application state now; its bytes may come later. */
  capture: () => AsyncIterable<Uint8Array>;
  logger: Logger;
  snapshotCount: number;
  /** Entries kept after a snapshot so slightly lagging followers need no snapshot. */
  catchUpEntries: number;
  isStopped: () => boolean;
  /** Storage failed while saving: the member must stop. */
  onFatal: (err: unknown, message: string) => void;
}

/** A snapshot this member saved. */
export interface SavedSnapshot {
  index: number;
  bytes: number;
}

/** The application failed to produce its snapshot's bytes (as opposed to storage failing to keep them). */
export class SnapshotEncodingError extends Error {
  constructor(cause: unknown) {
    super(`encoding the snapshot failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export class Snapshotter {
  /** Index of the newest snapshot (own or installed from the leader). */
  private newest: number;
  /** Entry bytes applied since the last local snapshot started. */
  private bytesSince = 0;
  /** Size of the last local snapshot (0 before the first). */
  private lastBytes = 0;
  private inFlight: Promise<SavedSnapshot | undefined> | undefined;

  constructor(private readonly opts: SnapshotterOptions) {
    this.newest = opts.storage.snapshot().meta.index;
  }

  get snapshotIndex(): number {
    return this.newest;
  }

  countApplied(bytes: number): void {
    this.bytesSince += bytes;
  }

  /** A snapshot from the leader replaced the state. */
  installed(index: number): void {
    this.newest = index;
  }

  /**
   * A snapshot is due after --snapshot-count entries, and once the entries
   * applied since the last one add up to a quarter of its size: a snapshot
   * holds the whole state, so without the second rule a large store would
   * rewrite it every few thousand writes and the disk would stall the WAL's
   * fsyncs (the cost stays within ~4x the log bytes either way).
   */
  private due(applied: number): boolean {
    if (applied - this.newest < this.opts.snapshotCount) return false;
    return this.bytesSince * 4 >= this.lastBytes;
  }

  /** Starts a snapshot in the background if one is due; `at` says where the member is. */
  maybeSnapshot(at: () => SnapshotPoint | undefined): void {
    if (this.inFlight) return;
    const point = at();
    if (!point || !this.due(point.index)) return;
    this.start(point).catch(() => undefined);
  }

  /**
   * Takes a snapshot at `at()` now, whatever the counters say, after any
   * snapshot in flight; resolves once it is saved and the log compacted
   * (undefined when nothing was applied since the newest snapshot).
   */
  async snapshotNow(at: () => SnapshotPoint | undefined): Promise<SavedSnapshot | undefined> {
    while (this.inFlight) await this.inFlight.catch(() => undefined);
    const point = at();
    if (!point || point.index <= this.newest) return undefined;
    return this.start(point);
  }

  private start(at: SnapshotPoint): Promise<SavedSnapshot | undefined> {
    this.bytesSince = 0;
    let data: AsyncIterable<Uint8Array>;
    try {
      data = this.opts.capture();
    } catch (err) {
      this.opts.logger.warn({ err, index: at.index }, 'capturing a snapshot failed; will retry');
      return Promise.reject(new SnapshotEncodingError(err));
    }
    const saving = this.save(at, data).finally(() => {
      this.inFlight = undefined;
    });
    this.inFlight = saving;
    return saving;
  }

  private async save(at: SnapshotPoint, data: AsyncIterable<Uint8Array>): Promise<SavedSnapshot | undefined> {
    const started = performance.now();
    const { storage, logger } = this.opts;
    // A snapshot installed from the leader meanwhile supersedes this one.
    if (this.opts.isStopped() || at.index <= this.newest) return undefined;
    let bytes: number;
    try {
      bytes = await storage.saveOwnSnapshot(at, encodingFailures(data));
      this.lastBytes = bytes;
      this.newest = Math.max(this.newest, at.index);
      const keep = this.opts.catchUpEntries;
      if (at.index > keep) await storage.compact(Math.min(at.index - keep, storage.snapshot().meta.index));
    } catch (err) {
      if (this.opts.isStopped()) return undefined;
      if (err instanceof SnapshotEncodingError) {
        // e.g. a compaction rewrote the state under the encoder: the next turn tries again.
        logger.warn({ err: err.cause, index: at.index }, 'encoding a snapshot failed; will retry');
        throw err;
      }
      this.opts.onFatal(err, 'saving a snapshot failed; the member stops serving');
      throw err;
    }
    logger.info({ index: at.index, term: at.term, bytes, tookMs: Math.round(performance.now() - started) }, 'saved snapshot and compacted the log');
    return { index: at.index, bytes };
  }
}

async function* encodingFailures(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of chunks) yield chunk;
  } catch (err) {
    throw new SnapshotEncodingError(err);
  }
}
