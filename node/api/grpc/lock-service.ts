// v3lockpb.Lock: etcd's distributed mutex, served by the member (etcd
// 3.4's v3lock server runs clientv3's concurrency.Mutex in process).
//
// Lock(name, lease): the caller's key is name + "/" + the lease ID in hex,
// created with the lease in one txn unless it exists already (a session
// that asks again keeps its place); the caller holds the lock once no key
// under the prefix has a lower create revision. Unlock(key) deletes the key.
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { ServiceContext } from './services.js';
import { headerPb, leaseId, type Pb } from './convert.js';
import { KeyLostError, prefixEnd, waitForTurn, type Keyspace } from './key-queue.js';
import { DEFAULT_SESSION_TTL, RecipeError, bytesField, callerKeyspace, leaseHex, recipeUnary } from './recipe-call.js';

/** etcd's concurrency.ErrSessionExpired (3.5): the waiter's key went with its lease. */
export const ERR_SESSION_EXPIRED = 'mutex: session is expired';

export interface LockResult {
  key: Uint8Array;
  /** The revision of the read (or txn) that showed the caller at the head. */
  revision: number;
}

/** Takes the lock `name` for `lease` (0: a fresh 60 s lease), waiting for earlier holders. */
export async function lock(ks: Keyspace, name: Uint8Array, lease: bigint, signal: AbortSignal): Promise<LockResult> {
  const id = lease !== 0n ? lease : (await ks.leaseGrant(DEFAULT_SESSION_TTL)).id;
  const prefix = Buffer.concat([name, Buffer.from('/')]);
  const key = Buffer.concat([prefix, Buffer.from(leaseHex(id))]);
  const owner = { requestRange: { key: prefix, rangeEnd: prefixEnd(prefix), sortTarget: 'CREATE' as const, sortOrder: 'ASCEND' as const, limit: 1 } };
  const res = await ks.txn({
    compare: [{ target: 'CREATE', result: 'EQUAL', key, createRevision: 0 }],
    success: [{ requestPut: { key, value: new Uint8Array(), lease: id } }, owner],
    failure: [{ requestRange: { key } }, owner],
  });
  const myRevision = res.succeeded ? res.header.revision : res.responses[0]!.responseRange!.kvs[0]!.createRevision;
  const head = res.responses[1]!.responseRange!.kvs[0];
  // Uncontended: one round trip.
  if (!head || head.createRevision === myRevision) return { key, revision: res.header.revision };
  try {
    const done = await waitForTurn(ks, prefix, key, myRevision, res.header.revision, signal);
    return { key, revision: done.header.revision };
  } catch (err) {
    if (err instanceof KeyLostError) throw new RecipeError(ERR_SESSION_EXPIRED);
    // A wait that failed (the caller gave up, a read timed out) leaves the
    // queue, as etcd's Mutex does, so no one waits behind a key nobody holds.
    ks.deleteRange({ key }).catch(() => {});
    throw err;
  }
}

export function lockService(ctx: ServiceContext): UntypedServiceImplementation {
  const { server, logger } = ctx;
  const certAuth = ctx.clientCertAuth ?? false;
  return {
    Lock: recipeUnary(logger, async (req, signal, call) => {
      const ks = callerKeyspace(server, call, certAuth);
      const held = await lock(ks, bytesField(req.name), leaseId(req.lease, 'lease'), signal);
      return { header: headerPb({ ...server.header(), revision: held.revision }), key: Buffer.from(held.key) };
    }),
    Unlock: recipeUnary(logger, async (req: Pb, _signal, call) => {
      const res = await callerKeyspace(server, call, certAuth).deleteRange({ key: bytesField(req.key) });
      return { header: headerPb({ ...server.header(), revision: res.header.revision }) };
    }),
  };
}
