import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, it } from 'node:test';
import { MvccStore, WatchHub } from '../../../node/mvcc/index.js';
import type { WatchEvent } from '../../../node/mvcc/index.js';
import { Driver, FROM_KEY, bytes, text } from './helpers.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A store with a bit of everything: leases, history, tombstones, a compaction, binary keys. */
function busyStore(): Driver {
  const d = new Driver();
  d.grant(2 ** 53 - 1, 120);
  d.grant(17, 5);
  d.apply({ leaseCheckpoint: { checkpoints: [{ id: 17n, remainingTtl: 3 }] } });
  for (let i = 0; i < 40; i++) d.put(`key/${i % 7}`, `value-${i}`, i % 5 === 0 ? { lease: 17n } : {});
  d.apply({ put: { key: new Uint8Array([0, 0xff, 0x80]), value: new Uint8Array([0xff, 0, 1]), lease: 2n ** 53n - 1n } });
  d.del('key/3');
  d.txn({
    success: [
      { requestPut: { key: bytes('t/a'), value: bytes('1') } },
      { requestDeleteRange: { key: bytes('key/5'), rangeEnd: bytes('key/7') } },
      { requestPut: { key: bytes('t/b'), value: bytes('') } },
    ],
  });
  d.compact(20);
  d.put('key/3', 'reborn');
  d.del('key/0');
  return d;
}

function events(store: MvccStore, from: number): string[] {
  const out: string[] = [];
  for (let rev = from; rev <= store.revision; rev++) {
    for (const e of store.eventsAt(rev, null, true)) out.push(describeEvent(e));
  }
  return out;
}

const describeEvent = (e: WatchEvent) =>
  `${e.type} ${[...e.kv.key].join('.')}=${text(e.kv.value)}@${e.kv.modRevision}/${e.kv.version}` +
  (e.prevKv ? `<${text(e.prevKv.value)}` : '');

