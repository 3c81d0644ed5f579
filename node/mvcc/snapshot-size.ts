// What each part of a snapshot's encoding (node/mvcc/snapshot.ts) takes, in
// bytes. The key index and the change log keep running totals of these as
// records come and go, so a snapshot knows its exact length the moment it
// is captured instead of walking a store of a million keys once to size it
// and again to encode it (the backup format and etcd's `remaining_bytes`
// state the length before the bytes).

import { varintSize } from '../varint.js';
import { isLegacyLeaseId } from './lease.js';
import { type LeaseId, NO_LEASE } from './types.js';

/** A key's length, bytes and record count, before its records. */
function keyHeaderBytes(key: string, records: number): number {
  return varintSize(key.length) + key.length + varintSize(records);
}

/** One record without its lease: mod revision delta, create revision, version, value. */
function recordBytes(modDelta: number, createRevision: number, version: number, valueLength: number): number {
  return varintSize(modDelta) + varintSize(createRevision) + varintSize(version) + varintSize(valueLength) + valueLength;
}

/**
 * A lease ID in the snapshot's format 1 (an unsigned varint), or 0 for an ID
 * that format cannot hold: a store that granted one writes format 2.
 */
function narrowLeaseBytes(id: LeaseId): number {
  if (id === NO_LEASE) return 1;
  return isLegacyLeaseId(id) ? varintSize(Number(id)) : 0;
}

/** A lease ID in the snapshot's format 2 (a zigzag varint of any int64). */
function wideLeaseBytes(id: LeaseId): number {
  if (id === NO_LEASE) return 1;
  return uint64Bytes(zigzag(id));
}

export function zigzag(id: LeaseId): bigint {
  return id >= 0n ? id * 2n : -id * 2n - 1n;
}

function uint64Bytes(n: bigint): number {
  let size = 1;
  while (n >= 0x80n) {
    n >>= 7n;
    size++;
  }
  return size;
}

/** Running totals of the keys' part of the encoding, lease IDs counted in both formats. */
export class KeysBytes {
  /** Keys and records, lease IDs left out. */
  private base = 0;
  private narrowLeases = 0;
  private wideLeases = 0;

  /** The keys' part of the encoding, in format 2 (`wide`) or format 1. */
  total(wide: boolean): number {
    return this.base + (wide ? this.wideLeases : this.narrowLeases);
  }

  /** A key's header changes (it gains or loses records, or comes or goes). */
  header(key: string, recordsBefore: number, recordsAfter: number): void {
    if (recordsBefore > 0) this.base -= keyHeaderBytes(key, recordsBefore);
    if (recordsAfter > 0) this.base += keyHeaderBytes(key, recordsAfter);
  }

  /** Adds (sign 1) or removes (sign -1) a record. */
  record(sign: 1 | -1, modDelta: number, createRevision: number, version: number, lease: LeaseId, valueLength: number): void {
    this.base += sign * recordBytes(modDelta, createRevision, version, valueLength);
    this.narrowLeases += sign * narrowLeaseBytes(lease);
    this.wideLeases += sign * wideLeaseBytes(lease);
  }

  /** A record's mod revision delta changes (the record before it went). */
  delta(before: number, after: number): void {
    this.base += varintSize(after) - varintSize(before);
  }
}
