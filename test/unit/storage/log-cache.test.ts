import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogCache } from '../../../node/storage/log-cache.js';
import { CompactedError, UnavailableError } from '../../../node/raft/storage.js';
import { entries, entry } from './helpers.js';
import { seededRandom } from '../mvcc/helpers.js';
import { EntryType, type Entry } from '../../../node/raft/types.js';

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

/** A payload of `length` bytes that names its index and term in every byte. */
function payload(index: number, term: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let k = 0; k < length; k++) out[k] = (index * 31 + term * 7 + k) & 0xff;
  return out;
}

/**
 * The model-based run. With `spilling`, a fake WAL places each entry some
 * steps after it is appended, a commit index trails the appends (only the
 * uncommitted tail is ever rewritten, as in Raft), and the log spills at
 * every step, so reads go to the fake WAL for every spilled chunk.
 */
function modelRun(seed: number, spilling: boolean): { coldReads: number } {
  const random = seededRandom(seed);
  const log = new LogCache();
  const wal = new Map<number, Entry>();
  let coldReads = 0;
  if (spilling) {
    log.readColdFrom((seq, offset, term, index, length) => {
      const written = wal.get(offset);
      assert.equal(seq, 7);
      assert.ok(written && written.term === term && written.index === index && written.data.length === length, `cold read of ${index} at ${offset}`);
      coldReads += 1;
      return Uint8Array.from(written.data);
    });
  }
  let unplaced: Entry[] = [];
  let nextOffset = 1;
  let committed = 0;
  // The model: the plain array of entries the log must answer with.
  let base = { index: 0, term: 0 };
  let model: Entry[] = [];
  let term = 1;
  // Views handed out earlier must keep their bytes whatever the log does later.
  const held: { view: Uint8Array; expect: Uint8Array }[] = [];
  // Spilling needs a log longer than a chunk: fewer compactions and snapshots then.
  const [compactBelow, snapshotBelow] = spilling ? [0.72, 0.73] : [0.8, 0.83];
  for (let step = 0; step < 3000; step++) {
    const roll = random();
    const last = base.index + model.length;
    if (roll < 0.7) {
      // Append, sometimes rewriting a suffix under a new term.
      let from = model.length > 0 && random() < 0.1 ? last - Math.floor(random() * Math.min(5, model.length)) : last + 1;
      if (spilling) from = Math.max(from, committed + 1);
      if (from <= last) term += 1;
      const n = 1 + Math.floor(random() * 8);
      const batch: Entry[] = [];
      for (let i = from; i < from + n; i++) {
        const size = random() < 0.05 ? 40_000 + Math.floor(random() * 300_000) : random() < 0.1 ? 0 : Math.floor(random() * 600);
        batch.push({ term, index: i, type: random() < 0.05 ? EntryType.ConfChange : EntryType.Normal, data: payload(i, term, size) });
      }
      log.append(batch);
      model = model.slice(0, from - base.index - 1).concat(batch);
      unplaced.push(...batch);
    } else if (roll < compactBelow && model.length > 0) {
      const to = base.index + 1 + Math.floor(random() * model.length);
      log.compact(to);
      model = model.slice(to - base.index);
      base = { index: to, term: log.term(to) };
      committed = Math.max(committed, to);
    } else if (roll < snapshotBelow) {
      // A leader's snapshot ahead of or conflicting with the log replaces it.
      const at = last + Math.floor(random() * 3);
      term += 1;
      log.applySnapshot({ index: at, term });
      // One not newer than the base is ignored.
      if (at > base.index) {
        base = { index: at, term };
        model = [];
        committed = Math.max(committed, at);
      }
    } else if (model.length > 0) {
      const lo = base.index + 1 + Math.floor(random() * model.length);
      const hi = lo + 1 + Math.floor(random() * (last - lo + 1));
      const got = log.entries(lo, hi);
      assert.deepEqual(got, model.slice(lo - base.index - 1, hi - base.index - 1));
      for (const e of got.slice(0, 2)) if (e.data.length > 0) held.push({ view: e.data, expect: Uint8Array.from(e.data) });
    }
    if (spilling) {
      // The WAL reports writes in order, some steps late; rewritten entries were written too.
      if (random() < 0.5) {
        for (const e of unplaced) {
          wal.set(nextOffset, { ...e, data: Uint8Array.from(e.data) });
          log.place(e.term, e.index, 7, nextOffset);
          nextOffset += 1;
        }
        unplaced = [];
      }
      committed = Math.min(base.index + model.length, committed + Math.floor(random() * 6));
      log.spill(committed);
    }
    assert.equal(log.firstIndex(), base.index + 1);
    assert.equal(log.lastIndex(), base.index + model.length);
    assert.equal(log.term(base.index), base.term);
  }
  for (const { view, expect } of held) assert.deepEqual(view, expect);
  if (model.length > 0) assert.deepEqual(log.entries(base.index + 1, base.index + model.length + 1), model);
  return { coldReads };
}

test('payloads read back exactly across appends, rewritten suffixes, compactions and snapshots (model-based)', () => {
  modelRun(16, false);
});

test('with committed chunks spilled to a (fake) WAL, the same run reads back the same entries', () => {
  const { coldReads } = modelRun(16, true);
  assert.ok(coldReads > 100, `only ${coldReads} reads went to the WAL`);
});

test('a read cut by maxBytes takes whole entries, and at least one', () => {
  const log = new LogCache({ index: 0, term: 0 }, [1, 2, 3, 4].map((i) => ({ term: 1, index: i, type: EntryType.Normal, data: payload(i, 1, 100) })));
  assert.deepEqual(log.entries(1, 5, 250).map((e) => e.index), [1, 2]);
  assert.deepEqual(log.entries(1, 5, 50).map((e) => e.index), [1]);
  assert.deepEqual(log.entries(2, 5, 300).map((e) => e.index), [2, 3, 4]);
});

test('payloads are copied: changing the appended array changes nothing stored', () => {
  const data = payload(1, 1, 64);
  const log = new LogCache({ index: 0, term: 0 }, [{ term: 1, index: 1, type: EntryType.Normal, data }]);
  data.fill(0);
  assert.deepEqual(log.entries(1, 2)[0]!.data, payload(1, 1, 64));
});

test('compaction lets go of the chunks of the entries it drops', () => {
  const log = new LogCache();
  const batch = (from: number, n: number, size: number): Entry[] =>
    Array.from({ length: n }, (_, k) => ({ term: 1, index: from + k, type: EntryType.Normal, data: payload(from + k, 1, size) }));
  log.append(batch(1, 10_000, 300));
  log.append(batch(10_001, 4, 1_000_000));
  const full = log.heldBytes;
  assert.ok(full >= 10_000 * 300 + 4_000_000, `held ${full}`);
  log.compact(10_000);
  assert.ok(log.heldBytes <= 4_000_000 + 256 * 1024, `after compacting the small entries: ${log.heldBytes}`);
  log.compact(10_004);
  assert.equal(log.heldBytes, 0);
  log.append(batch(10_005, 3, 300));
  assert.deepEqual(log.entries(10_005, 10_008).map((e) => e.data), batch(10_005, 3, 300).map((e) => e.data));
  log.applySnapshot({ index: 10_006, term: 2 });
  assert.equal(log.heldBytes, 0, 'a snapshot that replaces the log drops its chunks');
});
