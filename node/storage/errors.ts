// Errors the storage layer raises on purpose, so callers (and operators
// reading logs) can tell damaged data from programming mistakes.

/** A WAL record that cannot be trusted, somewhere recovery must not guess. */
export class WalCorruptionError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`wal: corrupt record in ${file} at offset ${offset}: ${reason}`);
    this.name = 'WalCorruptionError';
  }
}

/** A snapshot file whose header or checksum does not hold up. */
export class SnapshotCorruptionError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`snapshot: ${file} is unusable: ${reason}`);
    this.name = 'SnapshotCorruptionError';
  }
}

/** The data directory was written in a format this release cannot read. */
export class DataFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataFormatError';
  }
}

/** The WAL refused work: it was closed, or an earlier write or fsync failed. */
export class WalUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WalUnavailableError';
  }
}
