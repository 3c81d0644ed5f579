// Record framing for WAL segments.
//
//   offset 0  u32  CRC-32 of bytes 4..end (length, type and payload)
//   offset 4  u32  payload length
//   offset 8  u8   record type
//   offset 9  ...  payload
//
// Each record carries its own checksum rather than one chained through the
// file. That lets recovery cut a segment at any record boundary, lets a
// segment be verified on its own after older segments were deleted, and a
// damaged record cannot poison the checksums of the ones before it.
import { crc32 } from 'node:zlib';

export enum RecordType {
  /** Head of every segment: format version, member ID, cluster ID. */
  Metadata = 1,
  Entry = 2,
  HardState = 3,
  /** Index and term of a durable snapshot: the log starts after it. */
  SnapshotMarker = 4,
}

export const RECORD_HEADER_BYTES = 9;
/** Far above any real record; a larger length field means garbage. */
export const MAX_RECORD_PAYLOAD_BYTES = 256 * 1024 * 1024;

export function frameRecord(type: RecordType, payload: Uint8Array): Buffer {
  if (payload.length > MAX_RECORD_PAYLOAD_BYTES) {
    throw new RangeError(`wal: record payload of ${payload.length} bytes exceeds ${MAX_RECORD_PAYLOAD_BYTES}`);
  }
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  record.writeUInt32LE(payload.length, 4);
  record.writeUInt8(type, 8);
  record.set(payload, RECORD_HEADER_BYTES);
  record.writeUInt32LE(crc32(record.subarray(4)), 0);
  return record;
}

export interface ScannedRecord {
  type: RecordType;
  /** A view into the scanned buffer; copy anything that must outlive it. */
  payload: Buffer;
  offset: number;
}

export interface Damage {
  offset: number;
  reason: string;
}

export interface ScanResult {
  records: ScannedRecord[];
  /** Length of the prefix made of whole, verified records. */
  validBytes: number;
  /** The first record that failed verification, if any. */
  damage?: Damage;
}

/** Reads records until the end of the buffer or the first one that fails verification. */
export function scanRecords(buf: Buffer): ScanResult {
  const records: ScannedRecord[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const damage = checkRecordAt(buf, offset);
    if (damage !== undefined) return { records, validBytes: offset, damage: { offset, reason: damage } };
    const length = buf.readUInt32LE(offset + 4);
    const end = offset + RECORD_HEADER_BYTES + length;
    records.push({ type: buf.readUInt8(offset + 8), payload: buf.subarray(offset + RECORD_HEADER_BYTES, end), offset });
    offset = end;
  }
  return { records, validBytes: offset };
}

/**
 * The offset of the first whole, verified record that starts after `from`, or
 * undefined. A torn write can only damage the end of a segment, so a good
 * record past a bad one proves the bad one was corrupted in place. (A random
 * position passes the CRC-32 with odds of 1 in 2^32; zeroed space never does.)
 */
export function findValidRecordAfter(buf: Buffer, from: number): number | undefined {
  for (let offset = from + 1; offset + RECORD_HEADER_BYTES <= buf.length; offset++) {
    if (checkRecordAt(buf, offset) === undefined) return offset;
  }
  return undefined;
}

/** Returns why the record at `offset` cannot be trusted, or undefined if it can. */
export function checkRecordAt(buf: Buffer, offset: number): string | undefined {
  const remaining = buf.length - offset;
  if (remaining < RECORD_HEADER_BYTES) return `partial record header (${remaining} of ${RECORD_HEADER_BYTES} bytes)`;
  const length = buf.readUInt32LE(offset + 4);
  if (length > MAX_RECORD_PAYLOAD_BYTES) return `implausible record length ${length}`;
  const end = offset + RECORD_HEADER_BYTES + length;
  if (end > buf.length) return `partial record (needs ${length} payload bytes, ${remaining - RECORD_HEADER_BYTES} present)`;
  const stored = buf.readUInt32LE(offset);
  const computed = crc32(buf.subarray(offset + 4, end));
  if (stored !== computed) return `checksum mismatch (stored ${hex(stored)}, computed ${hex(computed)})`;
  const type = buf.readUInt8(offset + 8);
  if (!isRecordType(type)) return `unknown record type ${type}`;
  return undefined;
}

function isRecordType(value: number): value is RecordType {
  return value >= RecordType.Metadata && value <= RecordType.SnapshotMarker;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
