import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RangeRequest, RangeResponse } from '../../../node/mvcc/index.js';
import { KeyIndex } from '../../../node/mvcc/key-index.js';
import { keyRange } from '../../../node/mvcc/keys.js';
import { readRange } from '../../../node/mvcc/range.js';
import { MIN_SAMPLED_KEYS, RangeCounts, STRIDE } from '../../../node/mvcc/range-counts.js';
import { Driver, FROM_KEY, bytes, prefixEnd, seededRandom, text } from './helpers.js';

const PREFIX = '/registry/configmaps/default/';
const name = (i: number): string => `${PREFIX}cm-${String(i).padStart(5, '0')}`;

/** A page as the reference computes it: every key of [key, end) at the revision, no limit, cut here. */
function expectedPage(d: Driver, r: RangeRequest): { keys: string[]; more: boolean; count: number } {
  const all = d.store.range({ ...r, limit: 0 }).kvs.map((kv) => text(kv.key));
  const limit = r.limit ?? 0;
  return { keys: limit > 0 ? all.slice(0, limit) : all, more: limit > 0 && all.length > limit, count: all.length };
}

function page(res: RangeResponse): { keys: string[]; more: boolean; count: number } {
  return { keys: res.kvs.map((kv) => text(kv.key)), more: res.more, count: res.count };
}

/** Walks [PREFIX, prefixEnd) at `revision` page by page the way kube-apiserver does, checking every page. */
function walk(d: Driver, revision: number, limit: number, from = PREFIX): number {
  let key = from;
  let pages = 0;
  for (;;) {
    const r: RangeRequest = { key: bytes(key), rangeEnd: prefixEnd(PREFIX), limit, revision };
    const got = page(d.store.range(r));
    assert.deepEqual(got, expectedPage(d, r), `page from ${key} at revision ${revision}, limit ${limit}`);
    pages += 1;
    if (!got.more) return pages;
    key = `${got.keys[got.keys.length - 1]}\0`;
  }
}

describe('paginated range counts', () => {
  it('every page of walks at pinned revisions matches a full read, through deletes, re-creates and later writes', () => {
    const d = new Driver();
    const next = seededRandom(15);
    for (let i = 0; i < 3000; i++) d.put(name(i), 'v0');
    const revisions: number[] = [d.store.revision];
    for (let round = 0; round < 4; round++) {
      for (let k = 0; k < 400; k++) {
        const i = Math.floor(next() * 3600);
        if (next() < 0.4) d.del(name(i));
        else d.put(name(i), `v${round}`);
      }
      d.put('/registry/leases/other', String(round)); // writes outside the walked range move the revision too
      revisions.push(d.store.revision);
    }
    for (const rev of revisions) {
      for (const limit of [1, 100, 500]) {
        if (limit === 1 && rev !== revisions[0]) continue; // 3000 one-key pages once is enough
        const pages = walk(d, rev, limit);
        assert.ok(pages > 1, 'the walk has several pages');
      }
    }
    // Pages that start anywhere (a client that resumes elsewhere), before and after the sampled start.
    for (let t = 0; t < 200; t++) {
      const rev = revisions[Math.floor(next() * revisions.length)]!;
      const start = next() < 0.1 ? PREFIX : `${name(Math.floor(next() * 3700))}${next() < 0.5 ? '\0' : ''}`;
      const r: RangeRequest = { key: bytes(start), rangeEnd: prefixEnd(PREFIX), limit: 1 + Math.floor(next() * 300), revision: rev };
      assert.deepEqual(page(d.store.range(r)), expectedPage(d, r), `page from ${start} at ${rev}`);
    }
  });

  it('ranges open at the top and inverted ranges are counted right after the range was sampled', () => {
    const d = new Driver();
    for (let i = 0; i < 2000; i++) d.put(name(i), 'x');
    const rev = d.store.revision;
    const open: RangeRequest = { key: bytes(PREFIX), rangeEnd: FROM_KEY, limit: 100, revision: rev };
    assert.deepEqual(page(d.store.range(open)), expectedPage(d, open));
    const later: RangeRequest = { ...open, key: bytes(name(1500)) };
    assert.deepEqual(page(d.store.range(later)), { ...expectedPage(d, later), count: 500 });
    walk(d, rev, 100);
    const inverted: RangeRequest = { key: bytes(name(1999)), rangeEnd: bytes(name(5)), limit: 10, revision: rev };
    assert.deepEqual(page(d.store.range(inverted)), { keys: [], more: false, count: 0 });
    const beyond: RangeRequest = { key: bytes(`${PREFIX}zzz`), rangeEnd: prefixEnd(PREFIX), limit: 10, revision: rev };
    assert.deepEqual(page(d.store.range(beyond)), { keys: [], more: false, count: 0 });
  });

  it('a compaction and a restore drop the samples (a restored store reuses revision numbers for other keys)', () => {
    const d = new Driver();
    for (let i = 0; i < 2000; i++) d.put(name(i), 'x');
    const rev = d.store.revision;
    walk(d, rev, 100);
    for (let i = 0; i < 500; i++) d.del(name(i));
    d.compact(rev);
    walk(d, rev, 100);
    walk(d, d.store.revision, 100);

    // Another history of the same length: every other key only, then padding writes elsewhere.
    const other = new Driver();
    for (let i = 0; i < 2000; i += 2) other.put(name(i), 'y');
    while (other.store.revision < d.store.revision) other.put('/elsewhere', 'pad');
    assert.equal(other.store.revision, d.store.revision);
    const cur = d.store.revision;
    walk(d, cur, 100); // samples for (prefix, cur) on d
    d.store.restoreSnapshot(other.store.snapshot());
    const r: RangeRequest = { key: bytes(name(1000)), rangeEnd: prefixEnd(PREFIX), limit: 100, revision: cur };
    assert.deepEqual(page(d.store.range(r)), { ...expectedPage(d, r), count: 500 });
    walk(d, cur, 100);
  });
});

