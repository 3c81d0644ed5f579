import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RangeRequest } from '../../../node/mvcc/index.js';
import { Driver, FROM_KEY, bytes, prefixEnd, text } from './helpers.js';

/**
 * Keys and how they were written (revision in brackets):
 *   a: create [2], update [6]          -> version 2, create 2, mod 6, value "z"
 *   b: create [3]                      -> version 1, create 3, mod 3, value "m"
 *   c: create [4], update [7], [8]     -> version 3, create 4, mod 8, value "a"
 *   d: create [5]                      -> version 1, create 5, mod 5, value "q"
 */
function fixture(): Driver {
  const d = new Driver();
  d.put('a', 'x');
  d.put('b', 'm');
  d.put('c', 'y');
  d.put('d', 'q');
  d.put('a', 'z');
  d.put('c', 'b');
  d.put('c', 'a');
  return d;
}

const all = (extra: Partial<RangeRequest> = {}): RangeRequest => ({ key: bytes('a'), rangeEnd: FROM_KEY, ...extra });
const keys = (d: Driver, r: RangeRequest): string[] => d.store.range(r).kvs.map((kv) => text(kv.key));

describe('range', () => {
  it('reads a single key, a half-open range, a prefix and everything from a key', () => {
    const d = fixture();
    d.put('ab', '1');
    assert.deepEqual(keys(d, { key: bytes('b') }), ['b']);
    assert.deepEqual(keys(d, { key: bytes('nope') }), []);
    assert.deepEqual(keys(d, { key: bytes('a'), rangeEnd: bytes('c') }), ['a', 'ab', 'b']);
    assert.deepEqual(keys(d, { key: bytes('a'), rangeEnd: prefixEnd('a') }), ['a', 'ab']);
    assert.deepEqual(keys(d, { key: bytes('c'), rangeEnd: FROM_KEY }), ['c', 'd']);
    assert.deepEqual(keys(d, { key: FROM_KEY, rangeEnd: FROM_KEY }), ['a', 'ab', 'b', 'c', 'd']);
    assert.deepEqual(keys(d, { key: bytes('d'), rangeEnd: bytes('a') }), [], 'an inverted range is empty');
  });

  it('limit truncates, sets more, and count is the full total', () => {
    const d = fixture();
    const r = d.store.range(all({ limit: 2 }));
    assert.deepEqual(r.kvs.map((kv) => text(kv.key)), ['a', 'b']);
    assert.equal(r.more, true);
    assert.equal(r.count, 4);
    const exact = d.store.range(all({ limit: 4 }));
    assert.equal(exact.more, false);
    assert.equal(exact.kvs.length, 4);
  });

  it('keysOnly drops values and countOnly drops kvs', () => {
    const d = fixture();
    const keysOnly = d.store.range(all({ keysOnly: true }));
    assert.equal(keysOnly.kvs.length, 4);
    assert.ok(keysOnly.kvs.every((kv) => kv.value.length === 0 && kv.version > 0));
    const countOnly = d.store.range(all({ countOnly: true, limit: 1 }));
    assert.deepEqual(countOnly.kvs, []);
    assert.equal(countOnly.count, 4);
    assert.equal(countOnly.more, false);
  });

  it('sorts by each target in both orders', () => {
    const d = fixture();
    const sorted = (sortTarget: RangeRequest['sortTarget'], sortOrder: RangeRequest['sortOrder']) =>
      keys(d, all({ sortTarget, sortOrder }));
    assert.deepEqual(sorted('KEY', 'ASCEND'), ['a', 'b', 'c', 'd']);
    assert.deepEqual(sorted('KEY', 'DESCEND'), ['d', 'c', 'b', 'a']);
    assert.deepEqual(sorted('VERSION', 'ASCEND'), ['b', 'd', 'a', 'c']);
    assert.deepEqual(sorted('VERSION', 'DESCEND'), ['c', 'a', 'b', 'd']);
    assert.deepEqual(sorted('CREATE', 'ASCEND'), ['a', 'b', 'c', 'd']);
    assert.deepEqual(sorted('CREATE', 'DESCEND'), ['d', 'c', 'b', 'a']);
    assert.deepEqual(sorted('MOD', 'ASCEND'), ['b', 'd', 'a', 'c']);
    assert.deepEqual(sorted('MOD', 'DESCEND'), ['c', 'a', 'd', 'b']);
    assert.deepEqual(sorted('VALUE', 'ASCEND'), ['c', 'b', 'd', 'a']);
    assert.deepEqual(sorted('VALUE', 'DESCEND'), ['a', 'd', 'b', 'c']);
  });

  it('sorts ascending when a non-key target is given with order NONE, as etcd does', () => {
    const d = fixture();
    assert.deepEqual(keys(d, all({ sortTarget: 'MOD', sortOrder: 'NONE' })), ['b', 'd', 'a', 'c']);
  });

  it('applies limit after sorting', () => {
    const d = fixture();
    const r = d.store.range(all({ sortTarget: 'MOD', sortOrder: 'DESCEND', limit: 1 }));
    assert.deepEqual(r.kvs.map((kv) => text(kv.key)), ['c']);
    assert.equal(r.more, true);
    assert.equal(r.count, 4);
  });

  it('filters by mod and create revision before the limit; count ignores the filters', () => {
    const d = fixture();
    assert.deepEqual(keys(d, all({ minModRevision: 5 })), ['a', 'c', 'd']);
    assert.deepEqual(keys(d, all({ maxModRevision: 5 })), ['b', 'd']);
    assert.deepEqual(keys(d, all({ minCreateRevision: 3, maxCreateRevision: 4 })), ['b', 'c']);
    const limited = d.store.range(all({ minModRevision: 5, limit: 2 }));
    assert.deepEqual(limited.kvs.map((kv) => text(kv.key)), ['a', 'c']);
    assert.equal(limited.more, true);
    assert.equal(limited.count, 4);
  });

  it('applies filters and sort to historical reads', () => {
    const d = fixture();
    const r = d.store.range(all({ revision: 5, sortTarget: 'VALUE', sortOrder: 'ASCEND' }));
    assert.deepEqual(r.kvs.map((kv) => `${text(kv.key)}=${text(kv.value)}`), ['b=m', 'd=q', 'a=x', 'c=y']);
  });
});
