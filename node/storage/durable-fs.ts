// File-system steps whose durability the rest of the storage layer relies on.
import { fdatasyncSync, writeSync } from 'node:fs';
import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** Files being written carry this suffix until they are renamed into place. */
export const TEMP_SUFFIX = '.tmp';

/** Flushes a file's data (and the size, for appends) to stable storage. */
export type SyncFile = (file: FileHandle) => Promise<void>;

export const syncFileData: SyncFile = (file) => file.datasync();

/**
 * syncFileData made on the calling thread: it blocks the event loop for the
 * fsync, but saves the two thread wake-ups of a thread-pool round trip. Only
 * for small, frequent flushes whose time is watched (see adaptiveSync).
 */
export const syncFileDataHere: SyncFile = (file) => {
  try {
    fdatasyncSync(file.fd);
    return Promise.resolve();
  } catch (err) {
    return Promise.reject(err as Error);
  }
};

/** Makes creations, renames and deletions inside `dir` durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes every byte at `position`, looping over short writes. */
export async function writeAllAt(file: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await file.write(data, written, data.length - written, position + written);
    written += bytesWritten;
  }
}

/** Writes every byte, looping over short writes. */
export async function writeAll(file: FileHandle, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await file.write(data, written, data.length - written);
    written += bytesWritten;
  }
}

/**
 * Writes up to this many bytes go to the page cache from the calling thread
 * (see writeAllSoon); larger ones take the thread pool.
 */
export const INLINE_WRITE_MAX_BYTES = 256 * 1024;

/**
 * Writes every byte, looping over short writes, like writeAll. A small write
 * is made right here instead: copying a few KiB into the page cache costs
 * microseconds, while a thread-pool round trip costs two thread wake-ups,
 * and the fsync that follows needs one of its own anyway. So a group commit
 * of small writes is one hand-off to the pool (the fsync), not two.
 */
export async function writeAllSoon(file: FileHandle, data: Uint8Array): Promise<void> {
  if (data.length > INLINE_WRITE_MAX_BYTES) return writeAll(file, data);
  let written = 0;
  while (written < data.length) written += writeSync(file.fd, data, written, data.length - written);
}

/**
 * A large file is flushed every this many bytes while it is written. On
 * ext4 (data=ordered) a WAL fsync commits the journal, which first writes
 * out every other file's newly allocated dirty data: one 200 MB snapshot
 * flushed at the end would stall the WAL's fsyncs, and every client's
 * write, for seconds. Flushing as it goes bounds what a WAL fsync can find
 * waiting in front of it.
 */
export const FLUSH_EVERY_BYTES = 4 * 1024 * 1024;

/**
 * Appends to a file being written, flushing every FLUSH_EVERY_BYTES so
 * that a later fsync (ours, or the WAL's journal commit) never finds much
 * dirty data in front of it.
 */
export class FlushingWriter {
  private unflushed = 0;

  constructor(
    readonly file: FileHandle,
    private readonly sync: SyncFile,
  ) {}

  async append(data: Uint8Array): Promise<void> {
    for (let at = 0; at < data.length; ) {
      const piece = data.subarray(at, at + FLUSH_EVERY_BYTES - this.unflushed);
      await writeAll(this.file, piece);
      at += piece.length;
      this.unflushed += piece.length;
      if (this.unflushed >= FLUSH_EVERY_BYTES) {
        await this.sync(this.file);
        this.unflushed = 0;
      }
    }
  }
}

/**
 * Creates `dir/name` so that after a crash it either does not exist or is
 * complete: `fill` writes a temporary file, which is then fsynced, renamed
 * into place, and the directory fsynced.
 */
export async function writeFileAtomicallyWith(dir: string, name: string, fill: (out: FlushingWriter) => Promise<void>, sync: SyncFile = syncFileData): Promise<void> {
  const finalPath = join(dir, name);
  const tempPath = finalPath + TEMP_SUFFIX;
  const file = await open(tempPath, 'w');
  try {
    await fill(new FlushingWriter(file, sync));
    await sync(file);
  } catch (err) {
    await file.close();
    await unlink(tempPath).catch(() => undefined);
    throw err;
  }
  await file.close();
  await rename(tempPath, finalPath);
  await syncDir(dir);
}

/** writeFileAtomicallyWith for bytes already in memory. */
export async function writeFileAtomically(dir: string, name: string, chunks: Uint8Array[], sync: SyncFile = syncFileData): Promise<void> {
  await writeFileAtomicallyWith(
    dir,
    name,
    async (out) => {
      for (const chunk of chunks) await out.append(chunk);
    },
    sync,
  );
}

/** Deletes leftovers of writes interrupted by a crash; returns their names. */
export async function removeTempFiles(dir: string): Promise<string[]> {
  const leftovers = (await readdir(dir)).filter((name) => name.endsWith(TEMP_SUFFIX));
  for (const name of leftovers) await unlink(join(dir, name));
  if (leftovers.length > 0) await syncDir(dir);
  return leftovers;
}
