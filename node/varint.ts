// The size of a base-128 varint (protobuf's, and the snapshot and peer
// formats', which use the same encoding), shared by every hand-written encoder.

/** Bytes a varint of the non-negative safe integer `n` takes. */
export function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  // Arithmetic, not bit operations: revisions and IDs exceed 32 bits.
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}
