// What a client request needs when auth is enabled, as etcd 3.4 checks it:
// Range reads its range; Put writes its key (and reads it with prev_kv, and
// writes every key already attached to its lease); DeleteRange writes its
// range (and reads it with prev_kv); a Txn needs read on every compare and
// what each op of both branches needs, nested txns included; LeaseRevoke
// writes every key attached to the lease; a watch reads its range.
import type { DeleteRangeRequest, LeaseId, PutRequest, RangeRequest, RequestOp, TxnRequest } from '../../mvcc/types.js';
import type { KeyAccess } from './key-permissions.js';

/** The keys attached to a lease now (none for an unknown lease). */
export type LeaseKeys = (id: LeaseId) => Uint8Array[];

const read = (key: Uint8Array, rangeEnd?: Uint8Array): KeyAccess => ({ kind: 'read', key, ...(rangeEnd && { rangeEnd }) });
const write = (key: Uint8Array, rangeEnd?: Uint8Array): KeyAccess => ({ kind: 'write', key, ...(rangeEnd && { rangeEnd }) });

export function rangeAccess(req: Pick<RangeRequest, 'key' | 'rangeEnd'>): KeyAccess[] {
  return [read(req.key, req.rangeEnd)];
}

export function putAccess(req: PutRequest, leaseKeys: LeaseKeys): KeyAccess[] {
  const needs = [write(req.key)];
  if (req.prevKv) needs.push(read(req.key));
  if (req.lease !== undefined && req.lease !== 0n) needs.push(...leaseAccess(req.lease, leaseKeys));
  return needs;
}

export function deleteRangeAccess(req: DeleteRangeRequest): KeyAccess[] {
  const needs = [write(req.key, req.rangeEnd)];
  if (req.prevKv) needs.push(read(req.key, req.rangeEnd));
  return needs;
}

export function leaseAccess(id: LeaseId, leaseKeys: LeaseKeys): KeyAccess[] {
  return leaseKeys(id).map((key) => write(key));
}

function opAccess(op: RequestOp, leaseKeys: LeaseKeys): KeyAccess[] {
  if (op.requestRange) return rangeAccess(op.requestRange);
  if (op.requestPut) return putAccess(op.requestPut, leaseKeys);
  if (op.requestDeleteRange) return deleteRangeAccess(op.requestDeleteRange);
  if (op.requestTxn) return txnAccess(op.requestTxn, leaseKeys);
  return [];
}

export function txnAccess(req: TxnRequest, leaseKeys: LeaseKeys): KeyAccess[] {
  const needs = (req.compare ?? []).map((c) => read(c.key, c.rangeEnd));
  for (const op of [...(req.success ?? []), ...(req.failure ?? [])]) needs.push(...opAccess(op, leaseKeys));
  return needs;
}
