// Checks on a request's shape alone, needing no store state: what etcd's gRPC
// layer rejects before proposing. The store runs them again at apply time so
// a malformed entry can never half-apply; the API layer may call them early
// to fail fast without spending a log entry.

import { errors } from './errors.js';
import { type ByteString, type KeyRange, keyRange, rangeContains, toByteString } from './keys.js';
import type { DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from './types.js';

/** etcd's default --max-txn-ops. */
export const DEFAULT_MAX_TXN_OPS = 128;

export function validateRange(r: RangeRequest): void {
  if (r.key.length === 0) throw errors.emptyKey();
}

export function validatePut(r: PutRequest): void {
  if (r.key.length === 0) throw errors.emptyKey();
  if (r.ignoreValue && r.value !== undefined && r.value.length !== 0) throw errors.valueProvided();
  if (r.ignoreLease && r.lease !== undefined && r.lease !== 0n) throw errors.leaseProvided();
}

export function validateDeleteRange(r: DeleteRangeRequest): void {
  if (r.key.length === 0) throw errors.emptyKey();
}

export function validateTxn(r: TxnRequest, maxTxnOps = DEFAULT_MAX_TXN_OPS): void {
  checkTxnShape(r, maxTxnOps);
  checkWrittenKeys(r.success ?? []);
  checkWrittenKeys(r.failure ?? []);
}

/** True when no branch of the txn, at any depth, writes. */
export function isReadOnlyTxn(r: TxnRequest): boolean {
  const readOnly = (ops: RequestOp[] | undefined): boolean =>
    (ops ?? []).every(
      (op) =>
        op.requestRange !== undefined || (op.requestTxn !== undefined && isReadOnlyTxn(op.requestTxn)),
    );
  return readOnly(r.success) && readOnly(r.failure);
}

function checkTxnShape(r: TxnRequest, maxTxnOps: number): void {
  const compare = r.compare ?? [];
  const success = r.success ?? [];
  const failure = r.failure ?? [];
  // Like etcd, nested txns share the budget: each level spends its widest list.
  const widest = Math.max(compare.length, success.length, failure.length);
  if (widest > maxTxnOps) throw errors.tooManyOps();
  for (const c of compare) if (c.key.length === 0) throw errors.emptyKey();
  for (const op of [...success, ...failure]) checkRequestOp(op, maxTxnOps - widest);
}

function checkRequestOp(op: RequestOp, maxTxnOps: number): void {
  if (op.requestRange !== undefined) validateRange(op.requestRange);
  else if (op.requestPut !== undefined) validatePut(op.requestPut);
  else if (op.requestDeleteRange !== undefined) validateDeleteRange(op.requestDeleteRange);
  else if (op.requestTxn !== undefined) checkTxnShape(op.requestTxn, maxTxnOps);
  // etcd answers an empty RequestOp with "key not found".
  else throw errors.keyNotFound();
}

/**
 * etcd's rule that one txn may write a key at most once: within an op list
 * (and the nested txns below it) no key is put twice, and no put falls inside
 * a delete range. The success and failure branches of a nested txn exclude
 * each other, so they may put the same key. Deletes may overlap each other.
 * Returns the keys put and ranges deleted by the list, for the parent level.
 *
 * One deliberate difference: a delete whose rangeEnd is "\0" covers every key
 * from its start here, as it does when applied; etcd's interval check treats
 * it as an empty interval and lets a put of a covered key through.
 */
function checkWrittenKeys(ops: RequestOp[]): { puts: Set<ByteString>; deletes: KeyRange[] } {
  const deletes: KeyRange[] = [];
  for (const op of ops) {
    const d = op.requestDeleteRange;
    if (d !== undefined) deletes.push(keyRange(d.key, d.rangeEnd));
  }
  const deleted = (key: ByteString): boolean => deletes.some((range) => rangeContains(range, key));

  const puts = new Set<ByteString>();
  for (const op of ops) {
    const t = op.requestTxn;
    if (t === undefined) continue;
    const then = checkWrittenKeys(t.success ?? []);
    const otherwise = checkWrittenKeys(t.failure ?? []);
    for (const key of then.puts) {
      if (puts.has(key) || deleted(key)) throw errors.duplicateKey();
      puts.add(key);
    }
    for (const key of otherwise.puts) {
      if ((puts.has(key) && !then.puts.has(key)) || deleted(key)) throw errors.duplicateKey();
      puts.add(key);
    }
    // Later siblings and this level's puts must also miss this child's deletes.
    deletes.push(...then.deletes, ...otherwise.deletes);
  }

  for (const op of ops) {
    const p = op.requestPut;
    if (p === undefined) continue;
    const key = toByteString(p.key);
    if (puts.has(key) || deleted(key)) throw errors.duplicateKey();
    puts.add(key);
  }
  return { puts, deletes };
}
