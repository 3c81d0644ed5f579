// HashKV: a CRC32 over every retained record up to a revision, so members
// that applied the same log can prove they hold the same data. Records are
// visited in key order, each key's records oldest first; every member retains
// exactly the same records, so the order is the same everywhere.
//
// Each record contributes its four numbers (as float64), its key and value
// lengths, then the key and value bytes. Records are packed into one buffer
// and checksummed a chunk at a time.

import { crc32 } from 'node:zlib';
import {
  type KeyIndex,
  createRevisionAt,
  historyKey,
  leaseAt,
  modRevisionAt,
  recordCount,
  slotOf,
  valueRefAt,
  versionAt,
} from './key-index.js';

const CHUNK_BYTES = 64 * 1024;
const FIXED_BYTES = 8 * 4 + 4 + 4;

export function hashRecords(index: KeyIndex, upToRevision: number): number {
  let buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let used = 0;
  let crc = 0;
  const flush = () => {
    crc = crc32(buf.subarray(0, used), crc);
    used = 0;
  };

  index.forEach((h) => {
    const key = historyKey(h);
    for (let i = 0; i < recordCount(h); i++) {
      const slot = slotOf(i);
      if (modRevisionAt(h, slot) > upToRevision) break;
      const value = valueRefAt(h, slot);
      const valueLength = index.values.length(value);
      const size = FIXED_BYTES + key.length + valueLength;
      if (used + size > buf.length) {
        flush();
        if (size > buf.length) buf = Buffer.allocUnsafe(size);
      }
      used = buf.writeDoubleBE(modRevisionAt(h, slot), used);
      used = buf.writeDoubleBE(createRevisionAt(h, slot), used);
      used = buf.writeDoubleBE(versionAt(h, slot), used);
      // As a double, as before int64 lease IDs, so a legacy ID hashes as it did.
      used = buf.writeDoubleBE(Number(leaseAt(h, slot)), used);
      used = buf.writeUInt32BE(key.length, used);
      used = buf.writeUInt32BE(valueLength, used);
      used += buf.write(key, used, 'latin1');
      used += index.values.copyInto(value, buf, used);
    }
  });
  flush();
  return crc;
}
