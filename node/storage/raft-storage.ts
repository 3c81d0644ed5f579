// DiskStorage: what the server gives the Raft core. It keeps the retained log
// in memory for the core's random reads and makes every change durable
// through the WAL and snapshot files before the returned promise resolves.
//
// Data dir layout:
//   meta.json   data-format version (data-format.ts)
//   wal/        WAL segments (wal.ts)
//   snap/       snapshot files (snapshot-file.ts)
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { checkDataDir } from './data-format.js';
import type { SyncFile } from './durable-fs.js';
import { SnapshotCorruptionError } from './errors.js';
import type { LogCache } from './log-cache.js';
import { defaultStorageLogger, type Logger } from './logger.js';
import { DEFAULT_SNAPSHOTS_TO_KEEP, SnapshotStore, inSlices } from './snapshot-file.js';
import { Wal, type WalStats } from './wal.js';
import { entryDataFromRecord, entryRecordBytes } from './wal-codec.js';
import type { LogStorage } from '../raft/storage.js';
import type { ConfState, Entry, HardState, Snapshot } from '../raft/types.js';

export interface DiskStorageOptions {
  /** Written into a new data dir; an existing one keeps its own (see `identity`). */
  memberId: number;
  clusterId: number;
  /** WAL segment size before a new one is started (default 64 MiB). */
  segmentBytes?: number;
  /** Snapshot files kept on disk (default 5). */
  snapshotsToKeep?: number;
  logger?: Logger;
  /** Registers `etcd_disk_wal_fsync_duration_seconds` here when given. */
  registry?: Registry;
  onFsync?: (seconds: number) => void;
  syncFile?: SyncFile;
  /** The WAL's fsync, when it should differ from syncFile (snapshots keep syncFile). */
  walSyncFile?: SyncFile;
  /** See WalOptions.beforeWrite (test builds only). */
  beforeWrite?: () => Promise<void>;
  /**
   * Payload bytes of the retained log kept in memory before committed
   * entries' payloads are left to the WAL and read back from it when asked
   * for (default 16 MiB: a few seconds of writes at full speed, so followers
   * and apply keep reading from memory).
   */
  logMemoryBytes?: number;
}

const DEFAULT_LOG_MEMORY_BYTES = 16 * 1024 * 1024;

export interface RetainedLog {
  entries: number;
  bytes: number;
}

export interface StorageIdentity {
  memberId: number;
  clusterId: number;
}

/** A WAL write that has taken its place in the WAL's order. */
interface Queued {
  durable: Promise<void>;
}

export class DiskStorage implements LogStorage {
  /** Work that must reach the WAL before anything submitted later. */
  private orderedTail: Promise<unknown> = Promise.resolve();
  private orderedPending = 0;
  /** Open segment files that spilled payloads are read from, by segment sequence number. */
  private readonly coldFiles = new Map<number, number>();

  private constructor(
    private readonly wal: Wal,
    private readonly snapshots: SnapshotStore,
    private readonly log: LogCache,
    private hardState: HardState,
    private snap: Snapshot,
    /** True when open() initialised an empty data dir: the caller bootstraps it. */
    readonly created: boolean,
    private readonly logMemoryBytes: number,
  ) {
    wal.onEntryWritten = (seq, offset, term, index) => log.place(term, index, seq, offset);
    log.readColdFrom((seq, offset, term, index, length) => this.readCold(seq, offset, term, index, length));
  }

  /** Opens (or initialises) the data dir and recovers the log from it. */
  static async open(dir: string, options: DiskStorageOptions): Promise<DiskStorage> {
    const logger = options.logger ?? defaultStorageLogger();
    const { created } = await checkDataDir(dir);
    const snapshots = await SnapshotStore.open(join(dir, 'snap'), {
      keep: options.snapshotsToKeep ?? DEFAULT_SNAPSHOTS_TO_KEEP,
      logger,
      ...(options.syncFile && { syncFile: options.syncFile }),
    });
    const { wal, state } = await Wal.open(join(dir, 'wal'), { ...options, ...(options.walSyncFile && { syncFile: options.walSyncFile }), logger });
    try {
      const snap = await loadSnapshotAt(snapshots, state.snapshot.index, state.snapshot.term);
      // A snapshot newer than the WAL's marker was written just before a
      // crash and never took effect.
      const orphans = await snapshots.removeNewerThan(state.snapshot.index);
      if (orphans.length > 0) logger.info({ files: orphans }, 'storage: removed snapshot files the WAL never recorded');
      const kept = snap.meta.index === 0 ? snap : fileBacked(snapshots, snap.meta, snap.data);
      return new DiskStorage(wal, snapshots, state.log, state.hardState, kept, created, options.logMemoryBytes ?? DEFAULT_LOG_MEMORY_BYTES);
    } catch (err) {
      await wal.close();
      throw err;
    }
  }

