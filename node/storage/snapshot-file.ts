// Snapshot files: one file per snapshot, written atomically, verified by a
// SHA-256 digest before use.
//
//   offset  0  8 bytes  magic "KVORSNAP"
//   offset  8  u32      file format version
//   offset 12  u32      meta length (UTF-8 JSON of SnapshotMeta)
//   offset 16  u64      data length
//   offset 24  32 bytes digest (below)
//   offset 56           meta, then data
//
// Format 2 (written now): the digest is the SHA-256 of bytes 8..24, the meta
// and the SHA-256 of the data, so a writer can stream the data and fill in
// its length and digest at the end. Format 1 (still read): the SHA-256 of
// bytes 8..24, the meta and the data.
//
// Files are named `<index>-<term>.snap` in 16 hex digits, so a listing sorts
// by index.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { readU64, writeU64 } from './binary.js';
import { removeTempFiles, syncDir, syncFileData, writeAllAt, writeFileAtomicallyWith, type SyncFile } from './durable-fs.js';
import { SnapshotCorruptionError } from './errors.js';
import { defaultStorageLogger, type Logger } from './logger.js';
import { hex16 } from './segment-name.js';
import type { Snapshot, SnapshotMeta } from '../raft/types.js';

export const SNAPSHOT_FORMAT_VERSION = 2;
/**
 * Each file holds the whole store (etcd's hold only Raft metadata, so etcd
 * keeps 5): the newest, and one to fall back on if it fails verification.
 */
export const DEFAULT_SNAPSHOTS_TO_KEEP = 2;
/** A file that failed verification is renamed with this suffix and kept for inspection. */
export const BROKEN_SUFFIX = '.broken';

const MAGIC = Buffer.from('KVORSNAP', 'ascii');
const HEADER_BYTES = 56;
const DIGEST_OFFSET = 24;
const SNAPSHOT_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

export interface SnapshotFileInfo {
  file: string;
  index: number;
  term: number;
}

export interface SkippedSnapshot {
  file: string;
  reason: string;
}

export interface LoadedSnapshot {
  /** The newest snapshot that verified, if any did. */
  snapshot: Snapshot | undefined;
  /** Newer files that failed verification (now renamed to `*.broken`). */
  skipped: SkippedSnapshot[];
}

export interface SnapshotStoreOptions {
  /** How many snapshot files purge() keeps. */
  keep?: number;
  logger?: Logger;
  syncFile?: SyncFile;
}

export function snapshotFileName(index: number, term: number): string {
  return `${hex16(index)}-${hex16(term)}.snap`;
}

export function parseSnapshotFileName(file: string): SnapshotFileInfo | undefined {
  const match = SNAPSHOT_NAME.exec(file);
  if (match === null) return undefined;
  return { file, index: Number.parseInt(match[1]!, 16), term: Number.parseInt(match[2]!, 16) };
}

/** Slices of `data` with a turn of the event loop between them (hashing 300 MB at once holds the loop for most of a second). */
export async function* inSlices(data: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += SLICE_BYTES) {
    if (at > 0) await new Promise((resolve) => setImmediate(resolve));
    yield data.subarray(at, at + SLICE_BYTES);
  }
}

/** About 10 ms of hashing. */
const SLICE_BYTES = 8 * 1024 * 1024;

function fileHeader(version: number, metaLength: number, dataLength: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(version, 8);
  header.writeUInt32LE(metaLength, 12);
  writeU64(header, dataLength, 16);
  return header;
}

