import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MvccStore } from '../../../node/mvcc/index.js';
import { Driver, FROM_KEY, FUTURE, LEASE_NOT_FOUND, assertMvccError, bytes, text } from './helpers.js';

describe('revisions and versions', () => {
  it('starts at revision 1 and the first write makes revision 2', () => {
    const d = new Driver();
    assert.equal(d.store.revision, 1);
    assert.equal(d.store.range({ key: bytes('a') }).header.revision, 1);
    assert.equal(d.put('a', '1').header.revision, 2);
    assert.equal(d.store.revision, 2);
  });

  it('tracks create/mod revision and version through update, delete and re-create', () => {
    const d = new Driver();
    d.put('k', 'v1'); // rev 2
    d.put('other', 'x'); // rev 3
    d.put('k', 'v2'); // rev 4
    let kv = d.get('k')!;
    assert.deepEqual([kv.createRevision, kv.modRevision, kv.version, text(kv.value)], [2, 4, 2, 'v2']);

    const del = d.del('k'); // rev 5
    assert.equal(del.deleted, 1);
    assert.equal(del.header.revision, 5);
    assert.equal(d.get('k'), undefined);

    d.put('k', 'v3'); // rev 6: a new generation
    kv = d.get('k')!;
    assert.deepEqual([kv.createRevision, kv.modRevision, kv.version, text(kv.value)], [6, 6, 1, 'v3']);
  });

  it('bumps revision and version for a put of an unchanged value', () => {
    const d = new Driver();
    d.put('k', 'same');
    d.put('k', 'same');
    const kv = d.get('k')!;
    assert.equal(d.store.revision, 3);
    assert.equal(kv.version, 2);
    assert.equal(kv.modRevision, 3);
  });

  it('leaves the revision alone for a delete that finds nothing', () => {
    const d = new Driver();
    d.put('a', '1');
    const response = d.del('zzz');
    assert.equal(response.deleted, 0);
    assert.equal(response.header.revision, 2);
    assert.equal(d.store.revision, 2);
  });

  it('serves reads at old revisions from history', () => {
    const d = new Driver();
    d.put('a', '1'); // 2
    d.put('a', '2'); // 3
    d.del('a'); // 4
    d.put('b', '1'); // 5
    assert.deepEqual(d.dump(1), []);
    assert.deepEqual(d.dump(2), ['a=1']);
    assert.deepEqual(d.dump(3), ['a=2']);
    assert.deepEqual(d.dump(4), []);
    assert.deepEqual(d.dump(5), ['b=1']);
    // The header always reports the current revision, as etcd does.
    assert.equal(d.store.range({ key: bytes('a'), revision: 3 }).header.revision, 5);
    assertMvccError(() => d.store.range({ key: bytes('a'), revision: 6 }), 'OUT_OF_RANGE', FUTURE);
  });

  it('copies keys and values so callers cannot change stored data', () => {
    const d = new Driver();
    const value = bytes('abc');
    d.apply({ put: { key: bytes('k'), value } });
    value[0] = 0x7a;
    assert.equal(text(d.get('k')!.value), 'abc');
  });

  it('keeps arbitrary bytes, including 0x00 and 0xff, in byte order', () => {
    const d = new Driver();
    const keys = [new Uint8Array([0xff]), new Uint8Array([0x00, 0x01]), new Uint8Array([0x7f]), new Uint8Array([0x80])];
    for (const key of keys) d.apply({ put: { key, value: key } });
    const got = d.store.range({ key: FROM_KEY, rangeEnd: FROM_KEY }).kvs.map((kv) => [...kv.key]);
    assert.deepEqual(got, [[0x00, 0x01], [0x7f], [0x80], [0xff]]);
    assert.deepEqual([...d.store.range({ key: new Uint8Array([0xff]) }).kvs[0]!.value], [0xff]);
  });

  it('rejects an empty key', () => {
    const d = new Driver();
    assertMvccError(() => d.put('', 'v'), 'INVALID_ARGUMENT', 'etcdserver: key is not provided');
    assertMvccError(() => d.store.range({ key: new Uint8Array(0) }), 'INVALID_ARGUMENT', 'etcdserver: key is not provided');
    assertMvccError(() => d.del(''), 'INVALID_ARGUMENT', 'etcdserver: key is not provided');
  });
});