describe('snapshot and restore', () => {
  it('round-trips to byte-identical snapshots and equal hashes', () => {
    const original = busyStore().store;
    const snapshot = original.snapshot();
    const restored = MvccStore.restore(snapshot);
    assert.equal(sha256(restored.snapshot()), sha256(snapshot));
    assert.deepEqual(restored.hash(), original.hash());
    assert.deepEqual(restored.hash(25), original.hash(25));
    assert.equal(restored.revision, original.revision);
    assert.equal(restored.compactRevision, 20);
    assert.equal(restored.appliedIndex, original.appliedIndex);
    assert.deepEqual(restored.leaseList(), original.leaseList());
    assert.deepEqual(restored.leaseTimeToLive(17n, true), original.leaseTimeToLive(17n, true));
    assert.equal(restored.sizeBytes, original.sizeBytes);
  });

  it('serves every retained revision and the same watch history after restore', () => {
    const original = busyStore().store;
    const restored = MvccStore.restore(original.snapshot());
    for (let rev = original.compactRevision; rev <= original.revision; rev++) {
      const all = { key: FROM_KEY, rangeEnd: FROM_KEY, revision: rev };
      assert.deepEqual(restored.range(all), original.range(all), `revision ${rev}`);
    }
    assert.deepEqual(events(restored, 20), events(original, 20));
    assert.ok(events(original, 20).length > 10);
  });

  it('keeps behaving identically after restore', () => {
    const a = busyStore();
    const b = new Driver(MvccStore.restore(a.store.snapshot()));
    b.index = a.index;
    for (const d of [a, b]) {
      d.revoke(17);
      d.put('key/1', 'later');
      d.compact(d.store.revision - 1);
      d.grant(99);
    }
    assert.deepEqual(b.store.hash(), a.store.hash());
    assert.equal(sha256(b.store.snapshot()), sha256(a.store.snapshot()));
  });

  it('skips entries already covered by the snapshot', () => {
    const a = busyStore();
    const restored = MvccStore.restore(a.store.snapshot());
    assert.equal(restored.apply(a.index, { put: { key: bytes('x'), value: bytes('y') } }), undefined);
    assert.notEqual(restored.apply(a.index + 1, { put: { key: bytes('x'), value: bytes('y') } }), undefined);
  });

  it('lets a watcher on a restored store replay history', () => {
    const restored = MvccStore.restore(busyStore().store.snapshot());
    const tasks: (() => void)[] = [];
    const hub = new WatchHub(restored, { schedule: (t) => tasks.push(t) });
    const seen: string[] = [];
    hub.watch({ key: bytes('t/'), rangeEnd: bytes('t0'), startRevision: 20 }, (b) => {
      seen.push(...b.events.map(describeEvent));
    });
    while (tasks.length > 0) tasks.shift()!();
    // Keys print as byte lists: 116.47.97 is "t/a", 116.47.98 is "t/b".
    assert.deepEqual(seen.map((s) => s.split('@')[0]), ['PUT 116.47.97=1', 'PUT 116.47.98=']);
  });

  it('restores in place, and watchers catch up on what the snapshot added', () => {
    const leader = new Driver();
    const follower = new Driver();
    for (const d of [leader, follower]) d.put('k', 'both');
    const tasks: (() => void)[] = [];
    const hub = new WatchHub(follower.store, { schedule: (t) => tasks.push(t) });
    const seen: string[] = [];
    hub.watch({ key: bytes('k'), prevKv: true }, (b) => {
      seen.push(...b.events.map(describeEvent));
    });
    leader.put('k', 'missed-1');
    leader.put('k', 'missed-2');
    follower.store.restoreSnapshot(leader.store.snapshot());
    while (tasks.length > 0) tasks.shift()!();
    assert.deepEqual(seen, ['PUT 107=missed-1@3/2<both', 'PUT 107=missed-2@4/3<missed-1']);
    assert.equal(follower.store.appliedIndex, leader.index);
    follower.store.apply(leader.index + 1, { put: { key: bytes('k'), value: bytes('live') } });
    assert.equal(seen.at(-1), 'PUT 107=live@5/4<missed-2');
  });

  it('leaves the store untouched when an in-place restore fails', () => {
    const d = busyStore();
    const before = d.store.hash();
    const bad = d.store.snapshot().slice(0, -1);
    assert.throws(() => d.store.restoreSnapshot(bad));
    assert.deepEqual(d.store.hash(), before);
  });

  it('refuses corrupted or truncated input', () => {
    const snapshot = busyStore().store.snapshot();
    const corrupted = snapshot.slice();
    corrupted[snapshot.length >> 1]! ^= 0x01;
    assert.throws(() => MvccStore.restore(corrupted), /checksum/);
    assert.throws(() => MvccStore.restore(snapshot.subarray(0, 3)), /truncated/);
    assert.throws(() => MvccStore.restore(snapshot.subarray(0, snapshot.length - 10)), /checksum/);
  });

  it('round-trips an empty store', () => {
    const empty = new MvccStore();
    const restored = MvccStore.restore(empty.snapshot());
    assert.equal(restored.revision, 1);
    assert.deepEqual(restored.hash(), empty.hash());
    assert.equal(sha256(restored.snapshot()), sha256(empty.snapshot()));
  });

  it('finding 8: int64 lease IDs snapshot in format 2 and restore exactly; other stores keep format 1', () => {
    const legacy = busyStore();
    assert.equal(legacy.store.snapshot()[4], 1, 'no wide ID granted: format 1, which older releases read');
    const d = busyStore();
    d.grant(-1n, 10);
    d.grant(2n ** 63n - 1n, 10);
    d.put('neg', 'v', { lease: -1n });
    d.put('big', 'v', { lease: 2n ** 63n - 1n });
    const snapshot = d.store.snapshot();
    assert.equal(snapshot[4], 2);
    const restored = MvccStore.restore(snapshot);
    assert.equal(restored.range({ key: bytes('neg') }).kvs[0]!.lease, -1n);
    assert.equal(restored.range({ key: bytes('big') }).kvs[0]!.lease, 2n ** 63n - 1n);
    assert.deepEqual(restored.leaseTimeToLive(-1n, true)!.keys.map(text), ['neg']);
    assert.equal(sha256(restored.snapshot()), sha256(snapshot));
  });

  it('finding 8: reads a format 1 snapshot as older releases wrote it', () => {
    // "KVMV", format 1, applied 3, revision 2, compact 0; lease 5 (TTL 10, index 3,
    // revision 1, remaining 0); key "k": one record (mod 2, create 2, version 1,
    // lease 5, "v"); change log from revision 2: one revision changing key 0.
    const body = Buffer.from([...Buffer.from('KVMV'), 1, 3, 2, 0, 1, 5, 20, 3, 1, 0, 1, 1, 0x6b, 1, 2, 2, 1, 5, 1, 0x76, 2, 1, 1, 0]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    const store = MvccStore.restore(Buffer.concat([body, crc]));
    const kv = store.range({ key: bytes('k') }).kvs[0]!;
    assert.deepEqual([text(kv.value), kv.lease, kv.modRevision], ['v', 5n, 2]);
    assert.deepEqual(store.leaseTimeToLive(5n, true)!.keys.map(text), ['k']);
  });
});
