import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MvccStore } from '../../../node/mvcc/index.js';
import { COMPACTED, Driver, FUTURE, assertMvccError, bytes, text } from './helpers.js';

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

  it('events after the compact revision still resolve once compaction has copied the histories', () => {
    const d = history();
    d.compact(5);
    const events = (rev: number) =>
      d.store.eventsAt(rev, null, true).map((e) => `${e.type} ${text(e.kv.key)}=${text(e.kv.value)} prev=${e.prevKv ? text(e.prevKv.value) : '-'}`);
    assert.deepEqual(events(5), ['DELETE b= prev=-'], 'the tombstone at the compact revision stays (a watch may start there)');
    assert.deepEqual(events(6), ['PUT c=1 prev=-']);
    assert.deepEqual(events(7), ['PUT a=3 prev=2']);
    d.put('a', '4'); // 8
    d.compact(7);
    d.put('c', '2'); // 9
    assert.deepEqual(events(8), ['PUT a=4 prev=3']);
    assert.deepEqual(events(9), ['PUT c=2 prev=1']);
    // The state survives a snapshot of the compacted store.
    const restored = MvccStore.restore(d.store.snapshot());
    assert.deepEqual(restored.range({ key: bytes('a'), rangeEnd: bytes('z') }).kvs.map((kv) => text(kv.value)), ['4', '2']);
    assert.deepEqual(restored.eventsAt(9, null, false).map((e) => text(e.kv.key)), ['c']);
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

  it('keeps a tombstone written at the compact revision until the next compaction takes it', () => {
    const d = history();
    d.compact(5); // b's tombstone is at 5
    assert.equal(d.get('b'), undefined);
    assert.deepEqual(d.dump(5), ['a=2']);
    // A snapshot carries the lone tombstone, and the restored store compacts it away too.
    const restored = MvccStore.restore(d.store.snapshot());
    assert.deepEqual(restored.eventsAt(5, null, false).map((e) => `${e.type} ${text(e.kv.key)}`), ['DELETE b']);
    const compactAtSix = [() => d.compact(6), () => restored.apply(restored.appliedIndex + 1, { compaction: { revision: 6 } })];
    for (const [i, store] of [d.store, restored].entries()) {
      const before = store.sizeBytes;
      compactAtSix[i]!();
      // Compaction at 6 drops no record but b's tombstone (a=2 is still the one visible at 6).
      assert.ok(store.sizeBytes < before, 'the tombstone went with the next compaction');
      assert.deepEqual(store.eventsAt(5, null, false), []);
      assert.deepEqual(store.eventsAt(6, null, false).map((e) => `${e.type} ${text(e.kv.key)}`), ['PUT c']);
    }
    assert.equal(d.store.hash().hash, restored.hash().hash);
    d.put('b', 'again');
    assert.deepEqual([d.get('b')!.createRevision, d.get('b')!.version], [8, 1]);
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
