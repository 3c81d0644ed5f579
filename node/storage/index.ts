// The storage layer's public surface.
export { DiskStorage, type DiskStorageOptions, type StorageIdentity } from './raft-storage.js';
export { Wal, WAL_FORMAT_VERSION, DEFAULT_SEGMENT_BYTES, type WalOptions, type OpenedWal, type WalStats } from './wal.js';
export type { ReplayedLog } from './wal-replay.js';
export type { SegmentMetadata, SnapshotMarker } from './wal-codec.js';
export {
  SnapshotStore,
  SNAPSHOT_FORMAT_VERSION,
  DEFAULT_SNAPSHOTS_TO_KEEP,
  type SnapshotStoreOptions,
  type SnapshotFileInfo,
  type LoadedSnapshot,
  type SkippedSnapshot,
} from './snapshot-file.js';
export { checkDataDir, DATA_FORMAT_VERSION, DATA_FORMAT_FILE, type DataFormat, type CheckedDataDir } from './data-format.js';
export { LogCache, type LogPosition } from './log-cache.js';
export { WAL_FSYNC_METRIC } from './metrics.js';
export type { SyncFile } from './durable-fs.js';
export { WalCorruptionError, SnapshotCorruptionError, DataFormatError, WalUnavailableError } from './errors.js';
