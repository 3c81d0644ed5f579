// The write-ahead log: a directory of segment files holding framed records
// (record.ts). Appends are group-committed: everything submitted while an
// fsync is in flight goes out in the next single write + fsync.
//
// Every segment starts with a metadata record followed by the newest
// snapshot marker and hard state at the time it was cut, so a segment plus
// the ones after it are enough to replay once older segments are deleted.
import { mkdir, open, readdir, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { removeTempFiles, syncDir, syncFileData, writeAll, writeAllSoon, writeFileAtomically, type SyncFile } from './durable-fs.js';
import { DataFormatError, WalCorruptionError } from './errors.js';
import { GroupCommit } from './group-commit.js';
import { LogCache, assertContiguous } from './log-cache.js';
import { defaultStorageLogger, type Logger } from './logger.js';
import { walFsyncHistogram } from './metrics.js';
import { readU64 } from './binary.js';
import { findValidRecordAfter, RECORD_HEADER_BYTES, RecordType, scanRecords, type ScannedRecord } from './record.js';
import { formatSegmentName, parseSegmentName, type SegmentName } from './segment-name.js';
import {
  decodeEntry,
  decodeHardState,
  decodeMetadata,
  decodeSnapshotMarker,
  entryRecord,
  hardStateRecord,
  metadataRecord,
  snapshotMarkerRecord,
  type SegmentMetadata,
  type SnapshotMarker,
} from './wal-codec.js';
import { WalReplay, replayedLog, type ReplayedLog } from './wal-replay.js';
import type { Entry, HardState } from '../raft/types.js';

/** Version of the segment and record layout, written in every metadata record. */
export const WAL_FORMAT_VERSION = 1;
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

export interface WalOptions {
  /** Identity written into the metadata records of a new WAL. */
  memberId: number;
  clusterId: number;
  /** A new segment is started once the current one reaches this size. */
  segmentBytes?: number;
  logger?: Logger;
  /** Registers `etcd_disk_wal_fsync_duration_seconds` here when given. */
  registry?: Registry;
  /** Called with the duration, in seconds, of every commit fsync. */
  onFsync?: (seconds: number) => void;
  /** How a file is flushed to disk; tests replace it to count or fail fsyncs. */
  syncFile?: SyncFile;
  /** Awaited before each group commit's write (test builds only: a deliberately broken member's late writes, node/failpoints.ts). */
  beforeWrite?: () => Promise<void>;
}

export interface OpenedWal {
  wal: Wal;
  /** The log as recovered from disk. */
  state: ReplayedLog;
}

export interface WalStats {
  /** Commit fsyncs (segment creation and recovery syncs are not counted). */
  fsyncs: number;
  /** Group commits: each is one write followed by one fsync. */
  batches: number;
  /** Calls to append() and markSnapshot() that were queued. */
  submissions: number;
  segments: number;
}

interface Segment extends SegmentName {
  file: string;
  bytes: number;
  /** Highest entry index written into this segment (0 if none). */
  maxIndex: number;
}

interface PendingWrite {
  records: Buffer[];
  /** False for a write Raft lets wait for a later fsync (a hard state whose commit index alone moved). */
  sync: boolean;
  lastEntryIndex?: number;
  hardState?: HardState;
  marker?: SnapshotMarker;
}

/** What the next segment head repeats: the state as of the last write. */
interface WrittenState {
  lastIndex: number;
  hardState: HardState;
  marker: SnapshotMarker;
}

export class Wal {
  private readonly group: GroupCommit<PendingWrite>;
  private readonly segmentBytes: number;
  private readonly syncFile: SyncFile;
  private readonly beforeWrite: (() => Promise<void>) | undefined;
  private readonly observeFsync: (seconds: number) => void;
  /** Upper bound on the last index once queued writes land; catches gaps early. */
  private queuedLastIndex: number;
  private snapshotIndexOnDisk: number;
  private fsyncCount = 0;
  private submissionCount = 0;
  private file: FileHandle | undefined;
  /**
   * Told where each entry record landed once it is written: the segment's
   * sequence number, the record's offset in it, and the entry's term and
   * index (DiskStorage reads cold payloads back from there).
   */
  onEntryWritten: ((segmentSeq: number, offset: number, term: number, index: number) => void) | undefined;

  private constructor(
    private readonly dir: string,
    readonly metadata: SegmentMetadata,
    private readonly segments: Segment[],
    file: FileHandle,
    private readonly written: WrittenState,
    private readonly logger: Logger,
    options: WalOptions,
  ) {
    this.file = file;
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.syncFile = options.syncFile ?? syncFileData;
    this.beforeWrite = options.beforeWrite;
    const histogram = options.registry === undefined ? undefined : walFsyncHistogram(options.registry);
    this.observeFsync = (seconds) => {
      histogram?.observe(seconds);
      options.onFsync?.(seconds);
    };
    this.queuedLastIndex = written.lastIndex;
    this.snapshotIndexOnDisk = written.marker.index;
    this.group = new GroupCommit((items) => this.commit(items));
  }

  /**
   * Opens the WAL in `dir`, creating it if empty, and replays it. A damaged
   * tail of the last segment (a write cut short by a crash) is truncated away
   * with a warning; damage anywhere else is a WalCorruptionError.
   */
  static async open(dir: string, options: WalOptions): Promise<OpenedWal> {
    const logger = options.logger ?? defaultStorageLogger();
    const sync = options.syncFile ?? syncFileData;
    await mkdir(dir, { recursive: true });
    const leftovers = await removeTempFiles(dir);
    if (leftovers.length > 0) logger.info({ dir, files: leftovers }, 'wal: removed files left by an interrupted segment creation');

    const ownMetadata = { formatVersion: WAL_FORMAT_VERSION, memberId: options.memberId, clusterId: options.clusterId };
    const names = await listSegments(dir);
    if (names.length === 0) return Wal.initialise(dir, ownMetadata, sync, logger, options);

    const { segments, metadata, replay } = await recoverSegments(dir, names, ownMetadata, sync, logger);
    let state: ReplayedLog;
    try {
      state = replay.finish();
    } catch (err) {
      throw new WalCorruptionError(dir, 0, (err as Error).message);
    }
    const current = segments[segments.length - 1]!;
    const handle = await open(join(dir, current.file), 'a');
    const written: WrittenState = { lastIndex: replay.lastIndex(), hardState: state.hardState, marker: state.snapshot };
    const wal = new Wal(dir, metadata, segments, handle, written, logger, options);
    logger.info({ dir, segments: segments.length, snapshotIndex: state.snapshot.index, lastIndex: written.lastIndex }, 'wal: opened');
    return { wal, state };
  }

  /** Starts a WAL in an empty directory with a first segment holding just the head. */
  private static async initialise(dir: string, metadata: SegmentMetadata, sync: SyncFile, logger: Logger, options: WalOptions): Promise<OpenedWal> {
    const empty: WrittenState = { lastIndex: 0, hardState: { term: 0, vote: 0, commit: 0 }, marker: { index: 0, term: 0 } };
    const first = { seq: 1, firstIndex: 1 };
    const file = formatSegmentName(first);
    const head = segmentHead(metadata, empty);
    await writeFileAtomically(dir, file, head, sync);
    const handle = await open(join(dir, file), 'a');
    const segment = { ...first, file, bytes: totalBytes(head), maxIndex: 0 };
    const wal = new Wal(dir, metadata, [segment], handle, { ...empty }, logger, options);
    logger.info({ dir, file }, 'wal: created');
    return { wal, state: replayedLog(empty.hardState, new LogCache(empty.marker)) };
  }

  /**
   * Appends entries (and optionally a hard state) and resolves once they are
   * on disk. An entry at or below an index already written replaces it and
   * everything after it. Calls are written in call order. With `sync`
   * false the records are written but the fsync is left to the next write
   * that needs one (the caller accepts losing them to a power failure); a
   * hard state alone with `sync` false resolves at once and is held back
   * until the next write (or close), as etcd's WAL keeps it in its write
   * buffer until the next sync: a newer hard state replaces it.
   */
  append(entries: readonly Entry[], hardState?: HardState, sync = true): Promise<void> {
    if (entries.length === 0 && hardState === undefined) return Promise.resolve();
    let write: PendingWrite;
    try {
      write = this.encodeAppend(entries, hardState, sync);
    } catch (err) {
      return Promise.reject(err);
    }
    if (write.lastEntryIndex !== undefined) this.queuedLastIndex = write.lastEntryIndex;
    if (!sync && entries.length === 0) {
      this.heldHardState = write;
      return Promise.resolve();
    }
    return this.submit(write);
  }

  /** A hard state written with the next write (see append). */
  private heldHardState: PendingWrite | undefined;

  /** Records that a snapshot at `marker` is durable; replay starts the log after it. */
  markSnapshot(marker: SnapshotMarker): Promise<void> {
    let record: Buffer;
    try {
      record = snapshotMarkerRecord(marker);
    } catch (err) {
      return Promise.reject(err);
    }
    this.queuedLastIndex = Math.max(this.queuedLastIndex, marker.index);
    return this.submit({ records: [record], sync: true, marker: { ...marker } });
  }

  /**
   * Deletes the oldest segments whose entries are all at or below `index`,
   * never the current one. `index` must not pass the newest durable snapshot
   * marker, or entries that nothing else holds would be lost.
   */
  async releaseTo(index: number): Promise<void> {
    if (index > this.snapshotIndexOnDisk) {
      throw new RangeError(`wal: cannot release entries up to ${index}; the newest durable snapshot is at ${this.snapshotIndexOnDisk}`);
    }
    let count = 0;
    while (count < this.segments.length - 1 && this.segments[count]!.maxIndex <= index) count += 1;
    // Oldest first, each deletion made durable before the next, so a crash
    // leaves a contiguous run of segments.
    for (const segment of this.segments.splice(0, count)) {
      await unlink(join(this.dir, segment.file));
      await syncDir(this.dir);
      this.logger.info({ file: segment.file, maxIndex: segment.maxIndex, releasedTo: index }, 'wal: released segment');
    }
  }

  /** Waits for queued writes, then closes the current segment. */
  async close(): Promise<void> {
    if (this.heldHardState) await this.submit({ records: [], sync: false }).catch(() => undefined);
    await this.group.close();
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  /** Index of the newest snapshot marker known to be on disk. */
  durableSnapshotIndex(): number {
    return this.snapshotIndexOnDisk;
  }

  segmentFiles(): string[] {
    return this.segments.map((s) => s.file);
  }

  stats(): WalStats {
    return { fsyncs: this.fsyncCount, batches: this.group.batches, submissions: this.submissionCount, segments: this.segments.length };
  }

  /** Checks and encodes an append; throws without side effects if it is invalid. */
  private encodeAppend(entries: readonly Entry[], hardState: HardState | undefined, sync: boolean): PendingWrite {
    const write: PendingWrite = { records: [], sync };
    if (entries.length > 0) {
      assertContiguous(entries);
      const first = entries[0]!.index;
      if (first > this.queuedLastIndex + 1) throw new RangeError(`wal: entry ${first} would leave a gap after index ${this.queuedLastIndex}`);
      for (const entry of entries) write.records.push(entryRecord(entry));
      write.lastEntryIndex = entries[entries.length - 1]!.index;
    }
    if (hardState !== undefined) {
      write.records.push(hardStateRecord(hardState));
      write.hardState = { ...hardState };
    }
    return write;
  }

  private submit(write: PendingWrite): Promise<void> {
    const held = this.heldHardState;
    this.heldHardState = undefined;
    if (held && write.hardState === undefined) {
      write.records.unshift(...held.records);
      write.hardState = held.hardState;
    }
    this.submissionCount += 1;
    return this.group.submit(write);
  }

  /** One group commit: cut a segment if due, one write, one fsync (unless no write in the batch needs one). */
  private async commit(batch: PendingWrite[]): Promise<void> {
    if (this.beforeWrite) await this.beforeWrite();
    if (this.currentSegment().bytes >= this.segmentBytes) await this.cutSegment();
    const data = Buffer.concat(batch.flatMap((w) => w.records));
    const file = this.openFile();
    const segment = this.currentSegment();
    const start = segment.bytes;
    await writeAllSoon(file, data);
    segment.bytes += data.length;
    if (this.onEntryWritten !== undefined) this.reportEntries(batch, segment.seq, start);
    for (const write of batch) this.noteWritten(write, segment);
    if (!batch.some((w) => w.sync)) {
      this.unsynced = true;
      return;
    }
    await this.syncCurrent(file);
    this.unsynced = false;
    this.snapshotIndexOnDisk = this.written.marker.index;
  }

  private reportEntries(batch: PendingWrite[], seq: number, start: number): void {
    const report = this.onEntryWritten!;
    let at = start;
    for (const write of batch) {
      for (const record of write.records) {
        if (record[8] === RecordType.Entry) report(seq, at, readU64(record, RECORD_HEADER_BYTES), readU64(record, RECORD_HEADER_BYTES + 8));
        at += record.length;
      }
    }
  }

  /** The file of segment `seq`, while the WAL still holds it. */
  segmentFile(seq: number): string | undefined {
    const segment = this.segments.find((s) => s.seq === seq);
    return segment === undefined ? undefined : join(this.dir, segment.file);
  }

  /** The current segment holds records written since its last fsync. */
  private unsynced = false;

  private noteWritten(write: PendingWrite, segment: Segment): void {
    if (write.lastEntryIndex !== undefined) {
      this.written.lastIndex = write.lastEntryIndex;
      segment.maxIndex = Math.max(segment.maxIndex, write.lastEntryIndex);
    }
    if (write.hardState !== undefined) this.written.hardState = write.hardState;
    if (write.marker !== undefined && write.marker.index > this.written.marker.index) {
      this.written.marker = write.marker;
      this.written.lastIndex = Math.max(this.written.lastIndex, write.marker.index);
    }
  }

  private async syncCurrent(file: FileHandle): Promise<void> {
    const started = process.hrtime.bigint();
    await this.syncFile(file);
    this.fsyncCount += 1;
    this.observeFsync(Number(process.hrtime.bigint() - started) / 1e9);
  }

  private async cutSegment(): Promise<void> {
    const previous = this.currentSegment();
    const name = { seq: previous.seq + 1, firstIndex: this.written.lastIndex + 1 };
    const file = formatSegmentName(name);
    const head = segmentHead(this.metadata, this.written);
    // The previous segment needs an fsync here only if its last commit
    // skipped one: no later fsync (of another file) would cover it, and a
    // damaged record there would no longer be at the log's tail.
    const old = this.file;
    if (old && this.unsynced) await this.syncCurrent(old);
    this.unsynced = false;
    this.file = undefined;
    await old?.close();
    await writeFileAtomically(this.dir, file, head, this.syncFile);
    this.file = await open(join(this.dir, file), 'a');
    this.segments.push({ ...name, file, bytes: totalBytes(head), maxIndex: 0 });
    this.logger.info({ file, previous: previous.file, previousBytes: previous.bytes }, 'wal: started a new segment');
  }

  private currentSegment(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  private openFile(): FileHandle {
    if (this.file === undefined) throw new Error('wal: no open segment');
    return this.file;
  }
}

interface NamedSegment extends SegmentName {
  file: string;
}

async function listSegments(dir: string): Promise<NamedSegment[]> {
  const segments: NamedSegment[] = [];
  for (const file of await readdir(dir)) {
    const name = parseSegmentName(file);
    if (name !== undefined) segments.push({ ...name, file });
  }
  segments.sort((a, b) => a.seq - b.seq);
  for (let k = 1; k < segments.length; k++) {
    if (segments[k]!.seq !== segments[k - 1]!.seq + 1) {
      throw new WalCorruptionError(join(dir, segments[k]!.file), 0, `segment sequence jumps from ${segments[k - 1]!.seq} to ${segments[k]!.seq}; a segment is missing`);
    }
  }
  return segments;
}

interface RecoveredSegments {
  segments: Segment[];
  metadata: SegmentMetadata;
  replay: WalReplay;
}

/** Verifies and replays every segment in order, repairing the tail of the last one. */
async function recoverSegments(dir: string, names: NamedSegment[], ownMetadata: SegmentMetadata, sync: SyncFile, logger: Logger): Promise<RecoveredSegments> {
  const replay = new WalReplay();
  const segments: Segment[] = [];
  let metadata: SegmentMetadata | undefined;
  for (const [k, name] of names.entries()) {
    const isLast = k === names.length - 1;
    const path = join(dir, name.file);
    let { records, validBytes } = await readSegment(path, isLast, sync, logger);
    if (records.length === 0 && isLast) {
      // The damage reached the segment's head; write a fresh one.
      const head = segmentHead(metadata ?? ownMetadata, { lastIndex: replay.lastIndex(), hardState: replay.currentHardState(), marker: replay.currentSnapshot() });
      await appendDurably(path, head, sync);
      logger.warn({ file: path }, 'wal: rewrote the head of the last segment');
      records = scanRecords(Buffer.concat(head)).records;
      validBytes = totalBytes(head);
    }
    const segmentMetadata = checkHead(path, records, metadata);
    metadata ??= segmentMetadata;
    const maxIndex = replaySegment(path, name.seq, records, replay);
    segments.push({ ...name, maxIndex, bytes: validBytes });
  }
  return { segments, metadata: metadata!, replay };
}

/** Reads and verifies a segment; a damaged tail is cut off only in the last one. */
async function readSegment(path: string, isLast: boolean, sync: SyncFile, logger: Logger): Promise<{ records: ScannedRecord[]; validBytes: number }> {
  const data = await readFile(path);
  const scan = scanRecords(data);
  if (scan.damage === undefined) return scan;
  if (!isLast) throw new WalCorruptionError(path, scan.damage.offset, scan.damage.reason);
  const validAfter = findValidRecordAfter(data, scan.damage.offset);
  if (validAfter !== undefined) {
    throw new WalCorruptionError(
      path,
      scan.damage.offset,
      `${scan.damage.reason}, yet a valid record follows at offset ${validAfter}: the log was damaged in place (not a torn write), so nothing is truncated`,
    );
  }
  logger.warn(
    { file: path, offset: scan.damage.offset, reason: scan.damage.reason, droppedBytes: data.length - scan.validBytes },
    'wal: torn tail in the last segment (nothing valid after it); truncating after the last good record',
  );
  const file = await open(path, 'r+');
  try {
    await file.truncate(scan.validBytes);
    await sync(file);
  } finally {
    await file.close();
  }
  return scan;
}

function checkHead(path: string, records: ScannedRecord[], expected: SegmentMetadata | undefined): SegmentMetadata {
  const head = records[0];
  if (head === undefined || head.type !== RecordType.Metadata) {
    throw new WalCorruptionError(path, 0, 'segment does not start with a metadata record');
  }
  const metadata = decodeMetadata(head.payload);
  if (metadata.formatVersion > WAL_FORMAT_VERSION) {
    throw new DataFormatError(`wal: ${path} uses WAL format ${metadata.formatVersion}, newer than the ${WAL_FORMAT_VERSION} this release reads`);
  }
  if (expected !== undefined && (metadata.memberId !== expected.memberId || metadata.clusterId !== expected.clusterId)) {
    throw new WalCorruptionError(
      path,
      0,
      `segment belongs to member ${metadata.memberId} of cluster ${metadata.clusterId}, the rest of the WAL to member ${expected.memberId} of cluster ${expected.clusterId}`,
    );
  }
  return metadata;
}

/** Feeds a segment's records (after its metadata) to the replay; returns its highest entry index. */
function replaySegment(path: string, segmentSeq: number, records: ScannedRecord[], replay: WalReplay): number {
  let maxIndex = 0;
  for (const record of records.slice(1)) {
    try {
      switch (record.type) {
        case RecordType.Entry: {
          const entry = decodeEntry(record.payload);
          replay.onEntry(entry, { file: path, segmentSeq, offset: record.offset });
          maxIndex = Math.max(maxIndex, entry.index);
          break;
        }
        case RecordType.HardState:
          replay.onHardState(decodeHardState(record.payload));
          break;
        case RecordType.SnapshotMarker:
          replay.onSnapshotMarker(decodeSnapshotMarker(record.payload));
          break;
        case RecordType.Metadata:
          throw new Error('metadata record in the middle of a segment');
      }
    } catch (err) {
      if (err instanceof WalCorruptionError) throw err;
      throw new WalCorruptionError(path, record.offset, (err as Error).message);
    }
  }
  return maxIndex;
}

function segmentHead(metadata: SegmentMetadata, state: WrittenState): Buffer[] {
  return [metadataRecord(metadata), snapshotMarkerRecord(state.marker), hardStateRecord(state.hardState)];
}

async function appendDurably(path: string, chunks: Buffer[], sync: SyncFile): Promise<void> {
  const file = await open(path, 'a');
  try {
    for (const chunk of chunks) await writeAll(file, chunk);
    await sync(file);
  } finally {
    await file.close();
  }
}

function totalBytes(chunks: Buffer[]): number {
  return chunks.reduce((sum, c) => sum + c.length, 0);
}