describe('put options', () => {
  it('returns prevKv only when asked and only if the key existed', () => {
    const d = new Driver();
    assert.equal(d.put('k', 'a', { prevKv: true }).prevKv, undefined);
    assert.equal(d.put('k', 'b').prevKv, undefined);
    const prev = d.put('k', 'c', { prevKv: true }).prevKv!;
    assert.equal(text(prev.value), 'b');
    assert.equal(prev.version, 2);
  });

  it('ignoreValue keeps the value and ignoreLease keeps the lease', () => {
    const d = new Driver();
    d.grant(7);
    d.put('k', 'keep', { lease: 7n });
    d.apply({ put: { key: bytes('k'), ignoreValue: true, lease: 0n } });
    let kv = d.get('k')!;
    assert.equal(text(kv.value), 'keep');
    assert.equal(kv.lease, 0n);
    assert.equal(kv.version, 2);

    d.put('k', 'leased', { lease: 7n });
    d.put('k', 'new', { ignoreLease: true });
    kv = d.get('k')!;
    assert.equal(text(kv.value), 'new');
    assert.equal(kv.lease, 7n);
  });

  it('gives etcd errors for ignoreValue/ignoreLease misuse', () => {
    const d = new Driver();
    assertMvccError(() => d.put('missing', '', { ignoreValue: true }), 'INVALID_ARGUMENT', 'etcdserver: key not found');
    assertMvccError(() => d.put('missing', '', { ignoreLease: true }), 'INVALID_ARGUMENT', 'etcdserver: key not found');
    d.put('k', 'v');
    assertMvccError(() => d.put('k', 'v2', { ignoreValue: true }), 'INVALID_ARGUMENT', 'etcdserver: value is provided');
    assertMvccError(() => d.put('k', 'v2', { ignoreLease: true, lease: 5n }), 'INVALID_ARGUMENT', 'etcdserver: lease is provided');
    assert.equal(d.store.revision, 2, 'failed puts change nothing');
  });

  it('rejects an unknown lease', () => {
    const d = new Driver();
    assertMvccError(() => d.put('k', 'v', { lease: 42n }), 'NOT_FOUND', LEASE_NOT_FOUND);
    assert.equal(d.get('k'), undefined);
  });
});

describe('delete range', () => {
  it('deletes a range, counts, and returns prevKvs in key order', () => {
    const d = new Driver();
    for (const k of ['a', 'b', 'c', 'd']) d.put(k, k.toUpperCase());
    const response = d.del('b', { rangeEnd: bytes('d'), prevKv: true });
    assert.equal(response.deleted, 2);
    assert.deepEqual(response.prevKvs.map((kv) => `${text(kv.key)}=${text(kv.value)}`), ['b=B', 'c=C']);
    assert.deepEqual(d.dump(), ['a=A', 'd=D']);
    assert.equal(d.store.revision, 6, 'one revision for the whole range');
  });

  it('deletes everything from a key with rangeEnd "\\0"', () => {
    const d = new Driver();
    for (const k of ['a', 'b', 'c']) d.put(k, '1');
    assert.equal(d.del('b', { rangeEnd: FROM_KEY }).deleted, 2);
    assert.deepEqual(d.dump(), ['a=1']);
  });

  it('omits prevKvs unless asked', () => {
    const d = new Driver();
    d.put('a', '1');
    assert.deepEqual(d.del('a').prevKvs, []);
  });
});

describe('idempotent apply', () => {
  it('skips entries at or below the applied index', () => {
    const store = new MvccStore();
    store.apply(5, { put: { key: bytes('a'), value: bytes('1') } });
    assert.equal(store.appliedIndex, 5);
    assert.equal(store.apply(5, { put: { key: bytes('a'), value: bytes('2') } }), undefined);
    assert.equal(store.apply(3, { put: { key: bytes('b'), value: bytes('2') } }), undefined);
    assert.equal(store.revision, 2);
    assert.equal(text(store.range({ key: bytes('a') }).kvs[0]!.value), '1');
  });

  it('moves the applied index past a failed request, so a replay skips it too', () => {
    const store = new MvccStore();
    assert.throws(() => store.apply(1, { put: { key: bytes('a'), value: bytes('1'), lease: 9n } }));
    assert.equal(store.appliedIndex, 1);
    assert.equal(store.apply(1, { put: { key: bytes('a'), value: bytes('1'), lease: 9n } }), undefined);
  });

  it('markApplied advances over entries without MVCC requests', () => {
    const store = new MvccStore();
    store.markApplied(10);
    store.markApplied(4);
    assert.equal(store.appliedIndex, 10);
    assert.equal(store.apply(10, { put: { key: bytes('a'), value: bytes('1') } }), undefined);
  });
});

describe('size accounting', () => {
  it('grows with data and shrinks when compaction drops history', () => {
    const d = new Driver();
    const empty = d.store.sizeBytes;
    d.put('k', 'x'.repeat(1000));
    const one = d.store.sizeBytes;
    assert.ok(one >= empty + 1000);
    d.put('k', 'y'.repeat(1000));
    assert.ok(d.store.sizeBytes >= one + 1000);
    d.compact(d.store.revision);
    assert.ok(d.store.sizeBytes < one + 1000);
    assert.ok(d.store.sizeBytes >= empty + 1000);
  });

  it('counts live keys', () => {
    const d = new Driver();
    d.put('a', '1');
    d.put('b', '1');
    d.del('a');
    assert.equal(d.store.keyCount, 1);
  });
});
