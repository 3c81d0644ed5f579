// The backup file `kvorum snapshot save` writes and `snapshot restore` reads:
// one member's whole state (a state snapshot, node/server/state-snapshot.ts)
// in a small self-checking envelope. The same envelope is what the
// Maintenance Snapshot stream carries, so a saved stream is a valid file as
// it is.
//
// Layout (integers big-endian):
//
//   offset  size  field
//        0    10  magic, the ASCII bytes "KVORUMSNAP"
//       10     2  format version (1)
//       12     8  payload length in bytes
//       20     n  payload
//     20+n     p  zero padding, so that 20+n+p is a multiple of 512
//   20+n+p    32  SHA-256 of bytes [0, 20+n+p)
//
// The length field lets a truncated file be told apart from a corrupt one.
// The padding and trailer follow etcd's own snapshot framing (a 512-aligned
// body followed by its SHA-256), which `etcdctl snapshot save` checks, so
// etcdctl can save a Kvorum snapshot and the file it writes is this format.
// `sha256` values returned below are the SHA-256 of the whole file, i.e.
// what `sha256sum` prints for it.
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { MvccStore } from '../mvcc/store.js';
import { decodeStateSnapshot } from '../server/state-snapshot.js';

export const BACKUP_MAGIC = 'KVORUMSNAP';
export const BACKUP_FORMAT_VERSION = 1;
const MAGIC_BYTES = Buffer.from(BACKUP_MAGIC, 'ascii');
const HEADER_BYTES = MAGIC_BYTES.length + 2 + 8;
const CHECKSUM_BYTES = 32;
const ALIGN = 512;

function alignedBodyLength(payloadLength: number): number {
  return Math.ceil((HEADER_BYTES + payloadLength) / ALIGN) * ALIGN;
}

/** A backup file or stream that cannot be used; `reason` says why. */
export class BackupFileError extends Error {
  constructor(
    /** The file, or "snapshot" for bytes in memory. */
    readonly subject: string,
    readonly reason: string,
  ) {
    super(`${subject} ${reason}`);
    this.name = 'BackupFileError';
  }
}

function header(payloadLength: number): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES);
  out.set(MAGIC_BYTES, 0);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint16(MAGIC_BYTES.length, BACKUP_FORMAT_VERSION);
  view.setBigUint64(MAGIC_BYTES.length + 2, BigInt(payloadLength));
  return out;
}

/** Puts a state snapshot into the envelope, in one buffer. */
export function encodeBackup(payload: Uint8Array): Uint8Array {
  const body = alignedBodyLength(payload.length);
  const out = new Uint8Array(body + CHECKSUM_BYTES); // zero-filled: the padding
  out.set(header(payload.length), 0);
  out.set(payload, HEADER_BYTES);
  const digest = createHash('sha256').update(out.subarray(0, body)).digest();
  out.set(digest, body);
  return out;
}

/**
 * The envelope around a payload that arrives in chunks, as chunks: the
 * header, the payload as it comes (never copied), the padding, then the
 * SHA-256. The payload's length goes in the header, so it must be known
 * first; a payload that turns out longer or shorter fails the stream rather
 * than end it with a file that contradicts its header.
 */
export async function* encodeBackupStream(payloadLength: number, payload: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  const head = header(payloadLength);
  hash.update(head);
  yield head;
  let seen = 0;
  for await (const chunk of payload) {
    seen += chunk.length;
    if (seen > payloadLength) throw new BackupFileError('snapshot', `stream has more than the ${payloadLength} payload bytes it announced`);
    hash.update(chunk);
    yield chunk;
  }
  if (seen !== payloadLength) throw new BackupFileError('snapshot', `stream ended after ${seen} of the ${payloadLength} payload bytes it announced`);
  const padding = new Uint8Array(alignedBodyLength(payloadLength) - HEADER_BYTES - payloadLength);
  hash.update(padding);
  yield padding;
  yield new Uint8Array(hash.digest());
}

/** The size of the envelope around `payloadLength` bytes. */
export function backupLength(payloadLength: number): number {
  return alignedBodyLength(payloadLength) + CHECKSUM_BYTES;
}

export interface DecodeBackupOptions {
  /** Do not compare the trailing checksum (the envelope must still be well formed). */
  skipHashCheck?: boolean;
}

/** Whether `bytes` start like a backup. */
export function looksLikeBackup(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC_BYTES.length && Buffer.from(bytes.buffer, bytes.byteOffset, MAGIC_BYTES.length).equals(MAGIC_BYTES);
}

