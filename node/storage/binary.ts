// Fixed-width little-endian integers for the on-disk formats. Log positions
// and member IDs are JavaScript numbers below 2^53, stored in 8 bytes.

const TWO_POW_32 = 2 ** 32;
/** The high word of Number.MAX_SAFE_INTEGER is 2^21 - 1. */
const MAX_SAFE_HIGH_WORD = 2 ** 21 - 1;

export function writeU64(buf: Buffer, value: number, offset: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`storage: ${value} is not a non-negative safe integer`);
  }
  buf.writeUInt32LE(value % TWO_POW_32, offset);
  buf.writeUInt32LE(Math.floor(value / TWO_POW_32), offset + 4);
}

export function readU64(buf: Buffer, offset: number): number {
  const low = buf.readUInt32LE(offset);
  const high = buf.readUInt32LE(offset + 4);
  if (high > MAX_SAFE_HIGH_WORD) {
    throw new RangeError(`storage: 64-bit value at offset ${offset} exceeds 2^53`);
  }
  return high * TWO_POW_32 + low;
}
