import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChangeLog } from '../../../node/mvcc/change-log.js';
import {
  KeyIndex,
  isTombstoneAt,
  liveSlotAtRevision,
  modRevisionAt,
  recordCount,
  slotAtRevision,
  slotOf,
  slotWrittenAt,
  versionAt,
} from '../../../node/mvcc/key-index.js';
import { fromByteString, keyRange, rangeContains, toByteString } from '../../../node/mvcc/keys.js';

/** k written at 2, 4, 6, deleted at 8, re-created at 10. */
function sample(): KeyIndex {
  const index = new KeyIndex();
  index.append('k', 2, 2, 1, 0n, 'a');
  index.append('k', 4, 2, 2, 0n, 'b');
  index.append('k', 6, 2, 3, 0n, 'c');
  index.append('k', 8, 0, 0, 0n, '');
  index.append('k', 10, 10, 1, 0n, 'd');
  return index;
}

describe('key index', () => {
  it('finds the record visible at any revision', () => {
    const index = sample();
    const h = index.get('k')!;
    const valueSeenAt = (rev: number) => {
      const slot = liveSlotAtRevision(h, rev);
      return slot < 0 ? null : index.valueString(h, slot);
    };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(valueSeenAt),
      [null, 'a', 'a', 'b', 'b', 'c', 'c', null, null, 'd', 'd'],
    );
    assert.equal(slotAtRevision(h, 1), -1);
    assert.ok(isTombstoneAt(h, slotAtRevision(h, 9)));
    assert.equal(slotWrittenAt(h, 5), -1);
    assert.equal(modRevisionAt(h, slotWrittenAt(h, 6)), 6);
  });

  it('compaction keeps the record visible at the revision and everything newer', () => {
    const index = sample();
    const original = index.get('k')!;
    const h = index.compactHistory(original, 5);
    index.replaceHistories(new Map([[original, h]]));
    assert.deepEqual([0, 1, 2].map((i) => modRevisionAt(h, slotOf(i))), [4, 6, 8]);
    assert.equal(versionAt(h, slotOf(0)), 2, 'versions survive compaction');
    assert.equal(index.get('k'), h, 'the compacted copy takes the key\'s place');
    assert.equal(recordCount(original), 0, 'the history it replaced holds no records (a second visit is a no-op)');
    assert.equal(index.compactHistory(original, 5), original);
    const h2 = index.compactHistory(h, 8);
    index.replaceHistories(new Map([[h, h2]]));
    assert.deepEqual([0, 1].map((i) => modRevisionAt(h2, slotOf(i))), [8, 10], 'a tombstone written at the compact revision stays');
    const h3 = index.compactHistory(h2, 9);
    index.replaceHistories(new Map([[h2, h3]]));
    assert.equal(recordCount(h3), 1, 'a compacted tombstone takes its generation with it');
    assert.equal(modRevisionAt(h3, slotOf(0)), 10);
    assert.equal(h3.length, 6, 'one record, nothing spare');
    assert.equal(index.recordCount, 1);
    assert.equal(index.valueString(h3, slotOf(0)), 'd');
  });

  it('drops a key whose last record is a compacted tombstone', () => {
    const index = new KeyIndex();
    index.append('gone', 2, 2, 1, 0n, 'v');
    index.append('gone', 3, 0, 0, 0n, '');
    const kept = index.compactHistory(index.get('gone')!, 3);
    index.replaceHistories(new Map([[index.get('gone')!, kept]]));
    assert.equal(recordCount(index.get('gone')!), 1, 'the tombstone at the compact revision stays until the next compaction');
    index.compactHistory(index.get('gone')!, 4);
    assert.equal(index.get('gone'), undefined);
    assert.equal(index.keyCount, 0);
    assert.equal(index.sizeBytes, 0);
  });

  it('visits ranges in byte order and stops when asked', () => {
    const index = new KeyIndex();
    for (const key of ['b', 'a', 'd', 'c']) index.append(key, 2, 2, 1, 0n, '');
    const visit = (range: ReturnType<typeof keyRange>, stopAfter = Infinity) => {
      const seen: string[] = [];
      index.forEachInRange(range, (h) => {
        seen.push(h[0] as string);
        return seen.length < stopAfter;
      });
      return seen;
    };
    const b = (s: string) => fromByteString(s);
    assert.deepEqual(visit(keyRange(b('b'), b('d'))), ['b', 'c']);
    assert.deepEqual(visit(keyRange(b('b'), new Uint8Array([0]))), ['b', 'c', 'd']);
    assert.deepEqual(visit(keyRange(b('a'), new Uint8Array([0])), 2), ['a', 'b']);
    assert.deepEqual(visit(keyRange(b('c'))), ['c']);
    assert.deepEqual(visit(keyRange(b('c'), b('c'))), []);
    assert.deepEqual(visit(keyRange(b('z'), new Uint8Array([0]))), []);
  });
});

describe('byte strings and key ranges', () => {
  it('round-trip every byte value and order like unsigned bytes', () => {
    const all = new Uint8Array(256).map((_, i) => i);
    assert.deepEqual(fromByteString(toByteString(all)), all);
    assert.ok(toByteString(new Uint8Array([0x7f])) < toByteString(new Uint8Array([0x80])));
    assert.ok(toByteString(new Uint8Array([0x01])) < toByteString(new Uint8Array([0x01, 0x00])));
  });

  it('decodes etcd rangeEnd conventions', () => {
    const k = (s: string) => fromByteString(s);
    assert.ok(rangeContains(keyRange(k('a')), 'a'));
    assert.ok(!rangeContains(keyRange(k('a')), 'ab'));
    assert.ok(rangeContains(keyRange(k('a'), new Uint8Array([0])), '\u00ff\u00ff'));
    assert.ok(!rangeContains(keyRange(k('b'), new Uint8Array([0])), 'a'));
    assert.ok(rangeContains(keyRange(k('a'), k('c')), 'bzz'));
    assert.ok(!rangeContains(keyRange(k('a'), k('c')), 'c'));
  });
});

describe('change log', () => {
  it('keeps write order and trims on compaction', () => {
    const index = new KeyIndex();
    const log = new ChangeLog(1);
    log.append(1, []);
    const a = index.append('a', 2, 2, 1, 0n, '1');
    log.append(2, [a]);
    const b = index.append('b', 3, 3, 1, 0n, '1');
    index.append('a', 3, 0, 0, 0n, '');
    log.append(3, [b, a]);
    assert.deepEqual(log.at(3).map((h) => h[0]), ['b', 'a']);
    assert.equal(log.countAt(3), 2);
    assert.throws(() => log.append(5, [a]), /expected revision 4/);

    for (const h of [a, b]) index.compactHistory(h, 3);
    log.compact(3);
    assert.equal(log.firstRevision, 3);
    assert.deepEqual(log.at(2), []);
    assert.deepEqual(log.at(3).map((h) => h[0]), ['b', 'a'], "a's tombstone at the compact revision is kept, and logged");
    log.compact(4);
    assert.deepEqual(log.at(3), []);
  });
});