describe('readRange with samples', () => {
  const index = new KeyIndex();
  for (let i = 0; i < 3 * MIN_SAMPLED_KEYS; i++) index.append(name(i), i + 2, i + 2, 1, 0n, 'v');
  const revision = 3 * MIN_SAMPLED_KEYS + 1;
  const req = (start: string, limit: number): RangeRequest => ({ key: bytes(start), rangeEnd: prefixEnd(PREFIX), limit });

  it('samples a large walked range once, every STRIDE-th live key', () => {
    const counts = new RangeCounts();
    const first = readRange(index, req(PREFIX, 100), revision, counts);
    assert.equal(first.count, 3 * MIN_SAMPLED_KEYS);
    assert.equal(counts.size, 1);
    const s = counts.find(keyRange(bytes(name(700)), prefixEnd(PREFIX)), revision);
    assert.ok(s, 'a later page of the same range and revision finds the samples');
    assert.equal(s.keys.length, Math.ceil((3 * MIN_SAMPLED_KEYS) / STRIDE));
    assert.equal(s.keys[1], name(STRIDE));
    assert.equal(counts.find(keyRange(bytes(name(700)), prefixEnd(PREFIX)), revision - 1), undefined, 'another revision does not');
    // A later page counts from the samples: same answer as a full scan.
    const later = readRange(index, req(`${name(2500)}\0`, 100), revision, counts);
    assert.deepEqual([later.count, later.more, later.kvs.length], [3 * MIN_SAMPLED_KEYS - 2501, true, 100]);
    assert.deepEqual(later, readRange(index, req(`${name(2500)}\0`, 100), revision));
  });

  it('leaves small ranges and last pages unsampled', () => {
    const counts = new RangeCounts();
    readRange(index, { key: bytes(name(0)), rangeEnd: bytes(name(MIN_SAMPLED_KEYS - 1)), limit: 10 }, revision, counts);
    readRange(index, req(PREFIX, 5 * MIN_SAMPLED_KEYS), revision, counts);
    assert.equal(counts.size, 0);
  });

  it('keeps at most its capacity, least recently used out first', () => {
    const counts = new RangeCounts(2);
    for (const rev of [revision, revision - 1, revision - 2]) readRange(index, req(PREFIX, 100), rev, counts);
    assert.equal(counts.size, 2);
    assert.equal(counts.find(keyRange(bytes(PREFIX), prefixEnd(PREFIX)), revision), undefined);
    assert.ok(counts.find(keyRange(bytes(PREFIX), prefixEnd(PREFIX)), revision - 2));
  });
});
