// The server's state snapshot: what a Raft snapshot of a member holds (the
// MVCC store, the member table and the alarms), as it is saved to the
// member's snapshot files, sent to lagging followers and put in backups.
//
// Layout: "KVSS", a u32 (big-endian) length of a JSON header holding the
// header version, the member table, alarms and (version 2) the auth store, the header, then the MVCC snapshot
// (node/mvcc/snapshot.ts). The MVCC bytes follow the header directly, so a
// snapshot as large as the store is never copied to frame it. Snapshots from
// before this layout (a V8-serialized object) are still read.
import { deserialize } from 'node:v8';
import type { MvccStore } from '../mvcc/store.js';
import type { SnapshotPoint } from '../../contract/snapshot-point.js';
import type { MembershipData } from './membership.js';
import type { AuthStoreData } from './auth/auth-store.js';

/**
 * The header's version: 1 (absent) before the auth store, 2 with it. A
 * version-1 snapshot is read as one with no users, no roles and auth off.
 */
export const STATE_SNAPSHOT_VERSION = 2;

/** What a state snapshot holds besides the MVCC store. */
export interface StateSnapshotHead {
  /** STATE_SNAPSHOT_VERSION when written by this release; absent in version 1. */
  version?: number;
  membership: MembershipData;
  /** The auth store (version 2 on). */
  auth?: AuthStoreData;
  /** "memberId:ALARM" (see Alarms). */
  alarms: string[];
  /**
   * Where in the history the state was captured. Backups carry it (readers
   * of the stream record it without decoding the store: contract/snapshot-point.ts);
   * older snapshots and Raft snapshots leave it out.
   */
  point?: SnapshotPoint;
}

export interface StateSnapshot extends StateSnapshotHead {
  mvcc: Uint8Array;
}

/** A state captured at one moment, whose bytes come later, in chunks. */
export interface CapturedState {
  /** The encoding's length in bytes, sized a few milliseconds at a time. */
  size(): Promise<number>;
  /**
   * The encoding, a few milliseconds of work per chunk (each `chunkBytes`, 4
   * MiB by default, at most). Captured with `reuseChunks`, a chunk is valid
   * only until the next one is asked for.
   */
  chunks(): AsyncIterable<Uint8Array>;
}

const MAGIC = 'KVSS';

/** How long one slice of encoding (or sizing) may hold the event loop. */
const SLICE_MS = 4;

function headBytes(head: StateSnapshotHead): Uint8Array {
  const json = Buffer.from(JSON.stringify(head), 'utf8');
  const out = Buffer.alloc(8 + json.length);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32BE(json.length, 4);
  json.copy(out, 8);
  return out;
}

/** The whole snapshot in one buffer (tests, restore of a small backup). */
export function encodeStateSnapshot(store: MvccStore, head: StateSnapshotHead): Uint8Array {
  const bytes = store.snapshotEncoder(headBytes(head)).encodeUntil(Infinity);
  if (bytes === undefined) throw new Error('snapshot: encoder stopped before its deadline');
  return bytes;
}

/**
 * Captures the state now (one pass over the store's index, no copies of keys
 * or values); its encoding is produced later in slices between which the
 * event loop serves clients and peers. The store must not compact or be
 * restored before the bytes are all out (the encoder then throws).
 */
export function captureState(store: MvccStore, head: StateSnapshotHead, chunkBytes?: number, reuseChunks = false): CapturedState {
  const encoder = store.snapshotEncoder(headBytes(head), chunkBytes, reuseChunks);
  return {
    async size() {
      // The capture just held the loop (one pass over the index): let others run first.
      await nextTurn();
      for (;;) {
        const size = encoder.measureUntil(performance.now() + SLICE_MS);
        if (size !== undefined) return size;
        await nextTurn();
      }
    },
    async *chunks() {
      for (;;) {
        const { chunks, done } = encoder.encodeSlice(performance.now() + SLICE_MS);
        yield* chunks;
        if (done) return;
        await nextTurn();
      }
    },
  };
}

export function decodeStateSnapshot(data: Uint8Array): StateSnapshot {
  let payload: unknown;
  try {
    payload = isFramed(data) ? decodeFramed(data) : deserialize(data);
  } catch (err) {
    throw new Error(`server snapshot is malformed: ${(err as Error).message}`, { cause: err });
  }
  const p = payload as Partial<StateSnapshot> | null;
  if (!p || !(p.mvcc instanceof Uint8Array) || !Array.isArray(p.membership?.members) || !Array.isArray(p.membership?.removed) || !Array.isArray(p.alarms)) {
    throw new Error('server snapshot is malformed: expected mvcc bytes, a membership table and alarms');
  }
  if (p.version !== undefined && (typeof p.version !== 'number' || p.version > STATE_SNAPSHOT_VERSION)) {
    throw new Error(`server snapshot version ${String(p.version)} is newer than this release reads (${STATE_SNAPSHOT_VERSION})`);
  }
  return p as StateSnapshot;
}

function isFramed(data: Uint8Array): boolean {
  return data.length >= 8 && Buffer.from(data.buffer, data.byteOffset, 4).toString('latin1') === MAGIC;
}

function decodeFramed(data: Uint8Array): unknown {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const length = buf.readUInt32BE(4);
  if (8 + length > buf.length) throw new Error('header runs past the end');
  const head = JSON.parse(buf.toString('utf8', 8, 8 + length)) as Record<string, unknown>;
  return { ...head, mvcc: data.subarray(8 + length) };
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
