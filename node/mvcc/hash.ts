// HashKV: a CRC32 over every retained record up to a revision, so members
// that applied the same log can prove they hold the same data. Records are
// visited in key order, each key's records oldest first; every member retains
// exactly the same records, so the order is the same everywhere.

import { crc32 } from 'node:zlib';
import {
  type KeyIndex,
  createRevisionAt,
  historyKey,
  leaseAt,
  modRevisionAt,
  recordCount,
  slotOf,
  valueAt,
  versionAt,
} from './key-index.js';

export function hashRecords(index: KeyIndex, upToRevision: number): number {
  const numbers = Buffer.alloc(8 * 4 + 4 + 4);
  let crc = 0;
  index.forEach((h) => {
    const key = Buffer.from(historyKey(h), 'latin1');
    for (let i = 0; i < recordCount(h); i++) {
      const slot = slotOf(i);
      if (modRevisionAt(h, slot) > upToRevision) break;
      numbers.writeDoubleBE(modRevisionAt(h, slot), 0);
      numbers.writeDoubleBE(createRevisionAt(h, slot), 8);
      numbers.writeDoubleBE(versionAt(h, slot), 16);
      numbers.writeDoubleBE(leaseAt(h, slot), 24);
      const value = Buffer.from(valueAt(h, slot), 'latin1');
      numbers.writeUInt32BE(key.length, 32);
      numbers.writeUInt32BE(value.length, 36);
      crc = crc32(numbers, crc);
      crc = crc32(key, crc);
      crc = crc32(value, crc);
    }
  });
  return crc;
}