  get identity(): StorageIdentity {
    return { memberId: this.wal.metadata.memberId, clusterId: this.wal.metadata.clusterId };
  }

  initialState(): { hardState: HardState; conf: ConfState } {
    const { voters, learners } = this.snap.meta.conf;
    // A snapshot's index is committed even if the WAL's last commit record is older.
    const commit = Math.max(this.hardState.commit, this.snap.meta.index);
    return { hardState: { ...this.hardState, commit }, conf: { voters: [...voters], learners: [...learners] } };
  }

  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    return this.log.entries(lo, hi, maxBytes);
  }

  term(i: number): number {
    return this.log.term(i);
  }

  firstIndex(): number {
    return this.log.firstIndex();
  }

  lastIndex(): number {
    return this.log.lastIndex();
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /**
   * Appends entries (replacing any conflicting suffix) and records the hard
   * state. Reads see the change at once; the promise resolves when it is on
   * disk. Calls reach the WAL in call order, snapshots included.
   *
   * As in etcd (raft.MustSync), a write that carries no entries and leaves
   * term and vote as they were (the commit index alone moved) is written
   * without an fsync: Raft keeps the commit index as volatile state, a
   * restart that finds an older one re-learns it from the log and the
   * leader, and the next write with entries makes it durable anyway.
   */
  save(hardState: HardState | undefined, entries: readonly Entry[]): Promise<void> {
    if (this.orderedPending === 0) return this.queueSave(hardState, entries).durable;
    return this.afterEarlierWork(async () => this.queueSave(hardState, entries));
  }

  /**
   * Makes a snapshot durable: the file first, then its marker in the WAL, so
   * a crash in between leaves the WAL authoritative. If the log holds the
   * snapshot's last entry nothing is dropped from memory until compact();
   * otherwise (a snapshot installed from the leader) the log restarts after
   * it. Snapshots not newer than the current one are ignored. After a
   * restart the log starts right after the snapshot.
   */
  saveSnapshot(snapshot: Snapshot): Promise<void> {
    const { index, term } = snapshot.meta;
    if (index > this.snap.meta.index && this.log.termAt(index) === term) {
      return this.saveOwnSnapshot(snapshot.meta, inSlices(snapshot.data)).then(() => undefined);
    }
    return this.afterEarlierWork(async () => {
      if (index <= this.snap.meta.index) return { durable: Promise.resolve() };
      await this.snapshots.save(snapshot);
      return this.recordSnapshot(snapshot.meta);
    });
  }

  /**
   * Saves a snapshot of this member's own state at an entry its log holds,
   * its data arriving in chunks as it is encoded. The log is unaffected, so
   * the file (seconds for a large store) is written alongside the WAL's
   * appends, and only its marker takes its place in their order. Returns the
   * data's size.
   */
  async saveOwnSnapshot(meta: Snapshot['meta'], chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<number> {
    if (this.log.termAt(meta.index) !== meta.term) {
      throw new RangeError(`storage: no entry ${meta.index} of term ${meta.term} in the log for a snapshot of our own state`);
    }
    const { dataBytes } = await this.snapshots.saveStream(meta, chunks);
    await this.afterEarlierWork(async () => this.recordSnapshot(meta));
    return dataBytes;
  }

  /** Marks a snapshot file already durable as the newest snapshot. */
  private recordSnapshot(meta: Snapshot['meta']): Queued {
    if (meta.index <= this.snap.meta.index) return { durable: Promise.resolve() };
    const durable = this.wal.markSnapshot({ index: meta.index, term: meta.term }).then(async () => {
      await this.snapshots.purge();
    });
    // Our own snapshot leaves the log alone until compact(); a leader's
    // snapshot that the log does not match replaces the log.
    if (this.log.termAt(meta.index) !== meta.term) this.log.applySnapshot(meta);
    this.snap = fileBacked(this.snapshots, meta);
    return { durable };
  }

  /**
   * Drops entries up to `index` from memory and deletes WAL segments that
   * only hold entries at or below it and a durable snapshot covers. `index`
   * may lag the snapshot (to keep entries for slow followers) but not pass it.
   */
  async compact(index: number): Promise<void> {
    if (index > this.snap.meta.index) {
      throw new RangeError(`storage: cannot compact to ${index}, past the snapshot at ${this.snap.meta.index}`);
    }
    this.log.compact(index);
    await this.wal.releaseTo(Math.min(index, this.wal.durableSnapshotIndex()));
    for (const [seq, fd] of this.coldFiles) {
      if (this.wal.segmentFile(seq) !== undefined) continue;
      this.coldFiles.delete(seq);
      closeSync(fd);
    }
  }

  /**
   * Entries up to `index` are applied: past the memory budget, their
   * payloads may be left to the WAL. Entries above it stay, since applying
   * reads them next (a member that restarts applies its whole replayed log).
   */
  appliedTo(index: number): void {
    if (this.log.heldBytes > this.logMemoryBytes) this.log.spill(index);
  }

  /** A spilled entry's payload, read back from its WAL record (a follower far behind asked for it). */
  private readCold(seq: number, offset: number, term: number, index: number, length: number): Uint8Array {
    let fd = this.coldFiles.get(seq);
    if (fd === undefined) {
      const file = this.wal.segmentFile(seq);
      if (file === undefined) throw new RangeError(`storage: entry ${index} lies in WAL segment ${seq}, which is gone`);
      fd = openSync(file, 'r');
      this.coldFiles.set(seq, fd);
    }
    const record = Buffer.allocUnsafe(entryRecordBytes(length));
    const read = readSync(fd, record, 0, record.length, offset);
    if (read !== record.length) throw new RangeError(`storage: entry ${index}'s WAL record ends early (${read} of ${record.length} bytes at ${offset} of segment ${seq})`);
    return entryDataFromRecord(record, term, index);
  }

  /** Waits for queued writes and closes the WAL. */
  async close(): Promise<void> {
    await this.orderedTail;
    for (const fd of this.coldFiles.values()) closeSync(fd);
    this.coldFiles.clear();
    await this.wal.close();
  }

  /** What the retained log holds in memory: its entries and the payload chunks they lie in. */
  retainedLog(): RetainedLog {
    return { entries: this.log.entryCount, bytes: this.log.heldBytes };
  }

  walStats(): WalStats {
    return this.wal.stats();
  }

  walSegments(): string[] {
    return this.wal.segmentFiles();
  }

  private queueSave(hardState: HardState | undefined, entries: readonly Entry[]): Queued {
    const base = this.log.base.index;
    const fresh = entries.length > 0 && entries[0]!.index <= base ? entries.filter((e) => e.index > base) : entries;
    try {
      this.log.assertAppendable(fresh);
    } catch (err) {
      return { durable: Promise.reject(err) };
    }
    const sync = fresh.length > 0 || (hardState !== undefined && (hardState.term !== this.hardState.term || hardState.vote !== this.hardState.vote));
    const durable = this.wal.append(fresh, hardState, sync);
    this.log.append(fresh);
    if (hardState !== undefined) this.hardState = { ...hardState };
    return { durable };
  }

  /** Runs `step` once all earlier ordered work has queued its WAL writes. */
  private afterEarlierWork(step: () => Promise<Queued>): Promise<void> {
    this.orderedPending += 1;
    const queued = this.orderedTail.then(step).finally(() => {
      this.orderedPending -= 1;
    });
    this.orderedTail = queued.catch(() => undefined);
    return queued.then((q) => q.durable);
  }
}

/**
 * A snapshot whose data stays in its file: a whole-state snapshot is as big
 * as the store, and holding it in memory between the rare reads (a follower
 * that needs it, the restore at start) would nearly double a member's memory.
 * `first` (the data just loaded at open) serves the first read only.
 */
function fileBacked(store: SnapshotStore, meta: Snapshot['meta'], first?: Uint8Array): Snapshot {
  let pending = first;
  return {
    meta,
    get data(): Uint8Array {
      const data = pending ?? store.loadSync(meta.index, meta.term).data;
      pending = undefined;
      return data;
    },
  };
}

async function loadSnapshotAt(snapshots: SnapshotStore, index: number, term: number): Promise<Snapshot> {
  if (index === 0) return { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: new Uint8Array() };
  try {
    return await snapshots.load(index, term);
  } catch (err) {
    if (!(err instanceof SnapshotCorruptionError)) throw err;
    throw new SnapshotCorruptionError(err.file, `the WAL starts after this snapshot (index ${index}, term ${term}), but the file is unusable: ${err.reason}`);
  }
}
