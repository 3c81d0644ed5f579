// Segment file names: `<sequence>-<first index>.wal`, both 16 hex digits, so
// a directory listing sorts in write order. The first index is the index the
// log expected next when the segment was cut; it helps people reading the
// directory, while replay relies only on the records themselves.

const SEGMENT_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

export interface SegmentName {
  seq: number;
  firstIndex: number;
}

export function formatSegmentName(name: SegmentName): string {
  return `${hex16(name.seq)}-${hex16(name.firstIndex)}.wal`;
}

/** Parses a segment file name; anything else in the directory yields undefined. */
export function parseSegmentName(file: string): SegmentName | undefined {
  const match = SEGMENT_NAME.exec(file);
  if (match === null) return undefined;
  const seq = Number.parseInt(match[1]!, 16);
  const firstIndex = Number.parseInt(match[2]!, 16);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(firstIndex)) return undefined;
  return { seq, firstIndex };
}

export function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}
