// Answering a RangeRequest from the key index at a given revision, with
// etcd's exact order of operations (etcdserver's applierV3backend.Range):
//
//  1. `count` is every key in the range at the revision, before anything else;
//  2. the min/max mod/create revision filters drop keys;
//  3. the result is sorted (a non-KEY target with order NONE sorts ASCEND;
//     KEY/ASCEND is already the natural order);
//  4. `limit` truncates, and `more` says whether it did.
//
// So filters apply before the limit, and `count` ignores the filters. Sorting
// is stable: keys that tie on the sort target stay in byte order (etcd leaves
// ties unspecified).

import {
  type History,
  type KeyIndex,
  createRevisionAt,
  historyKey,
  leaseAt,
  liveSlotAtRevision,
  modRevisionAt,
  valueAt,
  versionAt,
} from './key-index.js';
import { fromByteString, keyRange } from './keys.js';
import type { KeyValue, RangeRequest, SortTarget } from './types.js';

const EMPTY = new Uint8Array(0);

export interface RangeResult {
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

export function toKeyValue(h: History, slot: number, keysOnly = false): KeyValue {
  return {
    key: fromByteString(historyKey(h)),
    createRevision: createRevisionAt(h, slot),
    modRevision: modRevisionAt(h, slot),
    version: versionAt(h, slot),
    value: keysOnly ? EMPTY : fromByteString(valueAt(h, slot)),
    lease: leaseAt(h, slot),
  };
}

/** Reads `r` at `revision`, which the caller has already checked is retained. */
export function readRange(index: KeyIndex, r: RangeRequest, revision: number): RangeResult {
  const range = keyRange(r.key, r.rangeEnd);
  const limit = r.limit !== undefined && r.limit > 0 ? r.limit : 0;

  if (r.countOnly) {
    let count = 0;
    index.forEachInRange(range, (h) => {
      if (liveSlotAtRevision(h, revision) >= 0) count += 1;
    });
    return { kvs: [], more: false, count };
  }

  const order = effectiveSortOrder(r);
  const hasFilters = Boolean(r.minModRevision || r.maxModRevision || r.minCreateRevision || r.maxCreateRevision);

  if (order === 'NONE' && !hasFilters) {
    // Common case: key order, so only the first `limit` keys need building.
    const kvs: KeyValue[] = [];
    let count = 0;
    index.forEachInRange(range, (h) => {
      const slot = liveSlotAtRevision(h, revision);
      if (slot < 0) return;
      count += 1;
      if (limit === 0 || kvs.length < limit) kvs.push(toKeyValue(h, slot, r.keysOnly));
    });
    return { kvs, more: limit > 0 && count > limit, count };
  }

  let rows: Row[] = [];
  index.forEachInRange(range, (h) => {
    const slot = liveSlotAtRevision(h, revision);
    if (slot >= 0) rows.push({ h, slot });
  });
  const count = rows.length;
  rows = rows.filter(revisionFilter(r));
  if (order !== 'NONE') sortRows(rows, r.sortTarget ?? 'KEY', order);
  const more = limit > 0 && rows.length > limit;
  if (more) rows.length = limit;
  return { kvs: rows.map((row) => toKeyValue(row.h, row.slot, r.keysOnly)), more, count };
}

interface Row {
  h: History;
  slot: number;
}

function effectiveSortOrder(r: RangeRequest): 'NONE' | 'ASCEND' | 'DESCEND' {
  const order = r.sortOrder ?? 'NONE';
  const target = r.sortTarget ?? 'KEY';
  if (target !== 'KEY' && order === 'NONE') return 'ASCEND';
  if (target === 'KEY' && order === 'ASCEND') return 'NONE';
  return order;
}

function revisionFilter(r: RangeRequest): (row: Row) => boolean {
  const minMod = r.minModRevision ?? 0;
  const maxMod = r.maxModRevision ?? 0;
  const minCreate = r.minCreateRevision ?? 0;
  const maxCreate = r.maxCreateRevision ?? 0;
  return ({ h, slot }) => {
    const mod = modRevisionAt(h, slot);
    const create = createRevisionAt(h, slot);
    if (maxMod !== 0 && mod > maxMod) return false;
    if (minMod !== 0 && mod < minMod) return false;
    if (maxCreate !== 0 && create > maxCreate) return false;
    if (minCreate !== 0 && create < minCreate) return false;
    return true;
  };
}

function sortRows(rows: Row[], target: SortTarget, order: 'ASCEND' | 'DESCEND'): void {
  const sign = order === 'ASCEND' ? 1 : -1;
  const compare = (a: number | string, b: number | string): number => (a < b ? -sign : a > b ? sign : 0);
  const field = sortField(target);
  rows.sort((a, b) => compare(field(a), field(b)));
}

function sortField(target: SortTarget): (row: Row) => number | string {
  switch (target) {
    case 'KEY':
      return ({ h }) => historyKey(h);
    case 'VERSION':
      return ({ h, slot }) => versionAt(h, slot);
    case 'CREATE':
      return ({ h, slot }) => createRevisionAt(h, slot);
    case 'MOD':
      return ({ h, slot }) => modRevisionAt(h, slot);
    case 'VALUE':
      return ({ h, slot }) => valueAt(h, slot);
  }
}
