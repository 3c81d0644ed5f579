import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMPACTED, Driver, FUTURE, assertMvccError, bytes } from './helpers.js';

describe('compaction', () => {
  function history(): Driver {
    const d = new Driver();
    d.put('a', '1'); // 2
    d.put('b', '1'); // 3
    d.put('a', '2'); // 4
    d.del('b'); // 5
    d.put('c', '1'); // 6
    d.put('a', '3'); // 7
    return d;
  }

  it('keeps the state at the compact revision and everything after it', () => {
    const d = history();
    const atFive = d.dump(5);
    const atSix = d.dump(6);
    const current = d.dump();
    d.compact(5);
    assert.equal(d.store.compactRevision, 5);
    assert.deepEqual(d.dump(5), atFive);
    assert.deepEqual(d.dump(6), atSix);
    assert.deepEqual(d.dump(), current);
  });

  it('refuses reads below the compact revision', () => {
    const d = history();
    d.compact(5);
    assertMvccError(() => d.store.range({ key: bytes('a'), revision: 4 }), 'OUT_OF_RANGE', COMPACTED);
    assertMvccError(() => d.store.hash(4), 'OUT_OF_RANGE', COMPACTED);
  });

  it('refuses compacting the future or an already-compacted revision', () => {
    const d = history();
    assertMvccError(() => d.compact(8), 'OUT_OF_RANGE', FUTURE);
    d.compact(4);
    assertMvccError(() => d.compact(4), 'OUT_OF_RANGE', COMPACTED);
    assertMvccError(() => d.compact(3), 'OUT_OF_RANGE', COMPACTED);
    d.compact(7);
    assert.equal(d.store.compactRevision, 7);
  });

  it('refuses compacting revision 0 (a fresh store counts as compacted at 0)', () => {
    const d = new Driver();
    assertMvccError(() => d.compact(0), 'OUT_OF_RANGE', COMPACTED);
    d.compact(1);
    assert.equal(d.store.compactRevision, 1);
  });

  it('does not change the revision', () => {
    const d = history();
    const response = d.compact(6);
    assert.equal(response.header.revision, 7);
    assert.equal(d.store.revision, 7);
  });

  it('keeps the latest version of every live key, with its create revision and version', () => {
    const d = history();
    d.compact(7);
    const a = d.get('a')!;
    assert.deepEqual([a.createRevision, a.modRevision, a.version], [2, 7, 3]);
    d.put('a', '4');
    assert.equal(d.get('a')!.version, 4);
    assert.deepEqual(d.dump(7), ['a=3', 'c=1']);
  });

  it('forgets deleted keys once their tombstone is compacted, and they can come back', () => {
    const d = history();
    d.compact(6);
    assert.equal(d.get('b'), undefined);
    d.put('b', 'again');
    const b = d.get('b')!;
    assert.deepEqual([b.createRevision, b.version], [8, 1]);
  });

  it('frees the history it drops', () => {
    const d = new Driver();
    for (let i = 0; i < 50; i++) d.put('k', 'v'.repeat(100));
    const before = d.store.sizeBytes;
    d.compact(d.store.revision);
    assert.ok(d.store.sizeBytes < before / 10);
    assert.equal(d.get('k')!.version, 50);
  });
});
