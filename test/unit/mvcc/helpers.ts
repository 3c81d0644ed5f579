// Shared helpers for the MVCC tests: byte conversions and a driver that feeds
// a store consecutive Raft indexes, the way the server's apply loop does.

import assert from 'node:assert/strict';
import { MvccError, MvccStore } from '../../../node/mvcc/index.js';
import type {
  ApplyRequest,
  ApplyResponse,
  DeleteRangeRequest,
  KeyValue,
  PutRequest,
  RangeRequest,
  TxnRequest,
} from '../../../node/mvcc/index.js';

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** mulberry32: deterministic pseudo-random numbers in [0, 1), so a failure replays. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
export const text = (u: Uint8Array): string => new TextDecoder().decode(u);

/** etcd's rangeEnd for "every key from here on". */
export const FROM_KEY = new Uint8Array([0]);

/** etcd's rangeEnd for a prefix (callers compute it, as clientv3 does). */
export function prefixEnd(prefix: string): Uint8Array {
  const end = bytes(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.slice(0, i + 1);
    }
  }
  return FROM_KEY;
}

export class Driver {
  index = 0;

  constructor(readonly store = new MvccStore()) {}

  apply<R extends ApplyRequest>(request: R): ApplyResponse<R> {
    const response = this.store.apply(++this.index, request);
    assert.ok(response !== undefined, 'a fresh index is never skipped');
    return response;
  }

  put(key: string, value: string, extra: Omit<PutRequest, 'key' | 'value'> = {}) {
    return this.apply({ put: { key: bytes(key), value: bytes(value), ...extra } });
  }

  del(key: string, extra: Omit<DeleteRangeRequest, 'key'> = {}) {
    return this.apply({ deleteRange: { key: bytes(key), ...extra } });
  }

  txn(request: TxnRequest) {
    return this.apply({ txn: request });
  }

  compact(revision: number) {
    return this.apply({ compaction: { revision } });
  }

  grant(id: number | bigint, ttl = 60) {
    return this.apply({ leaseGrant: { id: BigInt(id), ttl } });
  }

  revoke(id: number | bigint) {
    return this.apply({ leaseRevoke: { id: BigInt(id) } });
  }

  get(key: string, extra: Omit<RangeRequest, 'key'> = {}): KeyValue | undefined {
    return this.store.range({ key: bytes(key), ...extra }).kvs[0];
  }

  /** key=value pairs of the whole keyspace at `revision` (0 = current). */
  dump(revision = 0): string[] {
    return this.store
      .range({ key: FROM_KEY, rangeEnd: FROM_KEY, revision })
      .kvs.map((kv) => `${text(kv.key)}=${text(kv.value)}`);
  }
}

/** Asserts that `fn` throws an MvccError with etcd's message and gRPC code. */
export function assertMvccError(fn: () => unknown, code: MvccError['code'], message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MvccError, `expected MvccError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.message, message);
    return true;
  });
}

export const COMPACTED = 'etcdserver: mvcc: required revision has been compacted';
export const FUTURE = 'etcdserver: mvcc: required revision is a future revision';
export const LEASE_NOT_FOUND = 'etcdserver: requested lease not found';
export const DUPLICATE_KEY = 'etcdserver: duplicate key given in txn request';
