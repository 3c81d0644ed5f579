// The restore init container's contract with the operator: its exit codes
// say why a member could not be built from a backup, so the operator can name
// the cause without reading logs.

export const RESTORE_EXIT_CODES = {
  /** The snapshot object (or the bucket) does not exist. */
  objectNotFound: 80,
  /** The object's SHA-256 or its envelope checksum does not match: it is corrupt. */
  checksumMismatch: 81,
  /** The object store refused the credentials. */
  credentials: 82,
  /** The object store could not be reached. */
  unreachable: 83,
} as const;

/** What each exit code means, in words for a condition message. */
export const RESTORE_EXIT_REASONS: Record<number, { reason: string; text: string }> = {
  [RESTORE_EXIT_CODES.objectNotFound]: { reason: 'BackupNotFound', text: 'the object does not exist' },
  [RESTORE_EXIT_CODES.checksumMismatch]: { reason: 'BackupCorrupt', text: 'the object is corrupt (checksum mismatch)' },
  [RESTORE_EXIT_CODES.credentials]: { reason: 'InvalidCredentials', text: 'the object store refused the credentials' },
  [RESTORE_EXIT_CODES.unreachable]: { reason: 'Unreachable', text: 'the object store could not be reached' },
};

/** Written into the data dir after a restore: a pod restarted later does not restore again. */
export const RESTORE_MARKER_FILE = '.kvorum-restore-id';
/** The name of the init container that restores members from a backup. */
export const RESTORE_INIT_CONTAINER = 'restore';
