import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogCache } from '../../../node/storage/log-cache.js';
import { CompactedError, UnavailableError } from '../../../node/raft/storage.js';
import { entries, entry } from './helpers.js';

test('a rewritten index replaces the suffix after it', () => {
  const log = new LogCache();
  log.append(entries(1, 10, 1));
  log.append([entry(6, 2), entry(7, 2)]);
  assert.equal(log.lastIndex(), 7);
  assert.deepEqual(log.entries(5, 8).map((e) => e.term), [1, 2, 2]);
});

test('an append that would leave a gap is refused', () => {
  const log = new LogCache();
  log.append(entries(1, 3, 1));
  assert.throws(() => log.append([entry(5, 1)]), /gap/);
  assert.throws(() => log.append([entry(4, 1), entry(6, 1)]), /not contiguous/);
  assert.equal(log.lastIndex(), 3);
});

test('reads outside the retained range throw the Raft core errors', () => {
  const log = new LogCache({ index: 10, term: 4 }, entries(11, 15, 4));
  assert.equal(log.term(10), 4);
  assert.throws(() => log.term(9), CompactedError);
  assert.throws(() => log.entries(10, 12), CompactedError);
  assert.throws(() => log.entries(11, 17), UnavailableError);
  assert.throws(() => log.term(16), UnavailableError);
  assert.deepEqual(log.entries(11, 13).map((e) => e.index), [11, 12]);
});

test('a snapshot of our own log keeps the entries after it; a foreign one drops the log', () => {
  const own = new LogCache({ index: 0, term: 0 }, entries(1, 10, 2));
  own.applySnapshot({ index: 6, term: 2 });
  assert.equal(own.firstIndex(), 7);
  assert.equal(own.lastIndex(), 10);

  const foreign = new LogCache({ index: 0, term: 0 }, entries(1, 10, 2));
  foreign.applySnapshot({ index: 6, term: 3 });
  assert.equal(foreign.firstIndex(), 7);
  assert.equal(foreign.lastIndex(), 6);
  assert.equal(foreign.term(6), 3);
});

test('compaction keeps the term of the last dropped entry', () => {
  const log = new LogCache({ index: 0, term: 0 }, [...entries(1, 4, 1), ...entries(5, 8, 2)]);
  log.compact(5);
  assert.equal(log.firstIndex(), 6);
  assert.equal(log.term(5), 2);
  assert.throws(() => log.compact(9), UnavailableError);
});
