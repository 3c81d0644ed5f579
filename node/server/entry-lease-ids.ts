// Lease IDs inside a server request, for the entry encodings that carry
// them as something other than bigints: older layouts write them as
// JavaScript numbers, and every decoder hands over numbers for small
// integers. One walk finds every lease ID a request can hold (puts, txn
// compares and ops at any depth, grants, revokes, checkpoints, renewals).
import type { ApplyRequest, Compare, LeaseId, PutRequest, RequestOp, TxnRequest } from '../mvcc/types.js';
import type { ServerRequest } from './entry.js';
import { errLeaseNotFound } from './errors.js';

type MapId = (id: unknown) => unknown;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A copy of `request` with `f` applied to each lease ID (the parts without one are shared). */
export function mapLeaseIds(request: ServerRequest, f: MapId): ServerRequest {
  if ('mvcc' in request) {
    const r = request.mvcc;
    if ('put' in r) return { mvcc: { put: mapPut(r.put, f) } };
    if ('txn' in r) return { mvcc: { txn: mapTxn(r.txn, f) } };
    if ('leaseGrant' in r) return { mvcc: { leaseGrant: { ...r.leaseGrant, id: f(r.leaseGrant.id) as LeaseId } } };
    if ('leaseRevoke' in r) return { mvcc: { leaseRevoke: { ...r.leaseRevoke, id: f(r.leaseRevoke.id) as LeaseId } } };
    if ('leaseCheckpoint' in r) {
      return { mvcc: { leaseCheckpoint: { checkpoints: r.leaseCheckpoint.checkpoints.map((c) => ({ ...c, id: f(c.id) as LeaseId })) } } };
    }
    return request;
  }
  if ('asUser' in request) {
    const inner = mapLeaseIds({ mvcc: request.asUser.mvcc }, f) as { mvcc: ApplyRequest };
    return { asUser: { revision: request.asUser.revision, mvcc: inner.mvcc } };
  }
  if ('leaseRenew' in request) return { leaseRenew: { id: f(request.leaseRenew.id) as LeaseId } };
  if ('leaseRenewBatch' in request) return { leaseRenewBatch: { ids: request.leaseRenewBatch.ids.map((id) => f(id) as LeaseId) } };
  return request;
}

function mapPut(p: PutRequest, f: MapId): PutRequest {
  return p.lease === undefined ? p : { ...p, lease: f(p.lease) as LeaseId };
}

function mapCompare(c: Compare, f: MapId): Compare {
  return c.lease === undefined ? c : { ...c, lease: f(c.lease) as LeaseId };
}

function mapOp(op: RequestOp, f: MapId): RequestOp {
  if (op.requestPut) return { requestPut: mapPut(op.requestPut, f) };
  if (op.requestTxn) return { requestTxn: mapTxn(op.requestTxn, f) };
  return op;
}

function mapTxn(t: TxnRequest, f: MapId): TxnRequest {
  return {
    ...(t.compare && { compare: t.compare.map((c) => mapCompare(c, f)) }),
    ...(t.success && { success: t.success.map((op) => mapOp(op, f)) }),
    ...(t.failure && { failure: t.failure.map((op) => mapOp(op, f)) }),
  };
}

/** A lease ID as a decoded entry carries it (a number or a bigint), checked to be an int64. */
export function decodedLeaseId(id: unknown): LeaseId {
  let n: bigint;
  if (typeof id === 'bigint') n = id;
  else if (typeof id === 'number' && Number.isInteger(id)) n = BigInt(id);
  else throw new Error(`server: an entry carries lease ID ${String(id)}, not an integer`);
  if (n < INT64_MIN || n > INT64_MAX) throw new Error(`server: an entry carries lease ID ${n}, beyond int64`);
  return n;
}

/**
 * A lease ID for the layouts before int64 lease IDs (numbers). One they
 * cannot hold exactly names no lease: none can be granted before the
 * cluster reads int64 IDs, so the request is answered as etcd answers it.
 */
export function legacyLeaseId(id: unknown): number {
  const n = Number(id);
  if (!Number.isSafeInteger(n)) throw errLeaseNotFound();
  return n;
}
