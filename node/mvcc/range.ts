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
  versionAt,
} from './key-index.js';
import { type KeyRange, fromByteString, keyRange } from './keys.js';
import { MIN_SAMPLED_KEYS, type RangeCounts, type RangeSamples, STRIDE, samplesBefore } from './range-counts.js';
import type { KeyValue, RangeRequest, SortTarget } from './types.js';

const EMPTY = new Uint8Array(0);

export interface RangeResult {
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

export function toKeyValue(index: KeyIndex, h: History, slot: number, keysOnly = false): KeyValue {
  return {
    key: fromByteString(historyKey(h)),
    createRevision: createRevisionAt(h, slot),
    modRevision: modRevisionAt(h, slot),
    version: versionAt(h, slot),
    value: keysOnly ? EMPTY : index.valueCopy(h, slot),
    lease: leaseAt(h, slot),
  };
}

/**
 * Reads `r` at `revision`, which the caller has already checked is retained.
 * `counts` (only for reads at a complete revision, never inside a write)
 * lets a paginated walk count its pages from samples.
 */
export function readRange(index: KeyIndex, r: RangeRequest, revision: number, counts?: RangeCounts): RangeResult {
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
    if (counts !== undefined && limit > 0 && !range.single) return readPage(index, range, limit, r.keysOnly === true, revision, counts);
    // Common case: key order, so only the first `limit` keys need building.
    const kvs: KeyValue[] = [];
    let count = 0;
    index.forEachInRange(range, (h) => {
      const slot = liveSlotAtRevision(h, revision);
      if (slot < 0) return;
      count += 1;
      if (limit === 0 || kvs.length < limit) kvs.push(toKeyValue(index, h, slot, r.keysOnly));
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
  if (order !== 'NONE') sortRows(index, rows, r.sortTarget ?? 'KEY', order);
  const more = limit > 0 && rows.length > limit;
  if (more) rows.length = limit;
  return { kvs: rows.map((row) => toKeyValue(index, row.h, row.slot, r.keysOnly)), more, count };
}

/**
 * One page of a key-ordered read with a limit. With samples for this range
 * and revision only the page is visited; otherwise the whole range is
 * scanned for `count`, and sampled when a walk is likely to come back.
 */
function readPage(index: KeyIndex, range: KeyRange & { single: false }, limit: number, keysOnly: boolean, revision: number, counts: RangeCounts): RangeResult {
  const kvs: KeyValue[] = [];
  const samples = counts.find(range, revision);
  if (samples !== undefined) {
    index.forEachInRange(range, (h) => {
      const slot = liveSlotAtRevision(h, revision);
      if (slot < 0) return true;
      kvs.push(toKeyValue(index, h, slot, keysOnly));
      return kvs.length < limit;
    });
    const count = samples.total - liveBefore(index, samples, range.start, revision);
    return { kvs, more: count > limit, count };
  }
  const keys: string[] = [];
  let count = 0;
  index.forEachInRange(range, (h) => {
    const slot = liveSlotAtRevision(h, revision);
    if (slot < 0) return;
    if (count % STRIDE === 0) keys.push(historyKey(h));
    count += 1;
    if (kvs.length < limit) kvs.push(toKeyValue(index, h, slot, keysOnly));
  });
  if (count > limit && count >= MIN_SAMPLED_KEYS) counts.remember({ start: range.start, end: range.end, revision, keys, total: count });
  return { kvs, more: count > limit, count };
}

/** Live keys at `revision` in [samples.start, key). */
function liveBefore(index: KeyIndex, samples: RangeSamples, key: string, revision: number): number {
  const j = samplesBefore(samples, key);
  // No sample below `key`: the first live key of the range is at or after it.
  if (j === 0) return 0;
  let n = (j - 1) * STRIDE;
  index.forEachInRange({ single: false, start: samples.keys[j - 1]!, end: key }, (h) => {
    if (liveSlotAtRevision(h, revision) >= 0) n += 1;
  });
  return n;
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

function sortRows(index: KeyIndex, rows: Row[], target: SortTarget, order: 'ASCEND' | 'DESCEND'): void {
  const sign = order === 'ASCEND' ? 1 : -1;
  const compare = (a: number | string, b: number | string): number => (a < b ? -sign : a > b ? sign : 0);
  const field = sortField(index, target);
  // Each row's field read once (a value is copied out of its slot to compare).
  const keyed = rows.map((row) => ({ row, field: field(row) }));
  keyed.sort((a, b) => compare(a.field, b.field));
  for (let i = 0; i < rows.length; i++) rows[i] = keyed[i]!.row;
}

function sortField(index: KeyIndex, target: SortTarget): (row: Row) => number | string {
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
      return ({ h, slot }) => index.valueString(h, slot);
  }
}
