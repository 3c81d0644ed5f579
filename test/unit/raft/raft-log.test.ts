import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage } from '../../../node/raft/memory-storage.js';
import { RaftLog } from '../../../node/raft/raft-log.js';
import { EntryType, type Entry } from '../../../node/raft/types.js';

const e = (index: number, term: number, data = ''): Entry => ({ index, term, type: EntryType.Normal, data: new TextEncoder().encode(data) });

function logWith(terms: number[]): RaftLog {
  const storage = new MemoryStorage();
  storage.append(terms.map((t, i) => e(i + 1, t)));
  return new RaftLog(storage);
}

test('maybeAppend accepts matching entries, truncates a conflicting suffix and advances commit', () => {
  const log = logWith([1, 1, 2, 2]);
  assert.equal(log.maybeAppend(2, 1, 3, [e(3, 3), e(4, 3), e(5, 3)]), 5);
  assert.deepEqual([1, 2, 3, 4, 5].map((i) => log.term(i)), [1, 1, 3, 3, 3]);
  assert.equal(log.committed, 3);
  // A mismatching previous entry is refused and nothing changes.
  assert.equal(log.maybeAppend(5, 2, 5, [e(6, 3)]), undefined);
  assert.equal(log.lastIndex(), 5);
});

test('maybeAppend never moves commit past the entries it was given', () => {
  const log = logWith([1, 1, 1]);
  assert.equal(log.maybeAppend(1, 1, 10, [e(2, 1)]), 2);
  assert.equal(log.committed, 2, 'commit is bounded by the last new entry, not the leader’s commit');
});

test('a conflict with a committed entry is an invariant violation', () => {
  const log = logWith([1, 1, 1]);
  log.commitTo(3);
  assert.throws(() => log.maybeAppend(1, 1, 3, [e(2, 2)]), /conflicts with committed entry/);
});

test('findConflictByTerm skips a whole divergent term', () => {
  const log = logWith([1, 1, 2, 2, 2, 5, 5]);
  assert.equal(log.findConflictByTerm(7, 4), 5, 'the last index with term <= 4');
  assert.equal(log.findConflictByTerm(7, 1), 2);
  assert.equal(log.findConflictByTerm(3, 9), 3);
  assert.equal(log.findConflictByTerm(7, 0), 0);
});

test('isUpToDate compares last term first, then length', () => {
  const log = logWith([1, 2, 2]);
  assert.equal(log.isUpToDate(3, 2), true);
  assert.equal(log.isUpToDate(2, 2), false, 'same term, shorter log');
  assert.equal(log.isUpToDate(1, 3), true, 'higher last term wins even when shorter');
  assert.equal(log.isUpToDate(10, 1), false, 'lower last term loses even when longer');
});

test('slice spans stable and unstable entries and honours the byte limit (at least one entry)', () => {
  const log = logWith([1, 1]);
  log.append([e(3, 2, 'xxxx'), e(4, 2, 'yyyy')]);
  assert.deepEqual(log.slice(1, 5)!.map((x) => x.index), [1, 2, 3, 4]);
  assert.deepEqual(log.slice(3, 5, 5)!.map((x) => x.index), [3]);
  assert.deepEqual(log.slice(3, 5, 1)!.map((x) => x.index), [3], 'one entry even when it alone exceeds the limit');
  assert.throws(() => log.slice(1, 9), /beyond last index/);
});

test('slice of a compacted range returns undefined (the leader must send a snapshot)', () => {
  const storage = new MemoryStorage();
  storage.append([e(1, 1), e(2, 1), e(3, 1), e(4, 1)]);
  storage.createSnapshot(3, { voters: [1], learners: [] }, new Uint8Array([7]));
  storage.compact(3);
  const log = new RaftLog(storage);
  assert.equal(log.slice(2, 4), undefined);
  assert.equal(log.term(3), 1, 'the snapshot’s own index still has a term');
  assert.equal(log.term(2), undefined);
  assert.deepEqual(log.slice(4, 5)!.map((x) => x.index), [4]);
});

test('unstable entries become stable after stableTo, and restore replaces the log', () => {
  const log = logWith([1]);
  log.append([e(2, 1), e(3, 1)]);
  assert.deepEqual(log.pendingEntries().map((x) => x.index), [2, 3]);
  log.stableTo(3, 1);
  assert.deepEqual(log.pendingEntries(), []);
  log.restore({ meta: { index: 10, term: 4, conf: { voters: [1], learners: [] } }, data: new Uint8Array() });
  assert.equal(log.lastIndex(), 10);
  assert.equal(log.committed, 10);
  assert.equal(log.term(10), 4);
  assert.deepEqual(log.nextCommittedEntries(), [], 'no entries to apply while a snapshot is pending');
});

test('applied may not pass committed', () => {
  const log = logWith([1, 1]);
  log.commitTo(1);
  assert.throws(() => log.appliedTo(2), /outside/);
  log.appliedTo(1);
  assert.equal(log.applied, 1);
});

test('slice: the byte limit applies across the stable and unstable parts', () => {
  const storage = new MemoryStorage();
  storage.append([e(1, 1, 'aaaa'), e(2, 1, 'bbbb')]);
  const log = new RaftLog(storage);
  log.append([e(3, 1, 'cccc'), e(4, 1, 'dddd')]);
  assert.deepEqual(log.slice(1, 5, 8)!.map((x) => x.index), [1, 2], 'the stable part fills the budget');
  assert.deepEqual(log.slice(2, 5, 8)!.map((x) => x.index), [2, 3], 'the rest of the budget goes to unstable entries');
  assert.deepEqual(log.slice(1, 5, 7)!.map((x) => x.index), [1]);
  assert.deepEqual(log.slice(3, 5, 1)!.map((x) => x.index), [3], 'at least one entry');
  assert.deepEqual(log.slice(1, 5)!.map((x) => x.index), [1, 2, 3, 4]);
});

test('a committed backlog of hundreds of thousands of entries is handed out in bounded slices', () => {
  const n = 300_000;
  const storage = new MemoryStorage();
  const entries: Entry[] = [];
  for (let i = 1; i <= n; i++) entries.push(e(i, 1, 'x'.repeat(100)));
  storage.append(entries);
  const log = new RaftLog(storage);
  log.commitTo(n);
  const unbounded = log.nextCommittedEntries();
  assert.equal(unbounded.length, n, 'no stack overflow on a long range');
  const first = log.nextCommittedEntries(1024 * 1024);
  assert.equal(first.length, Math.floor((1024 * 1024) / 100));
  assert.equal(first[0]!.index, 1);
});
