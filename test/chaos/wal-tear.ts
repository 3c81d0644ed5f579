// A torn WAL tail, as a crash in the middle of a write leaves it: after a
// kill -9, the start of one more record is written right after the last
// whole record of the newest segment (a copy of that record, cut short).
//
// Why a partial record is added rather than the last one cut: a record that
// is whole on disk may have been fsynced and acknowledged, and cutting it
// would be a disk losing synced data, which Raft does not survive (the
// member may have voted or acknowledged an entry on the strength of it).
// A crash tears only a write that was never synced, which is the bytes past
// the last whole record, and that is what recovery must cut away.
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scanRecords } from '../../node/storage/record.js';
import { parseSegmentName } from '../../node/storage/segment-name.js';

export interface TornTail {
  segment: string;
  /** Where the partial record starts (the end of the last whole record). */
  offset: number;
  /** Bytes of the partial record written. */
  bytes: number;
}

/**
 * Writes a partial record after the last whole record of the newest WAL
 * segment of `dataDir`; `fraction` in (0, 1) picks how much of the copied
 * record is written. Undefined when there is no segment.
 */
export async function tearWalTail(dataDir: string, fraction: number): Promise<TornTail | undefined> {
  const dir = join(dataDir, 'wal');
  const segments = (await readdir(dir).catch(() => [] as string[])).filter((f) => parseSegmentName(f) !== undefined).sort();
  const segment = segments[segments.length - 1];
  if (segment === undefined) return undefined;
  const file = join(dir, segment);
  const buf = await readFile(file);
  const { records, validBytes } = scanRecords(buf);
  const last = records[records.length - 1];
  if (last === undefined) return undefined;
  const whole = buf.subarray(last.offset, validBytes);
  // At least one byte, never the whole record.
  const bytes = Math.min(whole.length - 1, Math.max(1, Math.floor(whole.length * fraction)));
  const handle = await open(file, 'r+');
  try {
    await handle.write(whole, 0, bytes, validBytes);
    await handle.truncate(validBytes + bytes);
  } finally {
    await handle.close();
  }
  return { segment, offset: validBytes, bytes };
}
