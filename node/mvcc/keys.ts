// Keys and values are held internally as "byte strings": one latin1 character
// per byte. V8 stores such strings at one byte per character, they are
// immutable (so callers cannot change stored data through a shared array), and
// `<` on them is exactly the unsigned byte order etcd sorts keys by.

export type ByteString = string;

const EMPTY = new Uint8Array(0);

export function toByteString(bytes: Uint8Array | undefined): ByteString {
  if (bytes === undefined || bytes.length === 0) return '';
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function fromByteString(s: ByteString): Uint8Array {
  if (s.length === 0) return EMPTY;
  const buf = Buffer.from(s, 'latin1');
  // A plain Uint8Array over the same memory, so callers never see Buffer quirks.
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function compareByteStrings(a: ByteString, b: ByteString): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The set of keys a request addresses, decoded from etcd's (key, rangeEnd)
 * convention: an empty rangeEnd means the key alone, a single 0x00 byte means
 * every key from `start` up, and anything else is the half-open [start, end).
 */
export type KeyRange =
  | { readonly single: true; readonly start: ByteString }
  | { readonly single: false; readonly start: ByteString; readonly end: ByteString | null };

export function keyRange(key: Uint8Array, rangeEnd?: Uint8Array): KeyRange {
  const start = toByteString(key);
  if (rangeEnd === undefined || rangeEnd.length === 0) return { single: true, start };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { single: false, start, end: null };
  return { single: false, start, end: toByteString(rangeEnd) };
}

export function rangeContains(range: KeyRange, key: ByteString): boolean {
  if (range.single) return key === range.start;
  return key >= range.start && (range.end === null || key < range.end);
}

