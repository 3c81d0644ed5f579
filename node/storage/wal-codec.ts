// Payload encodings of the WAL record types. All integers are little-endian;
// positions and IDs take 8 bytes (see binary.ts).
import { readU64, writeU64 } from './binary.js';
import { checkRecordAt, frameRecord, RECORD_HEADER_BYTES, RecordType } from './record.js';
import type { Entry, EntryType, HardState } from '../raft/types.js';

/** Written at the head of every segment. */
export interface SegmentMetadata {
  formatVersion: number;
  memberId: number;
  clusterId: number;
}

/** Where the log begins once a snapshot is durable. */
export interface SnapshotMarker {
  index: number;
  term: number;
}

const METADATA_BYTES = 20;
const ENTRY_FIXED_BYTES = 17;
const HARD_STATE_BYTES = 24;
const MARKER_BYTES = 16;

export function metadataRecord(meta: SegmentMetadata): Buffer {
  const payload = Buffer.allocUnsafe(METADATA_BYTES);
  payload.writeUInt32LE(meta.formatVersion, 0);
  writeU64(payload, meta.memberId, 4);
  writeU64(payload, meta.clusterId, 12);
  return frameRecord(RecordType.Metadata, payload);
}

export function decodeMetadata(payload: Buffer): SegmentMetadata {
  expectLength(payload, METADATA_BYTES, 'metadata');
  return { formatVersion: payload.readUInt32LE(0), memberId: readU64(payload, 4), clusterId: readU64(payload, 12) };
}

export function entryRecord(entry: Entry): Buffer {
  const payload = Buffer.allocUnsafe(ENTRY_FIXED_BYTES + entry.data.length);
  writeU64(payload, entry.term, 0);
  writeU64(payload, entry.index, 8);
  payload.writeUInt8(entry.type, 16);
  payload.set(entry.data, ENTRY_FIXED_BYTES);
  return frameRecord(RecordType.Entry, payload);
}

export function decodeEntry(payload: Buffer): Entry {
  if (payload.length < ENTRY_FIXED_BYTES) throw new RangeError(`wal: entry payload of ${payload.length} bytes is too short`);
  return {
    term: readU64(payload, 0),
    index: readU64(payload, 8),
    type: payload.readUInt8(16) as EntryType,
    // A view of the segment's buffer: the replayed log copies what it keeps (log-cache.ts).
    data: new Uint8Array(payload.buffer, payload.byteOffset + ENTRY_FIXED_BYTES, payload.length - ENTRY_FIXED_BYTES),
  };
}

/** The bytes an entry's whole record takes, framing included, for a payload of `dataBytes`. */
export const entryRecordBytes = (dataBytes: number): number => RECORD_HEADER_BYTES + ENTRY_FIXED_BYTES + dataBytes;

/**
 * The payload of entry (term, index) from its record read back out of a
 * segment. Throws unless the bytes are that record, whole and intact: a
 * payload served from disk goes to followers and to the state machine.
 */
export function entryDataFromRecord(record: Buffer, term: number, index: number): Uint8Array {
  const damage = checkRecordAt(record, 0);
  if (damage !== undefined) throw new RangeError(`wal: the record of entry ${index} read back is damaged: ${damage}`);
  const payload = record.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + record.readUInt32LE(4));
  if (record[8] !== RecordType.Entry || payload.length !== record.length - RECORD_HEADER_BYTES) {
    throw new RangeError(`wal: the record read back for entry ${index} is not an entry of the expected size`);
  }
  const entry = decodeEntry(payload);
  if (entry.term !== term || entry.index !== index) {
    throw new RangeError(`wal: read back entry ${entry.index} of term ${entry.term} where entry ${index} of term ${term} was written`);
  }
  return entry.data;
}

export function hardStateRecord(hs: HardState): Buffer {
  const payload = Buffer.allocUnsafe(HARD_STATE_BYTES);
  writeU64(payload, hs.term, 0);
  writeU64(payload, hs.vote, 8);
  writeU64(payload, hs.commit, 16);
  return frameRecord(RecordType.HardState, payload);
}

export function decodeHardState(payload: Buffer): HardState {
  expectLength(payload, HARD_STATE_BYTES, 'hard state');
  return { term: readU64(payload, 0), vote: readU64(payload, 8), commit: readU64(payload, 16) };
}

export function snapshotMarkerRecord(marker: SnapshotMarker): Buffer {
  const payload = Buffer.allocUnsafe(MARKER_BYTES);
  writeU64(payload, marker.index, 0);
  writeU64(payload, marker.term, 8);
  return frameRecord(RecordType.SnapshotMarker, payload);
}

export function decodeSnapshotMarker(payload: Buffer): SnapshotMarker {
  expectLength(payload, MARKER_BYTES, 'snapshot marker');
  return { index: readU64(payload, 0), term: readU64(payload, 8) };
}

function expectLength(payload: Buffer, expected: number, what: string): void {
  if (payload.length !== expected) {
    throw new RangeError(`wal: ${what} payload is ${payload.length} bytes, expected ${expected}`);
  }
}
