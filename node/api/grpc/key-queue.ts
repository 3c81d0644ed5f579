// The queue behind etcd's locks and elections: every contender puts a key
// under a common prefix, and the contender whose key has the lowest create
// revision is at the head. Waiting for one's turn means waiting until every
// key under the prefix created before one's own is deleted. As etcd's
// clientv3 concurrency recipes do, a contender watches only its immediate
// predecessor (the newest older key), so a release wakes one waiter, not all.
import type { WatchCallback, Watch, WatchRequest } from '../../mvcc/watch.js';
import type { DeleteRangeRequest, DeleteRangeResponse, KeyValue, RangeRequest, RangeResponse, TxnRequest, TxnResponse } from '../../mvcc/types.js';
import type { LeaseId } from '../../mvcc/types.js';

/** The member operations the recipes use (an EtcdServer provides them all). */
export interface Keyspace {
  /** A linearizable range read. */
  range(req: RangeRequest): Promise<RangeResponse>;
  txn(req: TxnRequest): Promise<TxnResponse>;
  deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse>;
  leaseGrant(ttl: number): Promise<{ id: LeaseId }>;
  watch(req: WatchRequest, callback: WatchCallback): Watch;
}

/** The contender's own key was deleted (its lease ended) while it waited. */
export class KeyLostError extends Error {
  override readonly name = 'KeyLostError';
}

/** The end of the range holding every key that starts with `prefix` (etcd's GetPrefixRangeEnd). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      // A copy (Buffer's slice would be a view, and the increment would change the prefix).
      const end = Uint8Array.from(prefix.subarray(0, i + 1));
      end[i] = end[i]! + 1;
      return end;
    }
  }
  // Every byte is 0xff: the range runs to the end of the keyspace.
  return Uint8Array.of(0);
}

/** The key at the head of the queue under `prefix` (lowest create revision), with the read's revision. */
export async function queueHead(ks: Keyspace, prefix: Uint8Array): Promise<{ head: KeyValue | undefined; revision: number }> {
  const res = await ks.range({ key: prefix, rangeEnd: prefixEnd(prefix), sortTarget: 'CREATE', sortOrder: 'ASCEND', limit: 1 });
  return { head: res.kvs[0], revision: res.header.revision };
}

/**
 * Resolves once `key` has a DELETE event at a revision after `afterRevision`;
 * rejects with the signal's reason when it aborts. A watch that is canceled
 * (its start was compacted away) resolves too: the caller reads again.
 */
export function deletion(ks: Keyspace, key: Uint8Array, afterRevision: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    let settled = false;
    // (A hub may deliver from inside watch(); the handle is set after that.)
    const handle: { watch?: Watch } = {};
    const finish = (): void => {
      settled = true;
      handle.watch?.cancel();
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      if (settled) return;
      finish();
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort);
    handle.watch = ks.watch({ key, startRevision: afterRevision + 1, filters: ['NOPUT'] }, (batch) => {
      if (settled) return;
      if (batch.canceled || batch.events.some((e) => e.type === 'DELETE')) {
        finish();
        resolve();
      }
    });
    if (settled) handle.watch.cancel();
  });
}

/**
 * Waits until no key under `prefix` has a create revision at or below
 * `maxCreateRevision` (etcd's waitDeletes): read the newest such key, wait
 * for its deletion, read again. Returns the read that found none.
 */
export async function waitDeletes(ks: Keyspace, prefix: Uint8Array, maxCreateRevision: number, signal: AbortSignal): Promise<RangeResponse> {
  for (;;) {
    signal.throwIfAborted();
    const res = await ks.range({
      key: prefix,
      rangeEnd: prefixEnd(prefix),
      sortTarget: 'CREATE',
      sortOrder: 'DESCEND',
      limit: 1,
      maxCreateRevision,
    });
    const predecessor = res.kvs[0];
    if (!predecessor) return res;
    await deletion(ks, predecessor.key, res.header.revision, signal);
  }
}

/**
 * Waits until `myKey` (created at `myRevision`, known to exist at
 * `seenAt`) is at the head of the queue under `prefix`. Fails with
 * KeyLostError as soon as `myKey` itself is deleted meanwhile (its lease
 * expired or was revoked): it will never be at the head then, and etcd
 * 3.4 would otherwise report a lock or leadership the caller does not hold.
 */
export async function waitForTurn(
  ks: Keyspace,
  prefix: Uint8Array,
  myKey: Uint8Array,
  myRevision: number,
  seenAt: number,
  signal: AbortSignal,
): Promise<RangeResponse> {
  const inner = new AbortController();
  const forward = (): void => inner.abort(signal.reason);
  if (signal.aborted) forward();
  signal.addEventListener('abort', forward);
  deletion(ks, myKey, seenAt, inner.signal).then(
    () => inner.abort(new KeyLostError('own key deleted while waiting')),
    () => {}, // aborted: the wait below is over already
  );
  try {
    const done = await waitDeletes(ks, prefix, myRevision - 1, inner.signal);
    // The last read saw no predecessor; it must also have seen our key alive.
    const mine = await ks.range({ key: myKey });
    if (mine.kvs[0]?.createRevision !== myRevision) throw new KeyLostError('own key deleted while waiting');
    return done;
  } finally {
    signal.removeEventListener('abort', forward);
    inner.abort(new Error('wait over'));
  }
}