/** Verifies and decodes a snapshot file; throws SnapshotCorruptionError naming `file`. */
export function decodeSnapshotFile(bytes: Buffer, file: string): Snapshot {
  if (bytes.length < HEADER_BYTES) throw new SnapshotCorruptionError(file, `file is ${bytes.length} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  if (!bytes.subarray(0, MAGIC.length).equals(MAGIC)) throw new SnapshotCorruptionError(file, 'not a snapshot file (bad magic)');
  const version = bytes.readUInt32LE(8);
  if (version > SNAPSHOT_FORMAT_VERSION) {
    throw new SnapshotCorruptionError(file, `snapshot format ${version} is newer than the ${SNAPSHOT_FORMAT_VERSION} this release reads`);
  }
  const metaLength = bytes.readUInt32LE(12);
  const dataLength = readU64(bytes, 16);
  const expectedSize = HEADER_BYTES + metaLength + dataLength;
  if (bytes.length !== expectedSize) throw new SnapshotCorruptionError(file, `file is ${bytes.length} bytes, header says ${expectedSize}`);
  const meta = bytes.subarray(HEADER_BYTES, HEADER_BYTES + metaLength);
  const data = bytes.subarray(HEADER_BYTES + metaLength);
  const stored = bytes.subarray(DIGEST_OFFSET, HEADER_BYTES);
  const digest = version === 1 ? digestV1(bytes, meta, data) : digestV2(bytes, meta, createHash('sha256').update(data).digest());
  if (!digest.equals(stored)) throw new SnapshotCorruptionError(file, 'SHA-256 checksum mismatch');
  // A view, not a copy: the file's bytes are ours, and a copy would double a large snapshot's memory.
  return { meta: parseMeta(meta, file), data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** A directory of snapshot files. */
export class SnapshotStore {
  private readonly keep: number;
  private readonly logger: Logger;
  private readonly syncFile: SyncFile;

  private constructor(
    readonly dir: string,
    options: SnapshotStoreOptions,
  ) {
    this.keep = Math.max(1, options.keep ?? DEFAULT_SNAPSHOTS_TO_KEEP);
    this.logger = options.logger ?? defaultStorageLogger();
    this.syncFile = options.syncFile ?? syncFileData;
  }

  /** Opens (creating if needed) `dir`, removing half-written files from a crash. */
  static async open(dir: string, options: SnapshotStoreOptions = {}): Promise<SnapshotStore> {
    await mkdir(dir, { recursive: true });
    const store = new SnapshotStore(dir, options);
    const leftovers = await removeTempFiles(dir);
    if (leftovers.length > 0) store.logger.info({ dir, files: leftovers }, 'snapshot: removed files left by an interrupted write');
    return store;
  }

  /** Writes the snapshot durably; after a crash its file is either whole or absent. */
  async save(snapshot: Snapshot): Promise<SnapshotFileInfo> {
    return this.saveStream(snapshot.meta, inSlices(snapshot.data));
  }

  /**
   * save() for data that arrives in chunks (a snapshot encoded while it is
   * written): the chunks go to the file as they come and are hashed on the
   * way, so the whole snapshot is never in memory at once.
   */
  async saveStream(snapshotMeta: SnapshotMeta, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<SnapshotFileInfo & { dataBytes: number }> {
    const { index, term } = snapshotMeta;
    const file = snapshotFileName(index, term);
    const meta = Buffer.from(JSON.stringify(snapshotMeta), 'utf8');
    let dataBytes = 0;
    await writeFileAtomicallyWith(
      this.dir,
      file,
      async (out) => {
        // The header's length and digest are known only at the end: a placeholder first.
        await out.append(Buffer.alloc(HEADER_BYTES));
        await out.append(meta);
        const dataHash = createHash('sha256');
        for await (const chunk of chunks) {
          dataHash.update(chunk);
          await out.append(chunk);
          dataBytes += chunk.length;
        }
        const header = fileHeader(SNAPSHOT_FORMAT_VERSION, meta.length, dataBytes);
        digestV2(header, meta, dataHash.digest()).copy(header, DIGEST_OFFSET);
        await writeAllAt(out.file, header, 0);
      },
      this.syncFile,
    );
    return { file, index, term, dataBytes };
  }

  /** Snapshot files present, newest (highest index) first. */
  async list(): Promise<SnapshotFileInfo[]> {
    const infos: SnapshotFileInfo[] = [];
    for (const file of await readdir(this.dir)) {
      const info = parseSnapshotFileName(file);
      if (info !== undefined) infos.push(info);
    }
    return infos.sort((a, b) => b.index - a.index || b.term - a.term);
  }

  /** Loads the snapshot at exactly (index, term); throws if it is missing or fails verification. */
  async load(index: number, term: number): Promise<Snapshot> {
    const file = snapshotFileName(index, term);
    let bytes: Buffer;
    try {
      bytes = await readFile(join(this.dir, file));
    } catch (err) {
      throw new SnapshotCorruptionError(join(this.dir, file), `cannot read: ${(err as Error).message}`);
    }
    return this.verified(bytes, { file, index, term });
  }

  /**
   * Loads and verifies the snapshot at (index, term) synchronously: for the
   * rare moments the Raft core reads a snapshot's data (sending it to a
   * follower), so it need not stay in memory the rest of the time.
   */
  loadSync(index: number, term: number): Snapshot {
    const file = snapshotFileName(index, term);
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(this.dir, file));
    } catch (err) {
      throw new SnapshotCorruptionError(join(this.dir, file), `cannot read: ${(err as Error).message}`);
    }
    return this.verified(bytes, { file, index, term });
  }

  /** Loads the newest snapshot that verifies, setting aside newer ones that do not. */
  async loadNewest(): Promise<LoadedSnapshot> {
    const skipped: SkippedSnapshot[] = [];
    for (const info of await this.list()) {
      try {
        const bytes = await readFile(join(this.dir, info.file));
        return { snapshot: this.verified(bytes, info), skipped };
      } catch (err) {
        if (!(err instanceof SnapshotCorruptionError)) throw err;
        skipped.push({ file: info.file, reason: err.reason });
        await this.setAside(info.file, err.reason);
      }
    }
    return { snapshot: undefined, skipped };
  }

  /** Deletes all but the newest `keep` snapshot files; returns the deleted names. */
  async purge(): Promise<string[]> {
    const doomed = (await this.list()).slice(this.keep).map((info) => info.file);
    await this.remove(doomed);
    return doomed;
  }

  /** Deletes snapshot files above `index` (written just before a crash, never recorded in the WAL). */
  async removeNewerThan(index: number): Promise<string[]> {
    const doomed = (await this.list()).filter((info) => info.index > index).map((info) => info.file);
    await this.remove(doomed);
    return doomed;
  }

  private verified(bytes: Buffer, info: SnapshotFileInfo): Snapshot {
    const path = join(this.dir, info.file);
    const snapshot = decodeSnapshotFile(bytes, path);
    if (snapshot.meta.index !== info.index || snapshot.meta.term !== info.term) {
      throw new SnapshotCorruptionError(path, `holds index ${snapshot.meta.index} term ${snapshot.meta.term}, not what its name says`);
    }
    return snapshot;
  }

  private async setAside(file: string, reason: string): Promise<void> {
    this.logger.warn({ file: join(this.dir, file), reason }, 'snapshot: skipping a corrupt snapshot file');
    await rename(join(this.dir, file), join(this.dir, file + BROKEN_SUFFIX));
    await syncDir(this.dir);
  }

  private async remove(files: string[]): Promise<void> {
    if (files.length === 0) return;
    for (const file of files) await unlink(join(this.dir, file));
    await syncDir(this.dir);
  }
}

function digestV1(header: Buffer, meta: Uint8Array, data: Uint8Array): Buffer {
  return createHash('sha256').update(header.subarray(8, DIGEST_OFFSET)).update(meta).update(data).digest();
}

function digestV2(header: Buffer, meta: Uint8Array, dataDigest: Uint8Array): Buffer {
  return createHash('sha256').update(header.subarray(8, DIGEST_OFFSET)).update(meta).update(dataDigest).digest();
}

function parseMeta(bytes: Buffer, file: string): SnapshotMeta {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new SnapshotCorruptionError(file, 'metadata is not valid JSON');
  }
  const meta = value as Partial<SnapshotMeta> | null;
  const conf = meta?.conf;
  if (!isCount(meta?.index) || !isCount(meta?.term) || !isIdList(conf?.voters) || !isIdList(conf?.learners)) {
    throw new SnapshotCorruptionError(file, 'metadata lacks index, term or conf');
  }
  return { index: meta.index, term: meta.term, conf: { voters: conf.voters, learners: conf.learners } };
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

function isIdList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every(isCount);
}