/** Checks the envelope and returns the payload inside it (a view into `bytes`). */
export function decodeBackup(bytes: Uint8Array, options: DecodeBackupOptions = {}): Uint8Array {
  return unwrapAs('snapshot', bytes, options);
}

function unwrapAs(subject: string, bytes: Uint8Array, options: DecodeBackupOptions): Uint8Array {
  if (!looksLikeBackup(bytes)) {
    throw new BackupFileError(subject, `is not a Kvorum snapshot (it does not start with "${BACKUP_MAGIC}")`);
  }
  if (bytes.length < HEADER_BYTES) throw new BackupFileError(subject, `is truncated: only ${bytes.length} bytes, shorter than the header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(MAGIC_BYTES.length);
  if (version !== BACKUP_FORMAT_VERSION) {
    throw new BackupFileError(subject, `has snapshot format version ${version}; this release reads version ${BACKUP_FORMAT_VERSION}`);
  }
  const declared = view.getBigUint64(MAGIC_BYTES.length + 2);
  if (declared > BigInt(Number.MAX_SAFE_INTEGER)) throw new BackupFileError(subject, `is corrupt: its header declares ${declared} payload bytes`);
  const end = HEADER_BYTES + Number(declared);
  const body = alignedBodyLength(Number(declared));
  const expected = body + CHECKSUM_BYTES;
  if (bytes.length < expected) {
    throw new BackupFileError(subject, `is truncated: ${bytes.length} bytes, but its header promises ${expected}`);
  }
  if (bytes.length > expected) {
    throw new BackupFileError(subject, `is corrupt: ${bytes.length} bytes, more than the ${expected} its header promises`);
  }
  if (!options.skipHashCheck) {
    const digest = createHash('sha256').update(bytes.subarray(0, body)).digest();
    if (!digest.equals(bytes.subarray(body))) throw new BackupFileError(subject, 'is corrupt: checksum mismatch');
  }
  return bytes.subarray(HEADER_BYTES, end);
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Writes `payload` in the envelope to `path` so that a crash leaves either
 * no file (or the previous one) or the complete new one: a temporary file
 * beside it is written and fsynced, renamed over `path`, and the directory
 * fsynced.
 */
export async function writeBackupFile(path: string, payload: Uint8Array): Promise<{ sha256: string; size: number }> {
  const bytes = encodeBackup(payload);
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.part`);
  const file = await open(temp, 'wx', 0o600);
  try {
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await file.write(bytes, written, bytes.length - written);
      written += bytesWritten;
    }
    await file.sync();
    await file.close();
  } catch (err) {
    await file.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  try {
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
  return { sha256: sha256Hex(bytes), size: bytes.length };
}

/** Reads and checks a backup file; errors name the file. */
export async function readBackupFile(path: string, options: DecodeBackupOptions = {}): Promise<{ payload: Uint8Array; sha256: string }> {
  const bytes = new Uint8Array(await readFile(path));
  const payload = unwrapAs(`snapshot file ${path}`, bytes, options);
  return { payload, sha256: sha256Hex(bytes) };
}

export interface BackupStatus {
  /** CRC32 of the key-value records at the snapshot's revision, as 8 hex digits (what HashKV reports). */
  hash: string;
  revision: number;
  /** Live keys at the snapshot's revision. */
  totalKeys: number;
  /** Approximate bytes of retained MVCC data (what Status reports as the db size). */
  totalSize: number;
}

/** Summarises a backup file, like `etcdutl snapshot status`. */
export async function backupStatus(path: string): Promise<BackupStatus> {
  const { payload } = await readBackupFile(path);
  const store = restoreMvcc(payload, `snapshot file ${path}`);
  return {
    hash: store.hash().hash.toString(16).padStart(8, '0'),
    revision: store.revision,
    totalKeys: store.keyCount,
    totalSize: store.sizeBytes,
  };
}

/** Decodes a backup payload's MVCC state, with an error naming `subject` when it is unreadable. */
export function restoreMvcc(payload: Uint8Array, subject: string): MvccStore {
  let mvcc: unknown;
  try {
    mvcc = decodeStateSnapshot(payload).mvcc;
  } catch (err) {
    throw new BackupFileError(subject, `holds a payload that does not decode: ${(err as Error).message}`);
  }
  if (!(mvcc instanceof Uint8Array)) throw new BackupFileError(subject, 'holds a payload without key-value state');
  try {
    return MvccStore.restore(mvcc);
  } catch (err) {
    throw new BackupFileError(subject, `holds key-value state that does not decode: ${(err as Error).message}`);
  }
}
